package loader

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// FuzzTarget is the plugin function a fuzzing campaign feeds.
type FuzzTarget string

const (
	// FuzzUnpack is an auth plugin's unpack(buf, protocol_version).
	FuzzUnpack FuzzTarget = "unpack"
	// FuzzVerifySign is the cred key API's verify_sign: mutated signatures
	// and buffers.
	FuzzVerifySign FuzzTarget = "verify_sign"
	// FuzzCredUnpack and FuzzSbcastUnpack are the 23.11+ cred_p_unpack and
	// sbcast_p_unpack.
	FuzzCredUnpack   FuzzTarget = "cred_unpack"
	FuzzSbcastUnpack FuzzTarget = "sbcast_unpack"
)

// Op is the profile operation the target feeds.
func (t FuzzTarget) Op() profile.Op {
	switch t {
	case FuzzUnpack:
		return profile.OpUnpack
	case FuzzVerifySign:
		return profile.OpVerifySign
	case FuzzCredUnpack:
		return profile.OpCredUnpack
	case FuzzSbcastUnpack:
		return profile.OpSbcastUnpack
	}
	return ""
}

func (t FuzzTarget) wire() uint8 {
	switch t {
	case FuzzUnpack:
		return wire.FuzzAuthUnpack
	case FuzzVerifySign:
		return wire.FuzzVerifySign
	case FuzzCredUnpack:
		return wire.FuzzCredUnpack
	case FuzzSbcastUnpack:
		return wire.FuzzSbcastUnpack
	}
	return 0
}

// FuzzTargets lists the functions of p a campaign can feed.
func FuzzTargets(p *profile.Profile) []FuzzTarget {
	if p.Seed {
		return nil // the seed forms' unpack fills a caller's structure
	}
	var out []FuzzTarget
	for _, t := range []FuzzTarget{FuzzUnpack, FuzzVerifySign, FuzzCredUnpack, FuzzSbcastUnpack} {
		if p.Has(t.Op()) && (t != FuzzUnpack || p.Kind == profile.Auth) {
			out = append(out, t)
		}
	}
	return out
}

// ParseFuzzTarget checks a target name against the plugin's generation.
func ParseFuzzTarget(p *profile.Profile, name string) (FuzzTarget, error) {
	var names []string
	for _, t := range FuzzTargets(p) {
		if string(t) == name {
			return t, nil
		}
		names = append(names, string(t))
	}
	if len(names) == 0 {
		return "", fmt.Errorf("generation %s has no function plugincheck fuzz can feed", p.Name)
	}
	return "", fmt.Errorf("no fuzz target %q for generation %s (targets: %s)", name, p.Name, strings.Join(names, ", "))
}

// FuzzInput is one input of a target. For FuzzVerifySign, Data is a u32
// big-endian buffer length, the buffer, then the signature.
type FuzzInput struct {
	Target   FuzzTarget
	Protocol uint16
	Data     []byte
}

// SignedInput builds a verify_sign input.
func SignedInput(buffer, sig []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(buffer)))
	return append(append(out, buffer...), sig...)
}

// SplitSigned splits a verify_sign input as the worker does.
func SplitSigned(in []byte) (buffer, sig []byte) {
	if len(in) < 4 {
		return nil, in
	}
	n := int(min(binary.BigEndian.Uint32(in), uint32(len(in)-4)))
	return in[4 : 4+n], in[4+n:]
}

// FuzzConfig describes how fuzzing workers run.
type FuzzConfig struct {
	// AuthInfo is create's auth_info for the seed credentials.
	AuthInfo string
	// KeyFile is the cred key (read_private_key and read_public_key).
	KeyFile string
	// MaxLen bounds an input (default 64 KiB).
	MaxLen int
	// HeapLimit bounds the C heap's growth in one worker (default 256 MiB);
	// beyond it the input that grows it most is a "leak" finding.
	HeapLimit uint64
	// Timeout is how long one execution may run before it is a hang
	// (default 2s).
	Timeout time.Duration
}

// WithDefaults is c with every zero field set to its default.
func (c FuzzConfig) WithDefaults() FuzzConfig {
	c.defaults()
	return c
}

func (c *FuzzConfig) defaults() {
	if c.MaxLen <= 0 {
		c.MaxLen = 64 << 10
	}
	if c.HeapLimit == 0 {
		c.HeapLimit = 256 << 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
}

// Failure kinds.
const (
	FailCrash   = "crash"   // killed by a signal
	FailHang    = "hang"    // one execution outlived FuzzConfig.Timeout
	FailExit    = "exit"    // the process exited (exit(), fatal())
	FailOOM     = "oom"     // an allocation beyond the worker's address-space bound
	FailLeak    = "leak"    // the heap grew beyond FuzzConfig.HeapLimit
	FailClobber = "clobber" // the call closed the process's standard descriptors
)

// FuzzFailure is one input that made the plugin fail, and how.
type FuzzFailure struct {
	Kind     string `json:"kind"`
	Function string `json:"function"`
	Signal   string `json:"signal,omitempty"`
	Status   int    `json:"exit_status,omitempty"`
	// LeakBytes is the heap growth of one execution (leak).
	LeakBytes int64 `json:"leak_bytes,omitempty"`
	// Detail is the tail of the worker's stderr, or the error text.
	Detail string    `json:"detail,omitempty"`
	Input  FuzzInput `json:"-"`
}

// Same reports whether g is the same failure as f: kind, function and
// signal (or exit status).
func (f *FuzzFailure) Same(g *FuzzFailure) bool {
	return g != nil && f.Kind == g.Kind && f.Function == g.Function && f.Signal == g.Signal && f.Status == g.Status
}

func (f *FuzzFailure) String() string {
	switch f.Kind {
	case FailCrash:
		return fmt.Sprintf("crash (%s) in %s", f.Signal, f.Function)
	case FailExit:
		return fmt.Sprintf("exit (status %d) in %s", f.Status, f.Function)
	case FailLeak:
		return fmt.Sprintf("leak (%d bytes per call) in %s", f.LeakBytes, f.Function)
	case FailOOM:
		return fmt.Sprintf("oom (allocation beyond the bound, %s) in %s", f.Signal, f.Function)
	}
	return fmt.Sprintf("%s in %s", f.Kind, f.Function)
}

// Key names the failure for deduplication and file names.
func (f *FuzzFailure) Key() string {
	k := f.Kind + "-" + f.Function
	if f.Signal != "" {
		k += "-" + f.Signal
	}
	if f.Kind == FailExit {
		k += fmt.Sprintf("-%d", f.Status)
	}
	return k
}

// FuzzWorker is one worker set up for fuzzing: plugin initialised, cred
// key loaded, status file shared.
type FuzzWorker struct {
	sb         *Sandbox
	cfg        FuzzConfig
	W          *Worker
	statusPath string
	// status is a read-only view of the status file; statusMu keeps
	// LiveExecs (called from other goroutines) off it once unmapped.
	statusMu sync.Mutex
	status   []byte
	key      uintptr
	// sent counts the corpus entries this worker already has.
	sent    int
	started time.Time
	// done is the executions of finished batches.
	done uint64
}

var fuzzStatusSeq atomic.Int64

// NewFuzzWorker starts a worker for fuzzing.
func (s *Sandbox) NewFuzzWorker(ctx context.Context, cfg FuzzConfig) (*FuzzWorker, error) {
	cfg.defaults()
	path := filepath.Join(s.Dir, fmt.Sprintf("fuzz-status-%d-%d", os.Getpid(), fuzzStatusSeq.Add(1)))
	size := wire.FuzzStatusInput + cfg.MaxLen
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		return nil, err
	}
	if s.UID != os.Geteuid() {
		if err := os.Chown(path, s.UID, s.GID); err != nil {
			os.Remove(path)
			return nil, err
		}
	}
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	status, err := syscall.Mmap(fd, 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
	syscall.Close(fd)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	f := &FuzzWorker{sb: s, cfg: cfg, statusPath: path, status: status, started: time.Now()}
	if f.W, err = s.Start(ctx); err != nil {
		f.release()
		return nil, err
	}
	fail := func(err error) (*FuzzWorker, error) {
		f.Close()
		return nil, err
	}
	p := s.Target.Profile
	if init := p.Func(profile.OpInit); init != nil && f.W.Has(init.Symbol) {
		r, err := f.W.Call(init.Symbol)
		if err != nil {
			return fail(err)
		}
		if r.Int() != 0 {
			return fail(&SetupError{Stage: "init", Msg: fmt.Sprintf("init returned %d, errno %d", r.Int(), r.Errno)})
		}
	}
	if p.Has(profile.OpReadPublicKey) && p.Has(profile.OpVerifySign) && cfg.KeyFile != "" {
		c, _ := f.W.Cred()
		key, r, err := c.ReadPublicKey(&cfg.KeyFile)
		if err != nil {
			return fail(err)
		}
		if key == 0 {
			return fail(&SetupError{Stage: "read_public_key", Msg: fmt.Sprintf("returned NULL, errno %d", r.Errno)})
		}
		f.key = key
	}
	return f, nil
}

func (f *FuzzWorker) release() {
	f.statusMu.Lock()
	if f.status != nil {
		syscall.Munmap(f.status)
		f.status = nil
	}
	f.statusMu.Unlock()
	os.Remove(f.statusPath)
}

// Close ends the worker.
func (f *FuzzWorker) Close() {
	if f.W != nil {
		f.W.Close()
	}
	f.release()
}

// Age is how long the worker has been running.
func (f *FuzzWorker) Age() time.Duration { return time.Since(f.started) }

// Execs is the number of executions of the worker's finished batches.
func (f *FuzzWorker) Execs() uint64 { return f.done }

// LiveExecs is the number of executions of the batch under way (or of the
// last one).
func (f *FuzzWorker) LiveExecs() uint64 {
	f.statusMu.Lock()
	defer f.statusMu.Unlock()
	if f.status == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(f.status[wire.FuzzStatusExecs:])
}

// FuzzBatch is what a batch did.
type FuzzBatch struct {
	Execs, Accepted uint64
	// New inputs had an outcome the worker had not seen.
	New []FuzzInput
	// Heap is the C heap's growth since the worker's first batch.
	HeapGrowth int64
	Elapsed    time.Duration
	// Faults are the executions that read past their input into the guard
	// page after it, which the worker recovered from (see the worker's
	// fault handler): crashes as a worker's end would report them, the
	// worker still running.
	Faults []FuzzFailure
	// FaultHeap is the part of HeapGrowth that faulting calls left
	// allocated; beyond FaultBudget the worker is to be retired.
	FaultHeap, FaultBudget int64
}

// Batch runs corpus[sent:] (the entries the worker does not have yet) once
// each and adds them to the worker's corpus, then count mutated executions
// of target. A failure (crash, hang, exit, leak) ends the
// worker and is returned with the input that caused it, except a read past
// the input into its guard page, which the worker recovers from: those are
// the batch's Faults. err is for anything else.
func (f *FuzzWorker) Batch(target FuzzTarget, seed uint64, count int, corpus []FuzzInput, protocols []uint16) (*FuzzBatch, *FuzzFailure, error) {
	// The worker's corpus is shared by its targets (cred_p_unpack and
	// sbcast_p_unpack read similar data).
	var add []wire.FuzzInput
	for _, in := range corpus[min(f.sent, len(corpus)):] {
		add = append(add, wire.FuzzInput{Protocol: in.Protocol, Data: in.Data})
	}
	if target == FuzzVerifySign {
		protocols = nil // verify_sign takes none
	}
	req := f.request(target)
	req.Mode, req.Seed, req.Count, req.Inputs, req.Protocols = wire.FuzzMutate, seed, uint32(count), add, protocols
	if target == FuzzUnpack || target == FuzzVerifySign {
		// The 23.11+ credentials are not freed (see the worker): their
		// heap growth is the harness's, not a finding.
		req.HeapLimit = f.cfg.HeapLimit
	}
	start := time.Now()
	res, fail, err := f.run(target, &req)
	if err != nil || fail != nil {
		return nil, fail, err
	}
	f.sent = len(corpus)
	b := &FuzzBatch{Execs: res.Execs, Accepted: res.Accepted, HeapGrowth: int64(res.Heap) - int64(res.HeapBase), Elapsed: time.Since(start),
		FaultHeap: int64(res.FaultHeap), FaultBudget: int64(res.FaultBudget)}
	for _, in := range res.New {
		b.New = append(b.New, FuzzInput{Target: target, Protocol: in.Protocol, Data: append([]byte(nil), in.Data...)})
	}
	for _, ft := range res.Faults {
		b.Faults = append(b.Faults, f.recoveredFault(target, ft))
	}
	if res.HeapExceeded {
		fn := f.symbolOf(target, wire.FuzzPhaseCall)
		if len(res.Leak.Data) == 0 && res.LeakBytes == 0 {
			return b, nil, fmt.Errorf("the C heap grew by %d bytes and no single input of the latest %d grows it", b.HeapGrowth, 256)
		}
		return b, &FuzzFailure{Kind: FailLeak, Function: fn, LeakBytes: res.LeakBytes,
			Detail: fmt.Sprintf("heap grew %d bytes in one worker", b.HeapGrowth),
			Input:  FuzzInput{Target: target, Protocol: res.Leak.Protocol, Data: append([]byte(nil), res.Leak.Data...)}}, nil
	}
	return b, nil, nil
}

// Replay runs each input count times as given; with measure, the heap
// growth of each is returned.
func (f *FuzzWorker) Replay(inputs []FuzzInput, count int, measure bool) ([]int64, *FuzzFailure, error) {
	if len(inputs) == 0 {
		return nil, nil, nil
	}
	target := inputs[0].Target
	req := f.request(target)
	req.Mode, req.Count, req.Measure = wire.FuzzReplay, uint32(max(count, 1)), measure
	for _, in := range inputs {
		if in.Target != target {
			return nil, nil, fmt.Errorf("replay of inputs for different targets")
		}
		req.Inputs = append(req.Inputs, wire.FuzzInput{Protocol: in.Protocol, Data: in.Data})
	}
	res, fail, err := f.run(target, &req)
	if err != nil || fail != nil {
		return nil, fail, err
	}
	return res.Growth, nil, nil
}

func (f *FuzzWorker) request(target FuzzTarget) wire.Fuzz {
	p := f.sb.Target.Profile
	req := wire.Fuzz{Target: target.wire(), Fn: f.W.symIndex(p, target.Op()), Destroy: -1,
		StatusPath: f.statusPath, MaxLen: uint32(f.cfg.MaxLen), Key: uint64(f.key)}
	if target == FuzzUnpack {
		req.Destroy = f.W.symIndex(p, profile.OpDestroy)
	}
	if fn := p.Func(target.Op()); fn != nil {
		req.Arity = uint8(len(fn.Params))
	}
	return req
}

// run sends one fuzz request while a watchdog reads the execution counter:
// one that stops moving for the configured timeout is a hang.
func (f *FuzzWorker) run(target FuzzTarget, req *wire.Fuzz) (*wire.FuzzResult, *FuzzFailure, error) {
	if req.Fn < 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoSymbol, target)
	}
	w := f.W
	var hung atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		last, since := f.LiveExecs(), time.Now()
		tick := time.NewTicker(min(f.cfg.Timeout/10, 50*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if cur := f.LiveExecs(); cur != last {
				last, since = cur, time.Now()
			} else if time.Since(since) > f.cfg.Timeout {
				hung.Store(true)
				w.kill()
				return
			}
		}
	}()
	// The watchdog bounds each execution; this only bounds a worker that
	// stops answering altogether.
	var res wire.FuzzResult
	err := w.exchangeWithin("fuzz", req, &res, time.Hour)
	close(stop)
	wg.Wait()
	if err != nil {
		if fail := f.classify(target, err, hung.Load()); fail != nil {
			return nil, fail, nil
		}
		return nil, nil, err
	}
	f.done += res.Execs
	return &res, nil, nil
}

// recoveredFault is the failure a recovered fault would have been had it
// ended the worker, as classify names it, and what it was: which bytes the
// read ran past, and how far.
func (f *FuzzWorker) recoveredFault(target FuzzTarget, ft wire.FuzzFault) FuzzFailure {
	region := "input"
	if target == FuzzVerifySign {
		region = "buffer"
		if ft.Region == wire.FuzzRegionSignature {
			region = "signature"
		}
	}
	return FuzzFailure{Kind: FailCrash, Function: f.symbolOf(target, ft.Phase), Signal: signalName(syscall.Signal(ft.Signal)),
		Detail: fmt.Sprintf("over-read into the guard page after the %s, at offset %d past its end; recovered in the worker", region, ft.Past),
		Input:  FuzzInput{Target: target, Protocol: ft.Input.Protocol, Data: append([]byte(nil), ft.Input.Data...)}}
}

// symbolOf names the function running in phase.
func (f *FuzzWorker) symbolOf(target FuzzTarget, phase byte) string {
	p := f.sb.Target.Profile
	if phase == wire.FuzzPhaseDestroy && target == FuzzUnpack {
		return p.Func(profile.OpDestroy).Symbol
	}
	if fn := p.Func(target.Op()); fn != nil {
		return fn.Symbol
	}
	return string(target)
}

// classify turns the end of the worker into a failure, with the input the
// status file names; nil when the worker did not die of the input.
func (f *FuzzWorker) classify(target FuzzTarget, err error, hung bool) *FuzzFailure {
	st := f.status
	n := int(binary.LittleEndian.Uint32(st[wire.FuzzStatusLen:]))
	n = min(n, len(st)-wire.FuzzStatusInput)
	in := FuzzInput{Target: target, Protocol: binary.LittleEndian.Uint16(st[wire.FuzzStatusProtocol:]),
		Data: append([]byte(nil), st[wire.FuzzStatusInput:wire.FuzzStatusInput+n]...)}
	fail := &FuzzFailure{Function: f.symbolOf(target, st[wire.FuzzStatusPhase]), Input: in}
	f.done += f.LiveExecs()
	var crash *CrashError
	var exit *ExitError
	var clobber *ClobberError
	var hang *HangError
	switch {
	case hung || errors.As(err, &hang):
		fail.Kind = FailHang
		fail.Detail = fmt.Sprintf("no progress for %v", f.cfg.Timeout)
	case errors.As(err, &crash):
		fail.Kind, fail.Signal, fail.Detail = FailCrash, signalName(crash.Signal), crash.Stderr
		if outOfMemory(crash.Stderr) {
			fail.Kind = FailOOM
		}
	case errors.As(err, &exit):
		fail.Kind, fail.Status, fail.Detail = FailExit, exit.Status, exit.Stderr
		if outOfMemory(exit.Stderr) {
			fail.Kind = FailOOM
		}
	case errors.As(err, &clobber):
		fail.Kind, fail.Detail = FailClobber, clobber.What
	default:
		return nil
	}
	if len(fail.Detail) > 2000 {
		fail.Detail = fail.Detail[len(fail.Detail)-2000:]
	}
	return fail
}

// outOfMemory recognises the messages of an allocation that failed (the
// worker runs with an address-space bound): Slurm's xmalloc logs "malloc
// failed" and aborts.
func outOfMemory(stderr string) bool {
	lines := strings.Split(strings.TrimSpace(strings.ToLower(stderr)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:] // the process died right after
	}
	for _, l := range lines {
		for _, m := range []string{"malloc failed", "out of memory", "cannot allocate memory"} {
			if strings.Contains(l, m) {
				return true
			}
		}
	}
	return false
}

// FuzzSeeds makes valid inputs with the plugin itself: credentials created
// and packed at every protocol version the series accepts (auth), or
// buffers and their signatures (cred key API). The 23.11+ cred unpack
// functions have none: their credentials need the release's structures.
func (s *Sandbox) FuzzSeeds(ctx context.Context, cfg FuzzConfig, target FuzzTarget) ([]FuzzInput, error) {
	if target == FuzzCredUnpack || target == FuzzSbcastUnpack {
		return nil, nil
	}
	fw, err := s.NewFuzzWorker(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer fw.Close()
	w := fw.W
	var out []FuzzInput
	payloads := [][]byte{nil, []byte("x"), []byte("plugincheck fuzz seed"), make([]byte, 300)}
	switch target {
	case FuzzUnpack:
		a, err := w.Auth()
		if err != nil {
			return nil, err
		}
		pvs := []uint16{0}
		if a.Series != nil {
			pvs = a.Series.ProtocolVersions()
		}
		if len(a.Profile.Func(profile.OpCreate).Params) == 1 {
			payloads = payloads[:1]
		}
		for _, data := range payloads {
			cred, r, err := a.Create(cfg.AuthInfo, profile.SlurmAuthUIDAny, data)
			if err != nil {
				return nil, err
			}
			if cred == 0 {
				return nil, fmt.Errorf("create returned NULL, errno %d: no valid credential to start from", r.Errno)
			}
			for _, pv := range pvs {
				b, rc, r, err := a.PackBytes(cred, pv)
				if err != nil {
					return nil, err
				}
				if rc != 0 {
					return nil, fmt.Errorf("pack returned %d, errno %d: no valid credential to start from", rc, r.Errno)
				}
				out = append(out, FuzzInput{Target: target, Protocol: pv, Data: b})
			}
			if _, _, err := a.Destroy(cred); err != nil {
				return nil, err
			}
		}
	case FuzzVerifySign:
		c, err := w.Cred()
		if err != nil {
			return nil, err
		}
		key, r, err := c.ReadPrivateKey(&cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		if key == 0 {
			return nil, fmt.Errorf("read_private_key returned NULL, errno %d", r.Errno)
		}
		for _, data := range payloads[1:] {
			sig, rc, r, err := c.Sign(key, data)
			if err != nil {
				return nil, err
			}
			if rc != 0 || sig.Ptr == 0 {
				return nil, fmt.Errorf("sign returned %d, errno %d: no valid signature to start from", rc, r.Errno)
			}
			b, err := c.SignatureBytes(sig)
			if err != nil {
				return nil, err
			}
			if err := c.FreeSignature(sig); err != nil {
				return nil, err
			}
			out = append(out, FuzzInput{Target: target, Data: SignedInput(data, b)})
		}
	}
	return out, nil
}

// Reproduce runs one input in a fresh worker and returns how it fails, nil
// when it does not. A leak is measured over 1000 executions.
func (s *Sandbox) Reproduce(ctx context.Context, cfg FuzzConfig, in FuzzInput, kind string) (*FuzzFailure, error) {
	fw, err := s.NewFuzzWorker(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer fw.Close()
	return fw.Reproduce(in, kind)
}

// Reproduce runs one input in the worker and returns how it fails, nil
// when it does not. A leak is measured over 1000 executions.
func (fw *FuzzWorker) Reproduce(in FuzzInput, kind string) (*FuzzFailure, error) {
	if kind != FailLeak {
		_, fail, err := fw.Replay([]FuzzInput{in}, 1, false)
		return fail, err
	}
	const reps = 1000
	growth, fail, err := fw.Replay([]FuzzInput{in}, reps, true)
	if fail != nil || err != nil {
		return fail, err
	}
	// A leak of at least 16 bytes a call: well above malloc's own noise.
	if len(growth) == 1 && growth[0] >= 16*reps {
		return &FuzzFailure{Kind: FailLeak, Function: fw.symbolOf(in.Target, wire.FuzzPhaseCall),
			LeakBytes: growth[0] / reps, Input: in}, nil
	}
	return nil, nil
}
