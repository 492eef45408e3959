package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/fuzz"
)

// ReproReport is what `plugincheck fuzz --repro FILE --json` prints.
type ReproReport struct {
	File       string              `json:"file"`
	Target     loader.FuzzTarget   `json:"target"`
	Protocol   uint16              `json:"protocol_version"`
	Reproduced bool                `json:"reproduced"`
	Failure    *loader.FuzzFailure `json:"failure,omitempty"`
}

type fuzzFlags struct {
	duration                    time.Duration
	corpus, crashers, repro     string
	target                      string
	json                        bool
	jobs, maxLen, minimizeTries int
	timeout                     time.Duration
	memLimitMiB, heapLimitMiB   int
	statusEvery                 time.Duration
}

func fuzzCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	var ff fuzzFlags
	def := loader.FuzzConfig{}.WithDefaults() // the workers' defaults are the loader's
	fs.DurationVar(&ff.duration, "duration", time.Minute, "how long to fuzz")
	fs.StringVar(&ff.corpus, "corpus", "", "directory of seed inputs; new interesting inputs are written there")
	fs.StringVar(&ff.crashers, "crashers", "crashers", "directory for minimized reproducers (and their .json sidecars)")
	fs.StringVar(&ff.repro, "repro", "", "replay this reproducer instead of fuzzing: exit 1 while it still fails")
	fs.StringVar(&ff.target, "target", "", "function to feed: unpack, verify_sign, cred_unpack, sbcast_unpack (default: all the plugin has)")
	fs.BoolVar(&ff.json, "json", false, "print the result as JSON")
	fs.IntVar(&ff.jobs, "jobs", runtime.NumCPU(), "workers fuzzing at once")
	fs.IntVar(&ff.maxLen, "max-len", def.MaxLen, "longest input in bytes")
	fs.IntVar(&ff.minimizeTries, "minimize-tries", 1000, "most tries (each in a fresh worker) to minimize one failure")
	fs.DurationVar(&ff.timeout, "timeout", def.Timeout, "an execution running longer is a hang")
	fs.IntVar(&ff.memLimitMiB, "mem-limit", 4096, "address-space bound of each worker, MiB: an allocation beyond it is an oom finding")
	fs.IntVar(&ff.heapLimitMiB, "heap-limit", int(def.HeapLimit>>20), "C heap growth bound of each worker, MiB: beyond it, a leak finding")
	fs.DurationVar(&ff.statusEvery, "status-every", 0, "interval of the status line (default: 1s on a terminal, 10s otherwise)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(paths) != 1:
		return &usageError{"fuzz takes one plugin (usage: plugincheck fuzz PLUGIN [--duration D] [--corpus DIR] [--crashers DIR] [--repro FILE] [--json])"}
	case ff.duration <= 0:
		return &usageError{fmt.Sprintf("--duration must be positive, not %v", ff.duration)}
	case ff.jobs < 1 || ff.jobs > 64:
		return &usageError{fmt.Sprintf("--jobs must be 1 to 64, not %d", ff.jobs)}
	case ff.maxLen < 16 || ff.maxLen > 16<<20:
		return &usageError{fmt.Sprintf("--max-len must be 16 bytes to 16 MiB, not %d", ff.maxLen)}
	case ff.timeout < 10*time.Millisecond:
		return &usageError{fmt.Sprintf("--timeout must be at least 10ms, not %v", ff.timeout)}
	case ff.memLimitMiB < 512:
		return &usageError{fmt.Sprintf("--mem-limit must be at least 512 MiB (a worker needs about 2 GiB of address space), not %d", ff.memLimitMiB)}
	case ff.heapLimitMiB < 1:
		return &usageError{fmt.Sprintf("--heap-limit must be at least 1 MiB, not %d", ff.heapLimitMiB)}
	case ff.minimizeTries < 0:
		return &usageError{"--minimize-tries must not be negative"}
	}
	var repro []byte
	var record *fuzz.Record
	if ff.repro != "" {
		if repro, err = os.ReadFile(ff.repro); err != nil {
			return &usageError{"--repro: " + err.Error()}
		}
		if data, err := os.ReadFile(ff.repro + ".json"); err == nil {
			record = &fuzz.Record{}
			if err := json.Unmarshal(data, record); err != nil {
				return &usageError{fmt.Sprintf("--repro: %s.json is not a reproducer record: %v", ff.repro, err)}
			}
		}
	}
	if ff.corpus != "" {
		if st, err := os.Stat(ff.corpus); err == nil && !st.IsDir() {
			return &usageError{fmt.Sprintf("--corpus %s is not a directory", ff.corpus)}
		}
	}
	if repro == nil {
		// Where findings go can take them: checked before the campaign.
		for _, d := range [][2]string{{"crashers", ff.crashers}, {"corpus", ff.corpus}} {
			if err := checkDir(d[0], d[1]); err != nil {
				return err
			}
		}
	}
	s, cfgSuite, err := openSession(paths[0], &hf, &sf, uint64(ff.memLimitMiB)<<20)
	if err != nil {
		return err
	}
	defer s.Close()
	targets := loader.FuzzTargets(s.Target.Profile)
	if len(targets) == 0 {
		return &loader.InputError{Path: s.Target.Plugin.Path, Msg: fmt.Sprintf("generation %s has no function plugincheck fuzz can feed", s.Target.Profile.Name)}
	}
	if ff.target != "" {
		t, err := loader.ParseFuzzTarget(s.Target.Profile, ff.target)
		if err != nil {
			return &usageError{"--target: " + err.Error()}
		}
		targets = []loader.FuzzTarget{t}
	}
	cfg := loader.FuzzConfig{AuthInfo: s.AuthInfo, KeyFile: s.KeyFile, MaxLen: ff.maxLen,
		HeapLimit: uint64(ff.heapLimitMiB) << 20, Timeout: ff.timeout}
	if repro != nil {
		return fuzzRepro(s, cfg, targets, ff, repro, record, stdout)
	}
	c := fuzz.New(fuzz.Options{Sandbox: s.Sandbox, Worker: cfg, Targets: targets, Duration: ff.duration, Jobs: ff.jobs,
		Seed: uint64(cfgSuite.Seed), MinimizeTries: ff.minimizeTries, Crashers: ff.crashers, Corpus: ff.corpus,
		CredCorpus: cfgSuite.CredCorpus, Found: func(r fuzz.Record) { fmt.Fprintln(stderr, "found: "+describeFound(r)) }})
	stop, statusDone := make(chan struct{}), make(chan struct{})
	go fuzzStatus(c, s.Target.Plugin.Type, ff.statusEvery, stderr, stop, statusDone)
	rep, err := c.Run(cleanup.Context())
	close(stop)
	<-statusDone
	if sig, _ := cleanup.Interrupted(); sig != 0 && rep != nil {
		// What was found before the interrupt stands; the campaign's end
		// is not a result.
		rep.Interrupted = true
	} else if err != nil {
		return err
	}
	if ff.json {
		data, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(data))
	} else {
		writeFuzzReport(stdout, rep)
	}
	if lost := c.Lost(); lost != nil {
		return &usageError{"a finding was lost: " + pathless(lost)}
	}
	if sig, _ := cleanup.Interrupted(); sig != 0 {
		return &exitStatus{code: cleanup.ExitCode(sig), err: fmt.Errorf("interrupted by %s after %.1fs: %d execs, %d unique failure(s) saved in %s",
			cleanup.Name(sig), rep.DurationS, rep.Execs, len(rep.Unique), ff.crashers)}
	}
	if len(rep.Unique) > 0 {
		return &exitStatus{code: 1, err: fmt.Errorf("%d failure(s) found; first: %s, reproducer %s",
			len(rep.Unique), rep.Unique[0].FuzzFailure.String(), rep.Unique[0].File)}
	}
	return nil
}

// fuzzRepro replays a reproducer in a fresh worker.
func fuzzRepro(s *loader.Session, cfg loader.FuzzConfig, targets []loader.FuzzTarget, ff fuzzFlags, data []byte, rec *fuzz.Record, stdout io.Writer) error {
	in := loader.FuzzInput{Target: targets[0], Data: data}
	if s.Target.Series != nil {
		in.Protocol = s.Target.Series.Protocol
	}
	kind := loader.FailCrash
	if rec != nil {
		if rec.Target != "" {
			t, err := loader.ParseFuzzTarget(s.Target.Profile, string(rec.Target))
			if err != nil {
				return &usageError{fmt.Sprintf("--repro: %s.json: %v", ff.repro, err)}
			}
			if ff.target == "" {
				in.Target = t
			}
		}
		if rec.Protocol != 0 {
			in.Protocol = rec.Protocol
		}
		kind = rec.Kind
	}
	fail, err := s.Sandbox.Reproduce(cleanup.Context(), cfg, in, kind)
	if err != nil {
		return err
	}
	if ff.json {
		data, _ := json.MarshalIndent(ReproReport{File: ff.repro, Target: in.Target, Protocol: in.Protocol, Reproduced: fail != nil, Failure: fail}, "", "  ")
		fmt.Fprintln(stdout, string(data))
	}
	if fail == nil {
		if !ff.json {
			fmt.Fprintf(stdout, "%s: no failure: %s returned normally (%d bytes, protocol %#x)\n", ff.repro,
				s.Target.Profile.Func(in.Target.Op()).Symbol, len(data), in.Protocol)
		}
		return nil
	}
	msg := fmt.Sprintf("%s still fails: %s", ff.repro, fail)
	if rec != nil && !rec.FuzzFailure.Same(fail) {
		msg += fmt.Sprintf(" (recorded: %s)", rec.FuzzFailure.String())
	}
	return &exitStatus{code: 1, err: errors.New(msg)}
}

// fuzzStatus prints the live line: rewritten in place on a terminal, a
// plain line every statusEvery otherwise.
func fuzzStatus(c *fuzz.Campaign, pluginType string, every time.Duration, w io.Writer, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	if every <= 0 {
		every = 10 * time.Second
		if tty {
			every = time.Second
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	line := func() string {
		p := c.Progress()
		return fmt.Sprintf("fuzz %s: %5.0fs  execs %d (%.0f/s)  corpus %d  crashes %d (%d unique)  workers %d",
			pluginType, p.Elapsed.Seconds(), p.Execs, float64(p.Execs)/max(p.Elapsed.Seconds(), 1e-9), p.Corpus, p.Failures, p.Unique, p.Workers)
	}
	for {
		select {
		case <-stop:
			if tty {
				fmt.Fprintf(w, "\r\033[K%s\n", line())
			} else {
				fmt.Fprintln(w, line())
			}
			return
		case <-tick.C:
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line())
			} else {
				fmt.Fprintln(w, line())
			}
		}
	}
}

// describeFound is one unique failure as the report lists it.
func describeFound(u fuzz.Record) string {
	how := fmt.Sprintf("%d bytes", u.Size)
	if u.Size != u.OriginalSize {
		how += fmt.Sprintf(", minimized from %d in %d tries", u.OriginalSize, u.MinimizeTries)
	}
	if !u.Reproducible {
		how += ", did not reproduce alone in a fresh worker"
	}
	return fmt.Sprintf("%s after %.1fs: %s (%s)", u.FuzzFailure.String(), u.FoundAfterS, u.File, how)
}

func writeFuzzReport(w io.Writer, r *fuzz.Report) {
	fmt.Fprintf(w, "plugincheck fuzz %s (%s, generation %s): %s\n", r.Plugin, r.PluginType, r.Generation, strings.Join(r.Targets, ", "))
	fmt.Fprintf(w, "%d execs in %.1fs (%.0f/s, %d jobs), %d accepted, corpus %d, %d failure(s), %d worker(s) started, seed %d\n",
		r.Execs, r.DurationS, r.ExecsPerSec, r.Jobs, r.Accepted, r.Corpus, r.Failures, r.WorkersStarted, r.Seed)
	sort.SliceStable(r.Unique, func(i, j int) bool { return r.Unique[i].FoundAfterS < r.Unique[j].FoundAfterS })
	for _, u := range r.Unique {
		fmt.Fprintln(w, describeFound(u))
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted before the campaign's duration: the figures are of the part that ran")
	}
}
