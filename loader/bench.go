package loader

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// BenchOptions configure one timed run inside the worker.
type BenchOptions struct {
	// Threads run the loop at once, each on its own OS thread (default 1).
	Threads int
	// Duration is how long the run lasts.
	Duration time.Duration
	// Steps times each call of the cycle as well as the whole cycle; each
	// clock reading adds to the cycle's time.
	Steps bool
	// AuthInfo is create's and verify's auth_info (auth).
	AuthInfo string
	// Data is the payload of each credential, or the buffer signed (cred).
	Data []byte
	// Protocol is pack's and unpack's protocol version (0: the series').
	Protocol uint16
	// Purego makes the loop call the plugin through purego.SyscallN, the
	// worker's path for every other call, instead of its hot-loop path
	// (about 25 ns a call cheaper here): for comparing the two.
	Purego bool
}

// BenchStep is the timing of one call of the cycle ("create", "sign", …),
// of the whole cycle ("cycle"), or of one bare call ("call"), over every
// thread of a run.
type BenchStep struct {
	Name       string
	Count      uint64
	Total, Max time.Duration
	// Hist counts calls by duration (wire's log-linear buckets).
	Hist []uint64
}

// Mean is the average duration of the step.
func (s *BenchStep) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return s.Total / time.Duration(s.Count)
}

// Percentile is the duration below which a fraction p of the calls took
// (to the histogram's resolution, about 3 %).
func (s *BenchStep) Percentile(p float64) time.Duration {
	return histPercentile(s.Hist, s.Count, p)
}

func histPercentile(hist []uint64, count uint64, p float64) time.Duration {
	target := uint64(p * float64(count))
	var seen uint64
	for b, c := range hist {
		seen += c
		if seen > target {
			return time.Duration(wire.HistValue(b))
		}
	}
	return 0
}

// Merge adds another run's timings of the same step.
func (s *BenchStep) Merge(o *BenchStep) {
	if s.Hist == nil {
		s.Hist = make([]uint64, wire.HistBuckets)
	}
	s.Count += o.Count
	s.Total += o.Total
	s.Max = max(s.Max, o.Max)
	for i, c := range o.Hist {
		s.Hist[i] += c
	}
}

// BenchRun is what one timed run did.
type BenchRun struct {
	Threads        int
	Cycles, Failed uint64
	FirstFailure   string
	Wall           time.Duration
	Steps          []BenchStep
}

// Step returns the named step, nil when the run has none.
func (r *BenchRun) Step(name string) *BenchStep {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Rate is cycles per second of wall time.
func (r *BenchRun) Rate() float64 {
	if r.Wall <= 0 {
		return 0
	}
	return float64(r.Cycles) / r.Wall.Seconds()
}

func (w *Worker) bench(req *wire.Bench, threads int) (BenchRun, error) {
	// The run lasts Duration; a cycle that outlives the call timeout hangs.
	var r wire.BenchResult
	if err := w.exchangeWithin("bench", req, &r, time.Duration(req.Duration)+w.timeout); err != nil {
		return BenchRun{}, err
	}
	out := BenchRun{Threads: threads, Cycles: r.Cycles, Failed: r.Failed, FirstFailure: r.FirstFailure, Wall: time.Duration(r.Wall)}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, BenchStep{Name: s.Name, Count: s.Count, Total: time.Duration(s.Sum), Max: time.Duration(s.Max), Hist: s.Hist})
	}
	return out, nil
}

func (o *BenchOptions) threads() int { return max(o.Threads, 1) }

// Bench runs full auth cycles (create → pack → unpack → verify → ids →
// destroy both) inside the worker for o.Duration. The plugin must have
// been initialised.
func (a *Auth) Bench(o BenchOptions) (BenchRun, error) {
	if a.Profile.Seed {
		return BenchRun{}, fmt.Errorf("bench does not run the seed document's auth API")
	}
	pv := o.Protocol
	if pv == 0 && a.Series != nil {
		pv = a.Series.Protocol
	}
	w := a.W
	req := wire.Bench{
		Kind: wire.BenchAuth, Steps: o.Steps, Threads: uint8(o.threads()), Duration: uint64(o.Duration),
		Protocol: pv, AuthInfo: []byte(o.AuthInfo), Data: o.Data,
		Create4: len(a.Profile.Func(profile.OpCreate).Params) == 4,
		Create:  w.symIndex(a.Profile, profile.OpCreate), Pack: w.symIndex(a.Profile, profile.OpPack),
		Unpack: w.symIndex(a.Profile, profile.OpUnpack), Verify: w.symIndex(a.Profile, profile.OpVerify),
		GetUID: w.symIndex(a.Profile, profile.OpGetUID), GetGID: w.symIndex(a.Profile, profile.OpGetGID),
		GetIDs: w.symIndex(a.Profile, profile.OpGetIDs), Destroy: w.symIndex(a.Profile, profile.OpDestroy),
		Sign: -1, VerifySign: -1, Purego: o.Purego,
	}
	return w.bench(&req, o.threads())
}

// Bench runs sign → verify_sign → xfree cycles inside the worker with keys
// it already holds.
func (c *Cred) Bench(priv, pub uintptr, o BenchOptions) (BenchRun, error) {
	verify := c.Profile.Func(profile.OpVerifySign)
	if verify == nil || !c.Profile.Has(profile.OpSign) {
		return BenchRun{}, &NotInGenerationError{Op: profile.OpSign, Generation: c.Profile.Name}
	}
	w := c.W
	req := wire.Bench{
		Kind: wire.BenchCred, Steps: o.Steps, Threads: uint8(o.threads()), Duration: uint64(o.Duration),
		Data: o.Data, PrivKey: uint64(priv), PubKey: uint64(pub), ReplayArg: len(verify.Params) == 6,
		Sign: w.symIndex(c.Profile, profile.OpSign), VerifySign: w.symIndex(c.Profile, profile.OpVerifySign),
		Create: -1, Pack: -1, Unpack: -1, Verify: -1, GetUID: -1, GetGID: -1, GetIDs: -1, Destroy: -1,
		Purego: o.Purego,
	}
	return w.bench(&req, o.threads())
}

// BenchCall times a C function that does nothing (the C library's labs),
// called the way the bench loops call the plugin, or through
// purego.SyscallN: the cost of the calling path itself. Its step is "call".
func (w *Worker) BenchCall(d time.Duration, usePurego bool) (BenchRun, error) {
	req := wire.Bench{Kind: wire.BenchNoop, Threads: 1, Duration: uint64(d), Purego: usePurego,
		Create: -1, Pack: -1, Unpack: -1, Verify: -1, GetUID: -1, GetGID: -1, GetIDs: -1, Destroy: -1, Sign: -1, VerifySign: -1}
	return w.bench(&req, 1)
}

// NativeOptions configure a run of the native harness (hack/bench-native.c).
type NativeOptions struct {
	// Harness is the bench-native executable.
	Harness  string
	Threads  int
	Duration time.Duration // of each run
	Runs     int
	AuthInfo string
	DataLen  int
	Protocol uint16
	// KeyFile is the cred key (used as private and public key).
	KeyFile string
}

// NativeRun is what one run of the native harness (bench-native) printed.
type NativeRun struct {
	Kind    string `json:"kind"`
	Threads int    `json:"threads"`
	Runs    []struct {
		Cycles uint64 `json:"cycles"`
		Ns     uint64 `json:"ns"`
	} `json:"runs"`
	P50          uint64 `json:"p50_ns"`
	P90          uint64 `json:"p90_ns"`
	P99          uint64 `json:"p99_ns"`
	Max          uint64 `json:"max_ns"`
	Failed       uint64 `json:"failed"`
	FirstFailure string `json:"first_failure"`
}

// RunNative runs the native harness on the sandbox's plugin, started as a
// worker is: same uid, host library preloaded (or the sysroot's loader),
// same slurm.conf.
func (s *Sandbox) RunNative(ctx context.Context, o NativeOptions) (*NativeRun, error) {
	p := s.Target.Profile
	if p.Seed {
		return nil, fmt.Errorf("the native harness does not run the seed document's API")
	}
	harness, err := s.reach(o.Harness, "bin")
	if err != nil {
		return nil, err
	}
	var args []string
	switch p.Kind {
	case profile.Auth:
		create := p.Func(profile.OpCreate)
		prefix := strings.TrimSuffix(create.Symbol, "create")
		pv := o.Protocol
		if pv == 0 && s.Target.Series != nil {
			pv = s.Target.Series.Protocol
		}
		args = []string{"auth", s.plugin, "--prefix", prefix, "--create-args", strconv.Itoa(len(create.Params)),
			"--protocol", fmt.Sprintf("%#x", pv), "--auth-info", o.AuthInfo, "--data-len", strconv.Itoa(o.DataLen)}
		if p.Has(profile.OpGetIDs) {
			args = append(args, "--get-ids")
		}
	case profile.Cred:
		verify := p.Func(profile.OpVerifySign)
		if verify == nil {
			return nil, &NotInGenerationError{Op: profile.OpSign, Generation: p.Name}
		}
		args = []string{"cred", s.plugin, "--key", o.KeyFile, "--verify-args", strconv.Itoa(len(verify.Params)),
			"--data-len", strconv.Itoa(o.DataLen)}
	}
	args = append(args, "--threads", strconv.Itoa(max(o.Threads, 1)), "--runs", strconv.Itoa(max(o.Runs, 1)),
		"--duration-ms", strconv.FormatInt(max(o.Duration.Milliseconds(), 1), 10))
	if s.opts.Daemon != "" {
		args = append(args, "--daemon", s.opts.Daemon)
	}
	cmd := exec.CommandContext(ctx, harness, args...)
	cmd.Env = []string{"SLURM_CONF=" + s.Conf, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	libPath := strings.Join(s.libraryPath, ":")
	if s.loader != "" {
		cmd.Path = s.loader
		cmd.Args = append([]string{s.loader, "--library-path", libPath, "--preload", s.hostLib, "--argv0", "bench-native", harness}, args...)
	} else {
		cmd.Env = append(cmd.Env, "LD_PRELOAD="+s.hostLib, "LD_LIBRARY_PATH="+libPath)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.UID != os.Geteuid() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.UID), Gid: uint32(s.GID), Groups: []uint32{}}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("native harness %s: %w%s", o.Harness, err, tailSuffix(stderr.String()))
	}
	// The plugin may log to stdout too: the result is the last line.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r NativeRun
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return nil, fmt.Errorf("native harness printed no result: %w", err)
	}
	return &r, nil
}

// Rate is the native harness's cycles per second over all its runs.
func (r *NativeRun) Rate() float64 {
	var c, ns uint64
	for _, run := range r.Runs {
		c += run.Cycles
		ns += run.Ns
	}
	if ns == 0 {
		return 0
	}
	return float64(c) / (float64(ns) / 1e9)
}

// RunRates are the cycles per second of each run.
func (r *NativeRun) RunRates() []float64 {
	var out []float64
	for _, run := range r.Runs {
		if run.Ns > 0 {
			out = append(out, float64(run.Cycles)/(float64(run.Ns)/1e9))
		}
	}
	return out
}

// KeyFileFor writes a 32-byte cred key readable by the sandbox's workers
// and returns its path (inside the sandbox directory, removed with it).
func (s *Sandbox) KeyFileFor(key []byte) (string, error) {
	path := s.Dir + "/bench.key"
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return "", err
	}
	if s.UID != os.Geteuid() {
		if err := os.Chown(path, s.UID, s.GID); err != nil {
			return "", err
		}
	}
	return path, nil
}

// Sandbox is the sandbox the worker was started from.
func (w *Worker) Sandbox() *Sandbox { return w.sb }
