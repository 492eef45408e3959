package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Setup is the plugin as the bench runs it: a sandbox for its workers and
// what its calls need.
type Setup struct {
	Sandbox  *loader.Sandbox
	AuthInfo string
	// KeyFile is the cred key: the private key, and the public one unless
	// PublicKey is set.
	KeyFile, PublicKey string
	// MungeSocket is the munged the plugin talks to, "" without one:
	// remunge runs against it.
	MungeSocket string
}

// Plan is what to measure.
type Plan struct {
	// Threads is the thread count of the multi-threaded runs (one-thread
	// runs come first).
	Threads  int
	Duration time.Duration
	Runs     int
	// DataLen is the payload of each credential (auth, default 0) or the
	// bytes signed (cred, default 200); negative for the default.
	DataLen int
	// Harness is the native harness (bench-native), "" for none.
	Harness string
}

// cycleFunc is one timed run of the plugin's cycle inside the worker.
type cycleFunc func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error)

// Run measures the plugin: the worker's per-call cost, whole cycles and
// each call at one thread and at plan.Threads, the native harness on the
// same cycle, and remunge against the same munged. progress, when set,
// gets a line naming the plugin and its host, then one before each
// measurement.
func Run(ctx context.Context, s Setup, plan Plan, progress func(string)) (*Report, error) {
	t := s.Sandbox.Target
	kind := t.Plugin.Kind()
	if plan.DataLen < 0 {
		plan.DataLen = 0
		if kind == profile.Cred {
			plan.DataLen = 200
		}
	}
	rep := &Report{
		SchemaVersion: Schema, Plugin: t.Plugin.Path, PluginType: t.Plugin.Type, Generation: t.Profile.Name,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Threads: plan.Threads, RunNs: int64(plan.Duration),
		Runs: plan.Runs, DataLen: plan.DataLen,
	}
	if v := t.Host.Version; v != nil {
		rep.Host = v.String()
	}
	w, err := s.Sandbox.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	data := make([]byte, plan.DataLen)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	cycle, err := newCycle(w, s, data)
	if err != nil {
		return nil, err
	}
	b := &bencher{ctx: ctx, s: s, plan: plan, rep: rep, cycle: cycle, progress: progress,
		withRemunge: kind == profile.Auth && s.MungeSocket != "" && t.Plugin.Minor() == "munge"}
	b.say("%s (%s, generation %s, host Slurm %s)", t.Plugin.Type, t.Plugin.Path, t.Profile.Name, cmp.Or(rep.Host, "unknown"))
	callNs := func(usePurego bool) (float64, error) {
		r, err := w.BenchCall(min(plan.Duration, 300*time.Millisecond), usePurego)
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
	// Warm-up: caches, the allocator's arenas, munged's threads.
	if _, err := cycle(plan.Threads, max(plan.Duration/4, 20*time.Millisecond), false, false); err != nil {
		return nil, err
	}
	if plan.Harness == "" {
		rep.NativeNote = "native harness not found: build it with make native, or pass --native PATH"
	}
	threadCounts := []int{1}
	if plan.Threads > 1 {
		threadCounts = append(threadCounts, plan.Threads)
	}
	for _, th := range threadCounts {
		for _, steps := range []bool{false, true} {
			if err := b.measure(th, steps); err != nil {
				return nil, err
			}
		}
	}
	rep.RemungeNote = b.remungeNote
	for i, r := range rep.Remunge {
		for _, n := range rep.Native {
			if n.Threads == r.Threads && r.CredsPerSec > 0 {
				rep.Remunge[i].NativeFraction = n.OpsPerSec / r.CredsPerSec
			}
		}
	}
	rep.Targets = targets(rep)
	return rep, nil
}

// newCycle initialises the plugin in w and returns its timed cycle: auth
// cycles, or sign → verify_sign → xfree with the keys read.
func newCycle(w *loader.Worker, s Setup, data []byte) (cycleFunc, error) {
	t := s.Sandbox.Target
	p := t.Profile
	switch t.Plugin.Kind() {
	case profile.Auth:
		a, err := w.Auth()
		if err != nil {
			return nil, err
		}
		if _, err := a.Init(); err != nil && !errors.Is(err, loader.ErrNoSymbol) {
			return nil, err
		}
		return func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error) {
			return a.Bench(loader.BenchOptions{Threads: threads, Duration: d, Steps: steps, AuthInfo: s.AuthInfo, Data: data, Purego: usePurego})
		}, nil
	case profile.Cred:
		c, err := w.Cred()
		if err != nil {
			return nil, err
		}
		if !p.Has(profile.OpSign) {
			return nil, &loader.InputError{Path: t.Plugin.Path,
				Msg: fmt.Sprintf("generation %s has no sign/verify_sign to time (the 23.11+ API needs the release's structures)", p.Name)}
		}
		if _, err := c.Init(); err != nil && !errors.Is(err, loader.ErrNoSymbol) {
			return nil, err
		}
		privFile, pubFile := s.KeyFile, s.KeyFile
		if s.PublicKey != "" {
			pubFile = s.PublicKey
		}
		priv, r, err := c.ReadPrivateKey(&privFile)
		if err == nil && priv == 0 {
			err = fmt.Errorf("read_private_key(%s) returned NULL, errno %d", privFile, r.Errno)
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
		return func(threads int, d time.Duration, steps, usePurego bool) (loader.BenchRun, error) {
			return c.Bench(priv, pub, loader.BenchOptions{Threads: threads, Duration: d, Steps: steps, Data: data, Purego: usePurego})
		}, nil
	}
	return nil, fmt.Errorf("%s is neither an auth nor a cred plugin", t.Plugin.Path)
}

// bencher runs the measurements of one Run into its report.
type bencher struct {
	ctx         context.Context
	s           Setup
	plan        Plan
	rep         *Report
	cycle       cycleFunc
	progress    func(string)
	withRemunge bool
	remungeNote string
}

// series gathers the runs of one measurement (thread count, steps or
// whole cycles) and of what each worker run is compared with.
type series struct {
	merged map[string]*loader.BenchStep
	order  []string
	rates  []float64
	failed uint64

	native             NativeCycle
	ratios             []float64
	p50s, p90s, p99s   []float64
	remunge            RemungeRun
	fractions          []float64
	purego             Result
	puregoCycle        loader.BenchStep
	puregoRatios       []float64
	nativeRateThisTime float64
}

func (b *bencher) say(format string, a ...any) {
	if b.progress != nil {
		b.progress(fmt.Sprintf(format, a...))
	}
}

// measure runs plan.Runs timed runs at th threads, each whole-cycle run
// followed by the native harness, remunge (auth/munge) and the same cycle
// through purego.SyscallN, and adds the results to the report.
func (b *bencher) measure(th int, steps bool) error {
	what := map[bool]string{false: "cycles", true: "each call"}[steps]
	if !steps && b.plan.Harness != "" {
		what += ", each run followed by the native harness"
	}
	if b.withRemunge && !steps {
		what += " and remunge -d"
	}
	if !steps {
		what += ", then through purego.SyscallN"
	}
	b.say("%s, %d thread(s), %d × %v", what, th, b.plan.Runs, b.plan.Duration)
	sr := &series{merged: map[string]*loader.BenchStep{}, native: NativeCycle{Threads: th}, remunge: RemungeRun{Threads: th},
		purego: Result{Name: "cycle/purego", Threads: th}}
	for range b.plan.Runs {
		r, err := b.cycle(th, b.plan.Duration, steps, false)
		if err != nil {
			return err
		}
		sr.rates = append(sr.rates, r.Rate())
		sr.nativeRateThisTime = 0
		if !steps {
			b.compareNative(sr, th, r)
			b.compareRemunge(sr, th, r)
			if err := b.comparePurego(sr, th); err != nil {
				return err
			}
		}
		sr.failed += r.Failed
		if r.FirstFailure != "" && len(b.rep.Failures) < 5 {
			b.rep.Failures = append(b.rep.Failures, fmt.Sprintf("%d thread(s): %s", th, r.FirstFailure))
		}
		for i := range r.Steps {
			st := &r.Steps[i]
			if sr.merged[st.Name] == nil {
				sr.merged[st.Name] = &loader.BenchStep{Name: st.Name}
				sr.order = append(sr.order, st.Name)
			}
			sr.merged[st.Name].Merge(st)
		}
	}
	b.report(sr, th, steps)
	return nil
}

// compareNative runs the native harness after the worker run r.
func (b *bencher) compareNative(sr *series, th int, r loader.BenchRun) {
	if b.plan.Harness == "" || b.rep.NativeNote != "" {
		return
	}
	n, err := b.s.Sandbox.RunNative(b.ctx, loader.NativeOptions{Harness: b.plan.Harness, Threads: th, Duration: b.plan.Duration,
		Runs: 1, AuthInfo: b.s.AuthInfo, DataLen: b.plan.DataLen, KeyFile: b.s.KeyFile})
	if err != nil {
		b.rep.NativeNote = oneLine(err)
		return
	}
	nrate := n.Rate()
	if nrate <= 0 || r.Rate() <= 0 {
		return
	}
	sr.nativeRateThisTime = nrate
	sr.native.RunRates = append(sr.native.RunRates, nrate)
	sr.ratios = append(sr.ratios, nrate/r.Rate())
	sr.p50s, sr.p90s, sr.p99s = append(sr.p50s, float64(n.P50)), append(sr.p90s, float64(n.P90)), append(sr.p99s, float64(n.P99))
	sr.native.MaxNs = max(sr.native.MaxNs, int64(n.Max))
	sr.native.Failed += n.Failed
}

// compareRemunge runs remunge with as many credentials as the worker run
// r made cycles.
func (b *bencher) compareRemunge(sr *series, th int, r loader.BenchRun) {
	if !b.withRemunge || b.remungeNote != "" {
		return
	}
	v, err := remunge(b.ctx, b.s.Sandbox, b.s.MungeSocket, th, max(int(r.Cycles), 100), b.plan.DataLen)
	if err != nil {
		b.remungeNote = "remunge: " + oneLine(err)
		return
	}
	sr.remunge.RunRates = append(sr.remunge.RunRates, v)
	sr.fractions = append(sr.fractions, r.Rate()/v)
}

// comparePurego runs the cycle again through purego.SyscallN.
func (b *bencher) comparePurego(sr *series, th int) error {
	pr, err := b.cycle(th, b.plan.Duration, false, true)
	if err != nil {
		return err
	}
	sr.purego.RunRates = append(sr.purego.RunRates, pr.Rate())
	sr.purego.Failed += pr.Failed
	if st := pr.Step("cycle"); st != nil {
		sr.puregoCycle.Merge(st)
	}
	if sr.nativeRateThisTime > 0 && pr.Rate() > 0 {
		sr.puregoRatios = append(sr.puregoRatios, sr.nativeRateThisTime/pr.Rate())
	}
	return nil
}

// report adds a measurement's results to the report.
func (b *bencher) report(sr *series, th int, steps bool) {
	rep := b.rep
	for _, name := range sr.order {
		st := sr.merged[name]
		if steps && name == "cycle" {
			continue // slowed by the clock readings; the cycle-only runs are the figure
		}
		res := stepResult(name, th, st)
		if name == "cycle" {
			res.RunRates, res.OpsPerSec, res.Failed = sr.rates, Median(sr.rates), sr.failed
			if len(sr.ratios) > 0 {
				nr := &sr.native
				nr.OpsPerSec, nr.Ratio, nr.PuregoRatio = Median(nr.RunRates), Median(sr.ratios), Median(sr.puregoRatios)
				nr.P50Ns, nr.P90Ns, nr.P99Ns = int64(Median(sr.p50s)), int64(Median(sr.p90s)), int64(Median(sr.p99s))
				rep.Native = append(rep.Native, *nr)
			}
			if len(sr.fractions) > 0 {
				sr.remunge.CredsPerSec, sr.remunge.Fraction = Median(sr.remunge.RunRates), Median(sr.fractions)
				rep.Remunge = append(rep.Remunge, sr.remunge)
			}
		} else if st.Mean() > 0 {
			res.OpsPerSec = float64(th) / st.Mean().Seconds()
		}
		rep.Results = append(rep.Results, res)
	}
	if len(sr.purego.RunRates) > 0 {
		res := stepResult(sr.purego.Name, th, &sr.puregoCycle)
		res.OpsPerSec, res.RunRates, res.Failed = Median(sr.purego.RunRates), sr.purego.RunRates, sr.purego.Failed
		rep.Results = append(rep.Results, res)
	}
}

// stepResult is a step's latency figures.
func stepResult(name string, th int, st *loader.BenchStep) Result {
	return Result{Name: name, Threads: th, Count: st.Count, MeanNs: int64(st.Mean()),
		P50Ns: int64(st.Percentile(.50)), P90Ns: int64(st.Percentile(.90)), P99Ns: int64(st.Percentile(.99)), MaxNs: int64(st.Max)}
}

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

// oneLine is err's message on one line, as the report's notes keep it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
