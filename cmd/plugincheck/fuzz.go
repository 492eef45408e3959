package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// FuzzRecord is the sidecar (FILE.json) of a reproducer FILE: how it
// fails and how to call the function with it.
type FuzzRecord struct {
	loader.FuzzFailure
	Target        loader.FuzzTarget `json:"target"`
	Protocol      uint16            `json:"protocol_version"`
	Plugin        string            `json:"plugin"`
	PluginType    string            `json:"plugin_type"`
	Generation    string            `json:"generation"`
	Size          int               `json:"size"`
	OriginalSize  int               `json:"original_size"`
	MinimizeTries int               `json:"minimize_tries"`
	Reproducible  bool              `json:"reproducible"`
	// Original is the file holding the input as the campaign found it.
	Original     string  `json:"original,omitempty"`
	FoundAfterS  float64 `json:"found_after_seconds"`
	FoundAtExecs uint64  `json:"found_after_execs"`
	File         string  `json:"file"`
}

// FuzzReport is what `plugincheck fuzz --json` prints at the end.
type FuzzReport struct {
	SchemaVersion  int          `json:"schema_version"`
	Plugin         string       `json:"plugin"`
	PluginType     string       `json:"plugin_type"`
	Generation     string       `json:"generation"`
	Targets        []string     `json:"targets"`
	Seed           uint64       `json:"seed"`
	Jobs           int          `json:"jobs"`
	DurationS      float64      `json:"duration_seconds"`
	Execs          uint64       `json:"execs"`
	ExecsPerSec    float64      `json:"execs_per_sec"`
	Accepted       uint64       `json:"accepted"`
	Corpus         int          `json:"corpus"`
	Failures       int          `json:"failures"`
	Unique         []FuzzRecord `json:"unique_failures"`
	WorkersStarted int          `json:"workers_started"`
	Errors         []string     `json:"errors,omitempty"`
	// Interrupted: a signal ended the campaign before its duration.
	Interrupted bool `json:"interrupted,omitempty"`
}

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
	fs.DurationVar(&ff.duration, "duration", time.Minute, "how long to fuzz")
	fs.StringVar(&ff.corpus, "corpus", "", "directory of seed inputs; new interesting inputs are written there")
	fs.StringVar(&ff.crashers, "crashers", "crashers", "directory for minimized reproducers (and their .json sidecars)")
	fs.StringVar(&ff.repro, "repro", "", "replay this reproducer instead of fuzzing: exit 1 while it still fails")
	fs.StringVar(&ff.target, "target", "", "function to feed: unpack, verify_sign, cred_unpack, sbcast_unpack (default: all the plugin has)")
	fs.BoolVar(&ff.json, "json", false, "print the result as JSON")
	fs.IntVar(&ff.jobs, "jobs", runtime.NumCPU(), "workers fuzzing at once")
	fs.IntVar(&ff.maxLen, "max-len", 64<<10, "longest input in bytes")
	fs.IntVar(&ff.minimizeTries, "minimize-tries", 1000, "most tries (each in a fresh worker) to minimize one failure")
	fs.DurationVar(&ff.timeout, "timeout", 2*time.Second, "an execution running longer is a hang")
	fs.IntVar(&ff.memLimitMiB, "mem-limit", 4096, "address-space bound of each worker, MiB: an allocation beyond it is an oom finding")
	fs.IntVar(&ff.heapLimitMiB, "heap-limit", 256, "C heap growth bound of each worker, MiB: beyond it, a leak finding")
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
	var record *FuzzRecord
	if ff.repro != "" {
		if repro, err = os.ReadFile(ff.repro); err != nil {
			return &usageError{"--repro: " + err.Error()}
		}
		if data, err := os.ReadFile(ff.repro + ".json"); err == nil {
			record = &FuzzRecord{}
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
	s, err := openSession(paths[0], &hf, &sf, uint64(ff.memLimitMiB)<<20)
	if err != nil {
		return err
	}
	defer s.close()
	targets := loader.FuzzTargets(s.target.Profile)
	if len(targets) == 0 {
		return &loader.InputError{Path: s.target.Plugin.Path, Msg: fmt.Sprintf("generation %s has no function plugincheck fuzz can feed", s.target.Profile.Name)}
	}
	if ff.target != "" {
		t, err := loader.ParseFuzzTarget(s.target.Profile, ff.target)
		if err != nil {
			return &usageError{"--target: " + err.Error()}
		}
		targets = []loader.FuzzTarget{t}
	}
	cfg := loader.FuzzConfig{AuthInfo: s.authInfo, KeyFile: s.keyFile, MaxLen: ff.maxLen,
		HeapLimit: uint64(ff.heapLimitMiB) << 20, Timeout: ff.timeout}
	if repro != nil {
		return fuzzRepro(s, cfg, targets, ff, repro, record, stdout)
	}
	c := &campaign{s: s, cfg: cfg, targets: targets, ff: ff, seen: map[string]bool{}, bad: map[string]bool{},
		found: map[string]*FuzzRecord{}}
	c.seed = uint64(sf.cfg.Seed)
	if c.seed == 0 {
		c.seed = rand.Uint64()
	}
	rep, err := c.run(stderr)
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
		rep.write(stdout)
	}
	if c.lost != nil {
		return &usageError{"a finding was lost: " + pathless(c.lost)}
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
func fuzzRepro(s *session, cfg loader.FuzzConfig, targets []loader.FuzzTarget, ff fuzzFlags, data []byte, rec *FuzzRecord, stdout io.Writer) error {
	in := loader.FuzzInput{Target: targets[0], Data: data}
	if s.target.Series != nil {
		in.Protocol = s.target.Series.Protocol
	}
	kind := loader.FailCrash
	if rec != nil {
		if rec.Target != "" {
			t, err := loader.ParseFuzzTarget(s.target.Profile, string(rec.Target))
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
	fail, err := s.sandbox.Reproduce(cleanup.Context(), cfg, in, kind)
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
				s.target.Profile.Func(targetOp(in.Target)).Symbol, len(data), in.Protocol)
		}
		return nil
	}
	msg := fmt.Sprintf("%s still fails: %s", ff.repro, fail)
	if rec != nil && !rec.FuzzFailure.Same(fail) {
		msg += fmt.Sprintf(" (recorded: %s)", rec.FuzzFailure.String())
	}
	return &exitStatus{code: 1, err: errors.New(msg)}
}

func targetOp(t loader.FuzzTarget) profile.Op {
	switch t {
	case loader.FuzzVerifySign:
		return profile.OpVerifySign
	case loader.FuzzCredUnpack:
		return profile.OpCredUnpack
	case loader.FuzzSbcastUnpack:
		return profile.OpSbcastUnpack
	}
	return profile.OpUnpack
}

// campaign is one fuzzing run: jobs workers feeding batches of mutated
// inputs, a corpus they share, and the failures found.
type campaign struct {
	s       *session
	cfg     loader.FuzzConfig
	targets []loader.FuzzTarget
	ff      fuzzFlags
	seed    uint64
	start   time.Time

	mu     sync.Mutex
	corpus []loader.FuzzInput
	seen   map[string]bool // corpus entries by hash
	bad    map[string]bool // inputs that made a worker fail
	found  map[string]*FuzzRecord
	order  []string // keys of found, in order
	errs   []string
	lost   error // the first finding or corpus entry that could not be saved

	failures atomic.Int64
	workers  atomic.Int64
	accepted atomic.Uint64
	jobs     []*fuzzJob
}

type fuzzJob struct {
	execs atomic.Uint64                     // of finished batches
	live  atomic.Pointer[loader.FuzzWorker] // the worker running a batch
}

func inputKey(in loader.FuzzInput) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s/%d/", in.Target, in.Protocol)
	h.Write(in.Data)
	return hex.EncodeToString(h.Sum(nil))
}

// addCorpus adds inputs not seen before; it reports how many were new.
func (c *campaign) addCorpus(ins []loader.FuzzInput, save bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, in := range ins {
		k := inputKey(in)
		if c.seen[k] || c.bad[k] || len(in.Data) > c.cfg.MaxLen {
			continue
		}
		c.seen[k] = true
		c.corpus = append(c.corpus, in)
		n++
		if save && c.ff.corpus != "" {
			if err := os.WriteFile(filepath.Join(c.ff.corpus, k[:16]), in.Data, 0o644); err != nil && c.lost == nil {
				c.lost = err
			}
		}
	}
	return n
}

// snapshot is the corpus as it is now (entries are only ever appended or
// dropped by rebuilding the slice, so the returned slice stays valid).
func (c *campaign) snapshot() []loader.FuzzInput {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.corpus
}

// dropBad removes an input that made a worker fail from the corpus, so
// that a new worker does not fail on it again.
func (c *campaign) dropBad(in loader.FuzzInput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := inputKey(in)
	c.bad[k] = true
	if !c.seen[k] {
		return
	}
	kept := make([]loader.FuzzInput, 0, len(c.corpus))
	for _, x := range c.corpus {
		if inputKey(x) != k {
			kept = append(kept, x)
		}
	}
	c.corpus = kept
}

func (c *campaign) execs() uint64 {
	var n uint64
	for _, j := range c.jobs {
		n += j.execs.Load()
		if fw := j.live.Load(); fw != nil {
			n += fw.LiveExecs()
		}
	}
	return n
}

func (c *campaign) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

func (c *campaign) run(stderr io.Writer) (*FuzzReport, error) {
	ctx := cleanup.Context()
	if c.ff.corpus != "" {
		if err := os.MkdirAll(c.ff.corpus, 0o755); err != nil {
			return nil, &usageError{"--corpus: " + err.Error()}
		}
	}
	if err := os.MkdirAll(c.ff.crashers, 0o755); err != nil {
		return nil, &usageError{"--crashers: " + err.Error()}
	}
	// Every version the series accepts, and one below them all (which
	// unpack must refuse); never one above the host's own, which the
	// framework never passes.
	var protocols []uint16
	if sr := c.s.target.Series; sr != nil {
		protocols = append(sr.ProtocolVersions(), 0)
	} else {
		protocols = []uint16{0}
	}
	// Seeds: what the plugin itself makes, re-packed wrong field by field,
	// generic packed shapes, and the user's corpus.
	for _, t := range c.targets {
		valid, err := c.s.sandbox.FuzzSeeds(ctx, c.cfg, t)
		var setup *loader.SetupError
		switch {
		case errors.As(err, &setup):
			return nil, err // the plugin does not load: nothing can run
		case err != nil:
			// No valid input from the plugin (create or sign failed): fuzz
			// from generic shapes, and say so.
			c.errorf("no seed inputs from the plugin for %s: %v", t, oneLine(err))
			valid = nil
		}
		// The 23.11+ unpack functions have no plugin-made seeds; valid
		// credentials come from --cred-corpus (read, never written).
		if dir := c.s.cfg.CredCorpus; dir != "" && (t == loader.FuzzCredUnpack || t == loader.FuzzSbcastUnpack) {
			ins, err := readInputs(dir, t, protocols[0])
			if err != nil {
				return nil, &usageError{"--cred-corpus: " + err.Error()}
			}
			valid = append(valid, ins...)
		}
		c.addCorpus(valid, false)
		c.addCorpus(loader.StructuredSeeds(valid), false)
		if len(valid) == 0 {
			c.addCorpus(loader.GenericSeeds(t, protocols[0]), false)
		}
	}
	if c.ff.corpus != "" {
		ins, err := readInputs(c.ff.corpus, c.targets[0], protocols[0])
		if err != nil {
			return nil, &usageError{"--corpus: " + err.Error()}
		}
		c.addCorpus(ins, false)
	}

	c.start = time.Now()
	deadline := c.start.Add(c.ff.duration)
	c.jobs = make([]*fuzzJob, c.ff.jobs)
	for i := range c.jobs {
		c.jobs[i] = &fuzzJob{}
	}
	stop := make(chan struct{})
	statusDone := make(chan struct{})
	go c.status(stderr, stop, statusDone)
	var wg sync.WaitGroup
	for i, j := range c.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.job(ctx, i, j, deadline, protocols)
		}()
	}
	wg.Wait()
	close(stop)
	<-statusDone

	elapsed := time.Since(c.start)
	rep := &FuzzReport{SchemaVersion: 1, Plugin: c.s.target.Plugin.Path, PluginType: c.s.target.Plugin.Type,
		Generation: c.s.target.Profile.Name, Seed: c.seed, Jobs: c.ff.jobs, DurationS: elapsed.Seconds(),
		Execs: c.execs(), Accepted: c.accepted.Load(), Failures: int(c.failures.Load()), WorkersStarted: int(c.workers.Load()),
		Unique: []FuzzRecord{}}
	for _, t := range c.targets {
		rep.Targets = append(rep.Targets, string(t))
	}
	rep.ExecsPerSec = float64(rep.Execs) / elapsed.Seconds()
	c.mu.Lock()
	rep.Corpus = len(c.corpus)
	for _, k := range c.order {
		rep.Unique = append(rep.Unique, *c.found[k])
	}
	rep.Errors = c.errs
	c.mu.Unlock()
	if rep.Execs == 0 && len(rep.Errors) > 0 && ctx.Err() == nil {
		return nil, errors.New("no input could be run: " + rep.Errors[0])
	}
	return rep, nil
}

// job is one worker's share of the campaign: batches until the deadline,
// a fresh worker after each failure (and every minute).
func (c *campaign) job(ctx context.Context, id int, j *fuzzJob, deadline time.Time, protocols []uint16) {
	rng := rand.New(rand.NewPCG(c.seed, uint64(id)))
	var fw *loader.FuzzWorker
	defer func() {
		if fw != nil {
			fw.Close()
		}
	}()
	count := 256
	errorsInARow := 0
	for batch := 0; time.Now().Before(deadline) && ctx.Err() == nil; batch++ {
		if fw == nil {
			var err error
			if fw, err = c.s.sandbox.NewFuzzWorker(ctx, c.cfg); err != nil {
				c.errorf("starting a worker: %v", oneLine(err))
				if errorsInARow++; errorsInARow > 5 {
					return
				}
				continue
			}
			c.workers.Add(1)
		}
		target := c.targets[batch%len(c.targets)]
		// Keep the batch within a tenth of a second, and within the deadline.
		n := count
		if left := time.Until(deadline); left < 100*time.Millisecond {
			n = max(int(float64(count)*left.Seconds()/0.1), 1)
		}
		j.live.Store(fw)
		b, fail, err := fw.Batch(target, rng.Uint64(), n, c.snapshot(), protocols)
		j.live.Store(nil)
		if b != nil {
			j.execs.Add(b.Execs)
			c.accepted.Add(b.Accepted)
			c.addCorpus(b.New, true)
			if b.Elapsed > 0 {
				scale := 0.1 / b.Elapsed.Seconds()
				count = min(max(int(float64(count)*min(max(scale, 0.5), 4)), 16), 1<<20)
			}
		}
		switch {
		case ctx.Err() != nil:
			// Interrupted: the worker was killed by the interrupt, not by
			// the input; nothing of this batch is a finding.
			return
		case fail != nil:
			// Smaller batches while failures are frequent: what a batch
			// found is lost with its worker.
			count = max(count/2, 16)
			j.execs.Add(fw.LiveExecs())
			fw.Close()
			fw = nil
			c.failure(ctx, fail)
			errorsInARow = 0
		case err != nil:
			c.errorf("%s batch: %v", target, oneLine(err))
			fw.Close()
			fw = nil
			if errorsInARow++; errorsInARow > 5 {
				return
			}
		default:
			errorsInARow = 0
			// A fresh worker every minute, and when unfreed 23.11+
			// credentials have grown the heap.
			if fw.Age() > time.Minute || (b != nil && b.HeapGrowth > int64(c.cfg.HeapLimit)) {
				fw.Close()
				fw = nil
			}
		}
	}
}

// failure records a failure; a new kind is confirmed in a fresh worker,
// minimized and saved.
func (c *campaign) failure(ctx context.Context, fail *loader.FuzzFailure) {
	c.failures.Add(1)
	c.dropBad(fail.Input)
	key := fail.Key()
	c.mu.Lock()
	if _, known := c.found[key]; known {
		c.mu.Unlock()
		return
	}
	rec := &FuzzRecord{FuzzFailure: *fail}
	c.found[key] = rec
	c.order = append(c.order, key)
	c.mu.Unlock()

	foundAfter, foundAt := time.Since(c.start).Seconds(), c.execs()
	small := fail
	tries := 0
	got, err := c.s.sandbox.Reproduce(ctx, c.cfg, fail.Input, fail.Kind)
	reproducible := err == nil && fail.Same(got)
	if reproducible && c.ff.minimizeTries > 0 {
		maxTries := c.ff.minimizeTries
		if fail.Kind == loader.FailHang {
			maxTries = min(maxTries, 20) // each failing try lasts the timeout
		}
		mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		m, n, merr := c.s.sandbox.Minimize(mctx, c.cfg, fail, maxTries)
		cancel()
		tries = n
		if merr != nil {
			c.errorf("minimizing %s: %v", fail, oneLine(merr))
		}
		if m != nil {
			small = m
		}
	}
	name := fmt.Sprintf("%s-%s", fail.Key(), inputKey(small.Input)[:12])
	path := filepath.Join(c.ff.crashers, name)
	r := FuzzRecord{FuzzFailure: *small, Target: small.Input.Target, Protocol: small.Input.Protocol,
		Plugin: c.s.target.Plugin.Path, PluginType: c.s.target.Plugin.Type, Generation: c.s.target.Profile.Name,
		Size: len(small.Input.Data), OriginalSize: len(fail.Input.Data), MinimizeTries: tries, Reproducible: reproducible,
		FoundAfterS: foundAfter, FoundAtExecs: foundAt, File: path}
	if r.Detail == "" {
		r.Detail = fail.Detail
	}
	var lost error
	if err := os.WriteFile(path, small.Input.Data, 0o644); err != nil {
		c.errorf("saving %s: %v", path, err)
		lost = err
	}
	if len(small.Input.Data) != len(fail.Input.Data) {
		r.Original = path + ".orig"
		if err := os.WriteFile(r.Original, fail.Input.Data, 0o644); err != nil {
			lost = err
		}
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path+".json", append(data, '\n'), 0o644); err != nil {
		c.errorf("saving %s.json: %v", path, err)
		lost = err
	}
	c.mu.Lock()
	*rec = r
	if lost != nil && c.lost == nil {
		c.lost = lost
	}
	c.mu.Unlock()
}

// status prints the live line: rewritten in place on a terminal, a plain
// line every statusEvery otherwise.
func (c *campaign) status(w io.Writer, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	every := c.ff.statusEvery
	if every <= 0 {
		every = 10 * time.Second
		if tty {
			every = time.Second
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	line := func() string {
		el := time.Since(c.start)
		execs := c.execs()
		c.mu.Lock()
		corpus, unique := len(c.corpus), len(c.found)
		c.mu.Unlock()
		return fmt.Sprintf("fuzz %s: %5.0fs  execs %d (%.0f/s)  corpus %d  crashes %d (%d unique)  workers %d",
			c.s.target.Plugin.Type, el.Seconds(), execs, float64(execs)/el.Seconds(), corpus, c.failures.Load(), unique, c.workers.Load())
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

func (r *FuzzReport) write(w io.Writer) {
	fmt.Fprintf(w, "plugincheck fuzz %s (%s, generation %s): %s\n", r.Plugin, r.PluginType, r.Generation, strings.Join(r.Targets, ", "))
	fmt.Fprintf(w, "%d execs in %.1fs (%.0f/s, %d jobs), %d accepted, corpus %d, %d failure(s), %d worker(s) started, seed %d\n",
		r.Execs, r.DurationS, r.ExecsPerSec, r.Jobs, r.Accepted, r.Corpus, r.Failures, r.WorkersStarted, r.Seed)
	sort.SliceStable(r.Unique, func(i, j int) bool { return r.Unique[i].FoundAfterS < r.Unique[j].FoundAfterS })
	for _, u := range r.Unique {
		how := fmt.Sprintf("%d bytes", u.Size)
		if u.Size != u.OriginalSize {
			how += fmt.Sprintf(", minimized from %d in %d tries", u.OriginalSize, u.MinimizeTries)
		}
		if !u.Reproducible {
			how += ", did not reproduce alone in a fresh worker"
		}
		fmt.Fprintf(w, "%s after %.1fs: %s (%s)\n", u.FuzzFailure.String(), u.FoundAfterS, u.File, how)
	}
	for _, e := range r.Errors {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted before the campaign's duration: the figures are of the part that ran")
	}
}

// readInputs reads every regular file of dir as an input.
func readInputs(dir string, target loader.FuzzTarget, protocol uint16) ([]loader.FuzzInput, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ins []loader.FuzzInput
	for _, e := range entries {
		if e.Type().IsRegular() {
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				ins = append(ins, loader.FuzzInput{Target: target, Protocol: protocol, Data: data})
			}
		}
	}
	return ins, nil
}
