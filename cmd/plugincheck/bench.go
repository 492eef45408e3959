package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/suite"
)

// session is a plugin opened for bench or fuzz: its host, a sandbox for
// its workers, a private munged when it needs one, and a cred key.
type session struct {
	cfg      suite.Config
	target   *loader.Target
	sandbox  *loader.Sandbox
	munged   *munged.Daemon
	socket   string // munged socket, "" without one
	authInfo string
	keyFile  string // cred plugins: a key readable by the workers
}

// openSession sets a plugin up as `plugincheck run` does (suite/run.go
// prepare): private munged for munge plugins, AuthInfo with socket and ttl,
// a generated cred key.
func openSession(plugin string, hf *hostFlags, sf *suiteFlags, addressSpace uint64) (*session, error) {
	cfg, err := sf.config(hf)
	if err != nil {
		return nil, err
	}
	t, err := loader.Open(plugin, cfg.Loader)
	if err != nil {
		return nil, err
	}
	if err := loader.CheckTempDir(); err != nil {
		return nil, err
	}
	s := &session{cfg: cfg, target: t}
	if s.munged, s.socket, s.authInfo, err = suite.StartMunge(&cfg, t); err != nil {
		return nil, err
	}
	s.sandbox, err = t.NewSandbox(loader.SandboxOptions{
		SlurmConf: cfg.SlurmConf, AuthInfo: s.authInfo, CallTimeout: cfg.CallTimeout,
		Daemon: cfg.Daemon, ExtraConf: cfg.ConfLines, AddressSpace: addressSpace, Env: cfg.Env,
	})
	if err != nil {
		s.close()
		return nil, err
	}
	if t.Plugin.Kind() == profile.Cred {
		if s.keyFile = cfg.PrivateKey; s.keyFile == "" {
			key := make([]byte, 32)
			rand.Read(key)
			if s.keyFile, err = s.sandbox.KeyFileFor(key); err != nil {
				s.close()
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *session) close() {
	if s.sandbox != nil {
		s.sandbox.Close()
	}
	if s.munged != nil {
		s.munged.Stop()
	}
}

// describe is the plugin, its generation and host in one line.
func (s *session) describe() string {
	host := "unknown"
	if v := s.target.Host.Version; v != nil {
		host = v.String()
	}
	return fmt.Sprintf("%s (%s, generation %s, host Slurm %s)", s.target.Plugin.Type, s.target.Plugin.Path, s.target.Profile.Name, host)
}

// BenchReport is the versioned JSON `plugincheck bench --json` prints and
// `--compare` reads.
type BenchReport struct {
	SchemaVersion int    `json:"schema_version"`
	Plugin        string `json:"plugin"`
	PluginType    string `json:"plugin_type"`
	Generation    string `json:"generation"`
	Host          string `json:"host_version,omitempty"`
	CPUs          int    `json:"cpus"`
	GoVersion     string `json:"go_version"`
	Threads       int    `json:"threads"`
	RunNs         int64  `json:"run_duration_ns"`
	Runs          int    `json:"runs"`
	DataLen       int    `json:"data_len"`
	// CallOverheadNs is one call of labs through the bench loops' calling
	// path (loader/internal/hotcall); PuregoCallNs through purego.SyscallN,
	// the worker's path for every other call.
	CallOverheadNs float64        `json:"call_overhead_ns"`
	PuregoCallNs   float64        `json:"purego_call_ns,omitempty"`
	Results        []BenchResult  `json:"results"`
	Native         []NativeResult `json:"native,omitempty"`
	NativeNote     string         `json:"native_note,omitempty"`
	Remunge        []RemungeRun   `json:"remunge,omitempty"`
	RemungeNote    string         `json:"remunge_note,omitempty"`
	Targets        []BenchTarget  `json:"targets,omitempty"`
	Failures       []string       `json:"failures,omitempty"`
}

// BenchResult is one measured thing at one thread count: a whole cycle or
// one call of it.
type BenchResult struct {
	Name    string `json:"name"`
	Threads int    `json:"threads"`
	// OpsPerSec: for "cycle", cycles per second of wall time (median run);
	// for a call, the rate the threads would sustain doing only that call
	// (threads / mean duration).
	OpsPerSec float64   `json:"ops_per_sec"`
	RunRates  []float64 `json:"run_ops_per_sec,omitempty"`
	Count     uint64    `json:"count"`
	MeanNs    int64     `json:"mean_ns"`
	P50Ns     int64     `json:"p50_ns"`
	P90Ns     int64     `json:"p90_ns"`
	P99Ns     int64     `json:"p99_ns"`
	MaxNs     int64     `json:"max_ns"`
	Failed    uint64    `json:"failed,omitempty"`
}

// NativeResult is the native harness's cycle at one thread count (medians
// of its runs, one after each worker run), and the worker's cycle time as a
// multiple of it.
type NativeResult struct {
	Threads   int       `json:"threads"`
	OpsPerSec float64   `json:"ops_per_sec"`
	RunRates  []float64 `json:"run_ops_per_sec"`
	P50Ns     int64     `json:"p50_ns"`
	P90Ns     int64     `json:"p90_ns"`
	P99Ns     int64     `json:"p99_ns"`
	MaxNs     int64     `json:"max_ns"`
	// Ratio is the worker's time per cycle over the harness's: the median
	// over runs of the harness's rate over the worker run's before it. 1.0
	// means no overhead. PuregoRatio is the same for the cycle called
	// through purego.SyscallN (the run after the harness's).
	Ratio       float64 `json:"worker_time_ratio"`
	PuregoRatio float64 `json:"worker_time_ratio_purego,omitempty"`
	Failed      uint64  `json:"failed,omitempty"`
}

// RemungeRun is remunge's encode+decode rate against the same munged, and
// the plugin's cycle rate as a fraction of it.
type RemungeRun struct {
	Threads     int       `json:"threads"`
	CredsPerSec float64   `json:"creds_per_sec"`
	RunRates    []float64 `json:"run_creds_per_sec"`
	// Fraction is the plugin's create+verify cycles per second over
	// remunge's encode+decode credentials per second: the median over runs
	// of each cycle run against the remunge run that followed it (as many
	// credentials, same threads).
	Fraction float64 `json:"plugin_fraction"`
	// NativeFraction is the native harness's cycles per second over
	// remunge's credentials per second (medians, not paired): what the
	// plugin itself reaches without the worker.
	NativeFraction float64 `json:"native_fraction,omitempty"`
}

// BenchTarget is one of the performance targets and whether this
// run met it.
type BenchTarget struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Met   bool    `json:"met"`
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	threads := fs.Int("threads", runtime.NumCPU(), "threads for the multi-threaded runs")
	duration := fs.Duration("duration", time.Second, "length of each timed run")
	runs := fs.Int("runs", 3, "timed runs of each measurement")
	dataLen := fs.Int("data-len", -1, "payload bytes per credential (auth, default 0) or bytes signed (cred, default 200)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	compare := fs.String("compare", "", "a saved --json result to compare with")
	native := fs.String("native", "", "the native harness (default: bench-native beside plugincheck, then bin/bench-native; make native builds it)")
	noNative := fs.Bool("no-native", false, "skip the native harness")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(paths) != 1:
		return &usageError{"bench takes one plugin (usage: plugincheck bench PLUGIN [--threads N] [--duration D] [--json] [--compare FILE])"}
	case *threads < 1 || *threads > 64:
		return &usageError{fmt.Sprintf("--threads must be 1 to 64, not %d", *threads)}
	case *duration < time.Millisecond || *duration > time.Hour:
		return &usageError{fmt.Sprintf("--duration must be 1ms to 1h, not %v", *duration)}
	case *runs < 1 || *runs > 100:
		return &usageError{fmt.Sprintf("--runs must be 1 to 100, not %d", *runs)}
	case *dataLen > 1<<20:
		return &usageError{"--data-len must be at most 1 MiB"}
	}
	var old *BenchReport
	if *compare != "" {
		if old, err = readBenchReport(*compare); err != nil {
			return &usageError{"--compare: " + err.Error()}
		}
	}
	harness := ""
	if !*noNative {
		if harness, err = findHarness(*native); err != nil {
			return err
		}
	}
	s, err := openSession(paths[0], &hf, &sf, 0)
	if err != nil {
		return err
	}
	defer s.close()
	rep, err := runBench(s, benchPlan{threads: *threads, duration: *duration, runs: *runs, dataLen: *dataLen, harness: harness}, stderr)
	if err != nil {
		return err
	}
	if *jsonOut {
		data, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(data))
	} else {
		rep.write(stdout)
	}
	if old != nil {
		rep.compare(stdout, old)
	}
	if len(rep.Failures) > 0 {
		return &exitStatus{code: 1, err: fmt.Errorf("cycles failed: %s", rep.Failures[0])}
	}
	return nil
}

// findHarness returns the native harness to use, "" when there is none
// (the report then says so).
func findHarness(flagValue string) (string, error) {
	if flagValue != "" {
		if st, err := os.Stat(flagValue); err != nil || st.IsDir() {
			return "", &usageError{fmt.Sprintf("--native %s: not an executable file", flagValue)}
		}
		return filepath.Abs(flagValue)
	}
	var cands []string
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "bench-native"))
	}
	cands = append(cands, filepath.Join("bin", "bench-native"))
	if p, err := exec.LookPath("bench-native"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return filepath.Abs(c)
		}
	}
	return "", nil
}

func readBenchReport(path string) (*BenchReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r BenchReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s is not a bench result: %w", path, err)
	}
	if r.SchemaVersion != benchSchema {
		return nil, fmt.Errorf("%s has schema_version %d, want %d", path, r.SchemaVersion, benchSchema)
	}
	return &r, nil
}

const benchSchema = 1

type benchPlan struct {
	threads  int
	duration time.Duration
	runs     int
	dataLen  int
	harness  string
}

// runBench measures the plugin: the worker's per-call cost, whole cycles
// and each call at one thread and at plan.threads, the native harness on
// the same cycle, and remunge against the same munged.
func runBench(s *session, plan benchPlan, progress io.Writer) (*BenchReport, error) {
	p := s.target.Profile
	kind := s.target.Plugin.Kind()
	if plan.dataLen < 0 {
		plan.dataLen = 0
		if kind == profile.Cred {
			plan.dataLen = 200
		}
	}
	rep := &BenchReport{
		SchemaVersion: benchSchema, Plugin: s.target.Plugin.Path, PluginType: s.target.Plugin.Type, Generation: p.Name,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Threads: plan.threads, RunNs: int64(plan.duration),
		Runs: plan.runs, DataLen: plan.dataLen,
	}
	if v := s.target.Host.Version; v != nil {
		rep.Host = v.String()
	}
	ctx := cleanup.Context()
	w, err := s.sandbox.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	data := make([]byte, plan.dataLen)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	// bench is the measurement for one thread count and mode.
	var bench func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error)
	switch kind {
	case profile.Auth:
		a, err := w.Auth()
		if err != nil {
			return nil, err
		}
		if _, err := a.Init(); err != nil && !isNoSymbol(err) {
			return nil, err
		}
		bench = func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error) {
			return a.Bench(loader.BenchOptions{Threads: threads, Duration: d, Steps: steps, AuthInfo: s.authInfo, Data: data, Purego: usePurego})
		}
	case profile.Cred:
		c, err := w.Cred()
		if err != nil {
			return nil, err
		}
		if !p.Has(profile.OpSign) {
			return nil, &loader.InputError{Path: s.target.Plugin.Path,
				Msg: fmt.Sprintf("generation %s has no sign/verify_sign to time (the 23.11+ API needs the release's structures)", p.Name)}
		}
		if _, err := c.Init(); err != nil && !isNoSymbol(err) {
			return nil, err
		}
		pubFile := s.keyFile
		if s.cfg.PublicKey != "" {
			pubFile = s.cfg.PublicKey
		}
		priv, r, err := c.ReadPrivateKey(&s.keyFile)
		if err == nil && priv == 0 {
			err = fmt.Errorf("read_private_key(%s) returned NULL, errno %d", s.keyFile, r.Errno)
		}
		if err != nil {
			return nil, err
		}
		pub, r, err := c.ReadPublicKey(&pubFile)
		if err == nil && pub == 0 {
			err = fmt.Errorf("read_public_key(%s) returned NULL, errno %d", pubFile, r.Errno)
		}
		if err != nil {
			return nil, err
		}
		bench = func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error) {
			return c.Bench(priv, pub, loader.BenchOptions{Threads: threads, Duration: d, Steps: steps, Data: data, Purego: usePurego})
		}
	default:
		return nil, fmt.Errorf("%s is neither an auth nor a cred plugin", s.target.Plugin.Path)
	}
	say := func(format string, a ...any) {
		if progress != nil {
			fmt.Fprintf(progress, "bench: "+format+"\n", a...)
		}
	}
	say("%s", s.describe())

	callNs := func(usePurego bool) (float64, error) {
		r, err := w.BenchCall(min(plan.duration, 300*time.Millisecond), usePurego)
		if st := r.Step("call"); err == nil && st != nil {
			return float64(st.Mean()), nil
		}
		return 0, err
	}
	if rep.CallOverheadNs, err = callNs(false); err != nil {
		return nil, err
	}
	if rep.PuregoCallNs, err = callNs(true); err != nil {
		return nil, err
	}
	threadCounts := []int{1}
	if plan.threads > 1 {
		threadCounts = append(threadCounts, plan.threads)
	}
	// Warm-up: caches, the allocator's arenas, munged's threads.
	if _, err := bench(plan.threads, max(plan.duration/4, 20*time.Millisecond), false, false); err != nil {
		return nil, err
	}
	// Each cycle run is followed by a run of the native harness on the
	// same cycle, for auth/munge by remunge against the same munged with
	// as many credentials, and by a run of the cycle through
	// purego.SyscallN: the machine's drift touches all alike, and the
	// ratios are taken run by run.
	withRemunge := kind == profile.Auth && s.socket != "" && s.target.Plugin.Minor() == "munge"
	if plan.harness == "" {
		rep.NativeNote = "native harness not found: build it with make native, or pass --native PATH"
	}
	remungeNote := ""
	for _, th := range threadCounts {
		for _, steps := range []bool{false, true} {
			what := map[bool]string{false: "cycles", true: "each call"}[steps]
			if !steps && plan.harness != "" {
				what += ", each run followed by the native harness"
			}
			if withRemunge && !steps {
				what += " and remunge -d"
			}
			if !steps {
				what += ", then through purego.SyscallN"
			}
			say("%s, %d thread(s), %d × %v", what, th, plan.runs, plan.duration)
			merged := map[string]*loader.BenchStep{}
			var order []string
			var rates []float64
			var failed uint64
			rr := RemungeRun{Threads: th}
			nr := NativeResult{Threads: th}
			var fractions, ratios []float64
			var p50s, p90s, p99s []float64
			viaPurego := BenchResult{Name: "cycle/purego", Threads: th}
			var puregoCycle loader.BenchStep
			var puregoRatios []float64
			for range plan.runs {
				r, err := bench(th, plan.duration, steps, false)
				if err != nil {
					return nil, err
				}
				var nrate float64
				rates = append(rates, r.Rate())
				if !steps && plan.harness != "" && rep.NativeNote == "" {
					n, err := s.sandbox.RunNative(ctx, loader.NativeOptions{Harness: plan.harness, Threads: th, Duration: plan.duration,
						Runs: 1, AuthInfo: s.authInfo, DataLen: plan.dataLen, KeyFile: s.keyFile})
					if err != nil {
						rep.NativeNote = oneLine(err)
					} else if nrate = n.Rate(); nrate > 0 && r.Rate() > 0 {
						nr.RunRates = append(nr.RunRates, nrate)
						ratios = append(ratios, nrate/r.Rate())
						p50s, p90s, p99s = append(p50s, float64(n.P50)), append(p90s, float64(n.P90)), append(p99s, float64(n.P99))
						nr.MaxNs = max(nr.MaxNs, int64(n.Max))
						nr.Failed += n.Failed
					}
				}
				if withRemunge && !steps && remungeNote == "" {
					v, err := remunge(ctx, s.sandbox, s.socket, th, max(int(r.Cycles), 100), plan.dataLen)
					if err != nil {
						remungeNote = "remunge: " + oneLine(err)
					} else {
						rr.RunRates = append(rr.RunRates, v)
						fractions = append(fractions, r.Rate()/v)
					}
				}
				if !steps {
					pr, err := bench(th, plan.duration, false, true)
					if err != nil {
						return nil, err
					}
					viaPurego.RunRates = append(viaPurego.RunRates, pr.Rate())
					viaPurego.Failed += pr.Failed
					if st := pr.Step("cycle"); st != nil {
						puregoCycle.Merge(st)
					}
					if nrate > 0 && pr.Rate() > 0 {
						puregoRatios = append(puregoRatios, nrate/pr.Rate())
					}
				}
				failed += r.Failed
				if r.FirstFailure != "" && len(rep.Failures) < 5 {
					rep.Failures = append(rep.Failures, fmt.Sprintf("%d thread(s): %s", th, r.FirstFailure))
				}
				for i := range r.Steps {
					st := &r.Steps[i]
					if merged[st.Name] == nil {
						merged[st.Name] = &loader.BenchStep{Name: st.Name}
						order = append(order, st.Name)
					}
					merged[st.Name].Merge(st)
				}
			}
			for _, name := range order {
				st := merged[name]
				if steps && name == "cycle" {
					continue // slowed by the clock readings; the cycle-only runs are the figure
				}
				res := BenchResult{Name: name, Threads: th, Count: st.Count, MeanNs: int64(st.Mean()),
					P50Ns: int64(st.Percentile(.50)), P90Ns: int64(st.Percentile(.90)), P99Ns: int64(st.Percentile(.99)), MaxNs: int64(st.Max)}
				if name == "cycle" {
					res.RunRates, res.OpsPerSec, res.Failed = rates, median(rates), failed
					if len(ratios) > 0 {
						nr.OpsPerSec, nr.Ratio, nr.PuregoRatio = median(nr.RunRates), median(ratios), median(puregoRatios)
						nr.P50Ns, nr.P90Ns, nr.P99Ns = int64(median(p50s)), int64(median(p90s)), int64(median(p99s))
						rep.Native = append(rep.Native, nr)
					}
					if len(fractions) > 0 {
						rr.CredsPerSec, rr.Fraction = median(rr.RunRates), median(fractions)
						rep.Remunge = append(rep.Remunge, rr)
					}
				} else if st.Mean() > 0 {
					res.OpsPerSec = float64(th) / st.Mean().Seconds()
				}
				rep.Results = append(rep.Results, res)
			}
			if len(viaPurego.RunRates) > 0 {
				st := &puregoCycle
				viaPurego.OpsPerSec, viaPurego.Count, viaPurego.MeanNs = median(viaPurego.RunRates), st.Count, int64(st.Mean())
				viaPurego.P50Ns, viaPurego.P90Ns = int64(st.Percentile(.50)), int64(st.Percentile(.90))
				viaPurego.P99Ns, viaPurego.MaxNs = int64(st.Percentile(.99)), int64(st.Max)
				rep.Results = append(rep.Results, viaPurego)
			}
		}
	}

	rep.RemungeNote = remungeNote
	for i, r := range rep.Remunge {
		for _, n := range rep.Native {
			if n.Threads == r.Threads && r.CredsPerSec > 0 {
				rep.Remunge[i].NativeFraction = n.OpsPerSec / r.CredsPerSec
			}
		}
	}
	rep.Targets = benchTargets(rep)
	return rep, nil
}

func isNoSymbol(err error) bool { return errors.Is(err, loader.ErrNoSymbol) }

// remunge runs munge's own benchmark against socket: n credentials
// encoded and decoded on threads threads, as the workers' uid (munged's
// work depends on the client). It returns credentials per second.
func remunge(ctx context.Context, sb *loader.Sandbox, socket string, threads, n, dataLen int) (float64, error) {
	bin, err := exec.LookPath("remunge")
	if err != nil {
		return 0, fmt.Errorf("remunge is not installed (Debian package: munge)")
	}
	cmd := exec.CommandContext(ctx, bin, "-q", "-d", "-S", socket, "-T", strconv.Itoa(threads), "-N", strconv.Itoa(n),
		"-l", strconv.Itoa(dataLen))
	if sb.UID != os.Geteuid() {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(sb.UID), Gid: uint32(sb.GID), Groups: []uint32{}}}
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	// The rate is the first line; a warning about short runs may follow.
	first, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	v, err := strconv.ParseFloat(strings.TrimSpace(first), 64)
	if err != nil {
		return 0, fmt.Errorf("unexpected output %q", out.String())
	}
	return v, nil
}

// benchTargets are the targets that apply to this plugin.
func benchTargets(rep *BenchReport) []BenchTarget {
	var out []BenchTarget
	switch rep.PluginType {
	case "auth/none":
		for _, n := range rep.Native {
			if n.Threads == 1 && n.Ratio > 0 {
				out = append(out, BenchTarget{Name: "auth/none cycle in the worker, as a multiple of the native harness's time (1 thread)",
					Value: n.Ratio, Limit: 1.5, Met: n.Ratio <= 1.5})
			}
		}
	case "auth/munge":
		for _, r := range rep.Remunge {
			if r.Fraction > 0 {
				out = append(out, BenchTarget{Name: fmt.Sprintf("auth/munge create+verify throughput as a fraction of remunge -d (%d thread(s))", r.Threads),
					Value: r.Fraction, Limit: 0.9, Met: r.Fraction >= 0.9})
			}
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ns(v int64) string { return time.Duration(v).String() }

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func (r *BenchReport) write(w io.Writer) {
	fmt.Fprintf(w, "plugincheck bench %s\n", r.Plugin)
	fmt.Fprintf(w, "%s, generation %s, host Slurm %s; %d CPUs; %d runs of %v each after a warm-up\n",
		r.PluginType, r.Generation, r.Host, r.CPUs, r.Runs, time.Duration(r.RunNs))
	fmt.Fprintf(w, "one call of a C function that does nothing: %.0f ns on the bench loops' path, %.0f ns through purego.SyscallN\n\n",
		r.CallOverheadNs, r.PuregoCallNs)
	fmt.Fprintf(w, "%-14s %7s %10s %10s %10s %10s %12s  %s\n", "MEASURE", "THREADS", "OPS/S", "P50", "P90", "P99", "MAX", "RUNS (OPS/S)")
	for _, x := range r.Results {
		runs := ""
		for i, v := range x.RunRates {
			if i > 0 {
				runs += " "
			}
			runs += rate(v)
		}
		fmt.Fprintf(w, "%-14s %7d %10s %10s %10s %10s %12s  %s\n", x.Name, x.Threads, rate(x.OpsPerSec), ns(x.P50Ns), ns(x.P90Ns), ns(x.P99Ns), ns(x.MaxNs), runs)
	}
	if len(r.Native) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-14s %7s %10s %10s %10s %10s %12s  %s\n", "NATIVE CYCLE", "THREADS", "OPS/S", "P50", "P90", "P99", "MAX", "WORKER TIME / NATIVE TIME (VIA purego.SyscallN)")
		for _, n := range r.Native {
			via := "-"
			if n.PuregoRatio > 0 {
				via = fmt.Sprintf("%.2f×", n.PuregoRatio)
			}
			fmt.Fprintf(w, "%-14s %7d %10s %10s %10s %10s %12s  %.2f× (%s)\n", "bench-native", n.Threads, rate(n.OpsPerSec), ns(n.P50Ns), ns(n.P90Ns), ns(n.P99Ns), ns(n.MaxNs), n.Ratio, via)
		}
	}
	if r.NativeNote != "" {
		fmt.Fprintf(w, "\nnative harness: %s\n", r.NativeNote)
	}
	if len(r.Remunge) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-14s %7s %10s  %s\n", "REMUNGE -d", "THREADS", "CREDS/S", "PLUGIN CYCLES/S ÷ REMUNGE CREDS/S (WORKER, NATIVE HARNESS)")
		for _, x := range r.Remunge {
			native := "-"
			if x.NativeFraction > 0 {
				native = fmt.Sprintf("%.0f%%", 100*x.NativeFraction)
			}
			fmt.Fprintf(w, "%-14s %7d %10s  %.0f%%, %s\n", "remunge", x.Threads, rate(x.CredsPerSec), 100*x.Fraction, native)
		}
	}
	if r.RemungeNote != "" {
		fmt.Fprintf(w, "\n%s\n", r.RemungeNote)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w)
		for _, t := range r.Targets {
			verdict := "met"
			if !t.Met {
				verdict = "NOT met"
			}
			fmt.Fprintf(w, "target: %s = %.2f (limit %.2f): %s\n", t.Name, t.Value, t.Limit, verdict)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "failure: %s\n", f)
	}
}

// compare prints the change of each measurement against an earlier report.
func (r *BenchReport) compare(w io.Writer, old *BenchReport) {
	fmt.Fprintf(w, "\ncompared with the saved result (%s, %d runs of %v):\n", old.Plugin, old.Runs, time.Duration(old.RunNs))
	if old.PluginType != r.PluginType {
		fmt.Fprintf(w, "note: the saved result is of %s, this one of %s\n", old.PluginType, r.PluginType)
	}
	fmt.Fprintf(w, "%-14s %7s %10s %10s %9s %10s %10s %9s\n", "MEASURE", "THREADS", "OLD OPS/S", "NEW OPS/S", "CHANGE", "OLD P50", "NEW P50", "CHANGE")
	pct := func(o, n float64) string {
		if o == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.1f%%", 100*(n-o)/o)
	}
	for _, x := range r.Results {
		for _, o := range old.Results {
			if o.Name == x.Name && o.Threads == x.Threads {
				fmt.Fprintf(w, "%-14s %7d %10s %10s %9s %10s %10s %9s\n", x.Name, x.Threads, rate(o.OpsPerSec), rate(x.OpsPerSec),
					pct(o.OpsPerSec, x.OpsPerSec), ns(o.P50Ns), ns(x.P50Ns), pct(float64(o.P50Ns), float64(x.P50Ns)))
			}
		}
	}
	for _, x := range r.Native {
		for _, o := range old.Native {
			if o.Threads == x.Threads {
				fmt.Fprintf(w, "%-14s %7d %10s %10s %9s  worker/native %.2f× → %.2f×\n", "native", x.Threads, rate(o.OpsPerSec), rate(x.OpsPerSec),
					pct(o.OpsPerSec, x.OpsPerSec), o.Ratio, x.Ratio)
			}
		}
	}
}
