package loader

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"sync/atomic"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/internal/worker"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// ServeWorkerIfRequested turns this process into a worker when the parent
// started it as one, and never returns in that case. Call it first thing in
// main, and in TestMain of any test binary that starts workers.
func ServeWorkerIfRequested() {
	if worker.Requested() {
		worker.Serve()
	}
}

// Worker is one process that has loaded the host library and the plugin
// and runs plugin calls for the parent. A Worker is not safe for concurrent
// use.
type Worker struct {
	sb   *Sandbox
	cmd  *exec.Cmd
	req  *os.File
	resp *bufio.Reader
	// Pid is the worker's process id.
	Pid int

	syms    map[string]int // symbol → index in the worker's table
	addrs   []uint64       // address of each symbol, 0 when absent
	stdout  *tail
	stderr  *tail
	exited  chan struct{}
	state   *os.ProcessState
	dead    error // sticky: the failure that ended the worker
	calls   []string
	timeout time.Duration
	// deadline is the bound of the request under way.
	deadline time.Duration
	enc      wire.Encoder
	call     wire.Call // reused by every Call
	buf      []byte
	forget   func() // the interrupt's kill of the worker
}

// Start launches a worker: host library and plugin loaded, init not yet
// called. It reads key files as the daemon would (KeyAccess).
func (s *Sandbox) Start(ctx context.Context) (*Worker, error) {
	return s.start(ctx, s.opts.Daemon, s.keyAccess)
}

// StartWithoutKeyAccess launches a worker that reads files with its uid's
// permissions only, as a daemon running as SlurmUser does: what specs of
// unreadable key files need.
func (s *Sandbox) StartWithoutKeyAccess(ctx context.Context) (*Worker, error) {
	return s.start(ctx, s.opts.Daemon, false)
}

// StartAs launches a worker that runs as inside the Slurm daemon named
// ("slurmd", …; "" for a client), whatever the sandbox's options say: the
// 23.11+ cred plugins verify only in slurmd.
func (s *Sandbox) StartAs(ctx context.Context, daemon string) (*Worker, error) {
	return s.start(ctx, daemon, s.keyAccess)
}

func (s *Sandbox) start(ctx context.Context, daemon string, keyAccess bool) (*Worker, error) {
	if err := cleanup.Check(); err != nil {
		return nil, &SetupError{Stage: "start worker", Err: err}
	}
	syms := symbolsOf(s.Target.Profile)
	cfg, err := json.Marshal(worker.Config{
		Fingerprint: worker.Fingerprint(),
		HostLib:     s.hostLib, Plugin: s.plugin, SlurmConf: s.Conf, Symbols: syms, HostSymbols: hostSymbols,
		AddressSpace: s.opts.AddressSpace, CPUSeconds: 600, Daemon: daemon,
	})
	if err != nil {
		return nil, err
	}
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()

	// The plugin sees the caller's environment, as a daemon inherits its
	// own, then the run's own settings; what the worker needs comes last
	// and wins (exec keeps the last of duplicate names).
	env := append(WorkerEnv(os.Environ(), s.opts.Env),
		worker.EnvConfig+"="+string(cfg),
		"GOTRACEBACK=crash", // die by the plugin's signal, not exit status 2
		// One P: the worker serves one request at a time, and a second P only
		// adds scheduler hand-offs to every blocking read. Plugin calls leave
		// the P while they run, so threaded specs still run C concurrently.
		"GOMAXPROCS=1",
		"SLURM_CONF="+s.Conf,
	)
	cmd := &exec.Cmd{Path: s.worker, Args: []string{"plugincheck-worker"}, Env: env}
	libPath := strings.Join(s.libraryPath, ":")
	if s.loader != "" {
		// A newer C library: start the binary through the sysroot's loader
		// (design.md "Hosts").
		cmd.Path = s.loader
		cmd.Args = []string{s.loader, "--library-path", libPath, "--preload", s.hostLib, "--argv0", "plugincheck-worker", s.worker}
	} else {
		// libslurmfull first in the global scope, ahead of libc: its error()
		// must win over glibc's (design.md trap 1).
		cmd.Env = append(cmd.Env, "LD_PRELOAD="+s.hostLib, "LD_LIBRARY_PATH="+libPath)
	}
	cmd.ExtraFiles = []*os.File{reqR, respW}
	cmd.Stdout, cmd.Stderr = outW, errW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.UID != os.Geteuid() {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.UID), Gid: uint32(s.GID), Groups: []uint32{}}
		if keyAccess {
			cmd.SysProcAttr.AmbientCaps = []uintptr{capDACReadSearch}
		}
	}
	w := &Worker{
		sb: s, cmd: cmd, req: reqW, resp: bufio.NewReaderSize(&spinReader{f: respR}, 64<<10),
		syms: map[string]int{}, stdout: newTail(64 << 10), stderr: newTail(64 << 10),
		exited: make(chan struct{}), timeout: s.opts.CallTimeout,
	}
	cmd, err = startRetrying(cmd)
	w.cmd = cmd
	reqR.Close()
	respW.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		outR.Close()
		errR.Close()
		return nil, &SetupError{Stage: "start worker", Err: err}
	}
	w.Pid = cmd.Process.Pid
	w.forget = cleanup.Add(w.kill)
	go w.stdout.drain(outR)
	go w.stderr.drain(errR)
	go func() {
		w.cmd.Wait()
		w.state = w.cmd.ProcessState
		// The worker's last frame (a Clobber report just before it
		// exits) may still be in the pipe: the reader gets it first. A
		// grandchild that holds the write end open must not keep the
		// reader waiting, hence a deadline, and the close after it.
		if err := respR.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			respR.Close()
		} else {
			time.AfterFunc(2*time.Second, func() { respR.Close() })
		}
		close(w.exited)
	}()
	for i, name := range append(syms, hostSymbols...) {
		w.syms[name] = i
	}
	if err := w.hello(ctx); err != nil {
		w.kill()
		w.forget()
		return nil, err
	}
	return w, nil
}

// hostSymbols are host functions specs may call through Worker.Call.
// switch_g_init is what every daemon calls at start (the 23.11+ cred
// plugins pack switch data through it); slurm_cred_destroy and
// delete_sbcast_cred free 23.11+ credentials as the framework does;
// getenv (the C library's, through the host's scope) shows what the
// plugin sees of its environment.
var hostSymbols = []string{"slurm_strerror", "destroy_identity", "switch_g_init", "slurm_cred_destroy", "delete_sbcast_cred", "getenv"}

func symbolsOf(p *profile.Profile) []string {
	var out []string
	for _, f := range p.Funcs {
		out = append(out, f.Symbol)
	}
	for _, d := range p.Data {
		out = append(out, d.Symbol)
	}
	return out
}

func (w *Worker) hello(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.sb.opts.StartTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, w.kill)
	defer stop()
	body, err := wire.ReadFrame(w.resp, nil)
	if err != nil {
		<-w.exited
		<-w.stderr.done
		stderr := pluginOutput(w.stderr.String())
		switch {
		case ctx.Err() != nil:
			return &SetupError{Stage: "load", Msg: fmt.Sprintf("worker not ready after %v", w.sb.opts.StartTimeout), Stderr: stderr}
		case strings.Contains(stderr, "fatal:") || strings.Contains(stderr, "slurm.conf") || strings.Contains(stderr, "Parsing error"):
			return &SetupError{Stage: w.sb.confName(), Msg: "rejected by the host's Slurm", Stderr: stderr}
		}
		return &SetupError{Stage: "load", Msg: "worker ended during start-up: " + describeExit(w.state), Stderr: stderr}
	}
	d := wire.NewDecoder(body)
	switch wire.Status(d.U8()) {
	case wire.Hello:
	case wire.Failed:
		msg := d.String()
		stage := "load"
		if strings.HasPrefix(msg, "slurm_conf_init") {
			stage = w.sb.confName()
		}
		return &SetupError{Stage: stage, Msg: msg, Stderr: pluginOutput(w.stderr.String())}
	default:
		return &ProtocolError{Func: "start", Msg: "unexpected first frame"}
	}
	var h wire.WorkerHello
	if h.Decode(d); d.Err() != nil {
		return &ProtocolError{Func: "start", Msg: "short hello"}
	}
	w.addrs = h.Addrs
	return nil
}

func describeExit(st *os.ProcessState) string {
	if st == nil {
		return "unknown status"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by " + signalName(ws.Signal())
	}
	return fmt.Sprintf("exit status %d", st.ExitCode())
}

// Target is the plugin the worker runs.
func (w *Worker) Target() *Target { return w.sb.Target }

// Has reports whether the plugin exports sym.
func (w *Worker) Has(sym string) bool {
	i, ok := w.syms[sym]
	return ok && w.addrs[i] != 0
}

// Address is where sym is loaded in the worker, 0 when absent.
func (w *Worker) Address(sym string) uint64 {
	if i, ok := w.syms[sym]; ok {
		return w.addrs[i]
	}
	return 0
}

// Reload unloads the plugin and loads it again in the same process, as
// slurmd does on reconfigure. stillMapped reports that dlclose did not unmap
// the image (so its globals survived).
func (w *Worker) Reload() (stillMapped bool, err error) {
	var r wire.Reloaded
	if err := w.exchange("dlclose/dlopen", wire.Bare(wire.OpReload), &r); err != nil {
		return false, err
	}
	copy(w.addrs, r.Addrs)
	return r.StillMapped, nil
}

// symbolIndex is sym's index in the worker's symbol table, as requests
// that run loops inside the worker name functions; -1 when the plugin (or
// host) does not export it.
func (w *Worker) symbolIndex(sym string) int16 {
	if i, ok := w.syms[sym]; ok && w.addrs[i] != 0 {
		return int16(i)
	}
	return -1
}

// symIndex is the index of the function p uses for op, -1 when absent.
func (w *Worker) symIndex(p *profile.Profile, op profile.Op) int16 {
	if f := p.Func(op); f != nil {
		return w.symbolIndex(f.Symbol)
	}
	return -1
}

// Stdout and Stderr return the tail of what the worker's process wrote.
func (w *Worker) Stdout() string { return w.stdout.String() }
func (w *Worker) Stderr() string { return w.stderr.String() }

// OutputBytes is the total the worker wrote to stdout and stderr.
func (w *Worker) OutputBytes() (stdout, stderr int64) { return w.stdout.Total(), w.stderr.Total() }

// Calls lists the plugin calls made so far, oldest first.
func (w *Worker) Calls() []string { return append([]string(nil), w.calls...) }

// Err is the failure that ended the worker, nil while it is alive.
func (w *Worker) Err() error { return w.dead }

func (w *Worker) kill() {
	if w.cmd.Process != nil {
		syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
		w.cmd.Process.Kill()
	}
}

// Close ends the worker and waits until it is gone.
func (w *Worker) Close() error {
	select {
	case <-w.exited:
	default:
		wire.WriteFrame(w.req, w.enc.Request(wire.Bare(wire.OpExit)))
		select {
		case <-w.exited:
		case <-time.After(2 * time.Second):
			w.kill()
			<-w.exited
		}
	}
	w.req.Close()
	for _, t := range []*tail{w.stdout, w.stderr} {
		select {
		case <-t.done:
		case <-time.After(time.Second): // a grandchild holds the pipe open
		}
	}
	// The process group may hold children the plugin started.
	syscall.Kill(-w.Pid, syscall.SIGKILL)
	w.forget()
	return nil
}

// roundTrip sends one request and returns the response body. fn names the
// plugin function for error reports.
func (w *Worker) roundTrip(fn string, body []byte) (*wire.Decoder, error) {
	return w.roundTripWithin(fn, body, w.timeout)
}

func (w *Worker) roundTripWithin(fn string, body []byte, timeout time.Duration) (*wire.Decoder, error) {
	if w.dead != nil {
		return nil, w.dead
	}
	var hung atomic.Bool
	w.deadline = timeout
	timer := time.AfterFunc(timeout, func() { hung.Store(true); w.kill() })
	err := wire.WriteFrame(w.req, body)
	var resp []byte
	if err == nil {
		resp, err = wire.ReadFrame(w.resp, w.buf)
	}
	timer.Stop()
	if err != nil {
		w.dead = w.failure(fn, hung.Load())
		return nil, w.dead
	}
	w.buf = resp
	d := wire.NewDecoder(resp)
	switch wire.Status(d.U8()) {
	case wire.OK:
		return d, nil
	case wire.Clobber:
		w.dead = &ClobberError{Func: fn, What: d.String()}
		w.kill()
		return nil, w.dead
	case wire.Failed:
		return nil, &ProtocolError{Func: fn, Msg: d.String()}
	}
	w.dead = &ProtocolError{Func: fn, Msg: "unreadable response"}
	w.kill()
	return nil, w.dead
}

var killGrace = 5 * time.Second

// failure classifies a worker that stopped answering during fn.
func (w *Worker) failure(fn string, hung bool) error {
	select {
	case <-w.exited:
	case <-time.After(killGrace):
		w.kill()
		<-w.exited
	}
	select {
	case <-w.stderr.done:
	case <-time.After(time.Second):
	}
	calls := w.Calls()
	if hung {
		return &HangError{Func: fn, Deadline: w.deadline, Calls: calls}
	}
	raw := w.stderr.String()
	stderr := pluginOutput(raw)
	if ws, ok := w.state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &CrashError{Func: fn, Signal: originalSignal(ws.Signal(), raw), Stderr: stderr, Calls: calls}
	}
	return &ExitError{Func: fn, Status: w.state.ExitCode(), Stderr: stderr, Calls: calls}
}

// Arg is one argument of a plugin call.
type Arg struct{ wire wire.Arg }

// Int passes an integer or a pointer the worker already holds.
func Int(v int64) Arg { return Arg{wire.Arg{Kind: wire.ArgInt, Value: uint64(v)}} }

// Ptr passes an address in the worker.
func Ptr(p uintptr) Arg { return Arg{wire.Arg{Kind: wire.ArgInt, Value: uint64(p)}} }

// Null passes NULL.
var Null = Arg{wire.Arg{Kind: wire.ArgInt}}

// Bytes passes a pointer to a copy of b (non-NULL even when b is empty).
func Bytes(b []byte) Arg { return Arg{wire.Arg{Kind: wire.ArgBytes, Data: b}} }

// CString passes a pointer to a NUL-terminated copy of s.
func CString(s string) Arg { return Arg{wire.Arg{Kind: wire.ArgCString, Data: []byte(s)}} }

// Guarded passes a pointer to a copy of b whose last byte sits just before
// an unmapped page: a callee that reads past len(b) faults.
func Guarded(b []byte) Arg { return Arg{wire.Arg{Kind: wire.ArgGuarded, Data: b}} }

// Out passes a pointer to n zeroed bytes whose contents the call's Result
// returns.
func Out(n int) Arg { return Arg{wire.Arg{Kind: wire.ArgOut, Value: uint64(n)}} }

// Result is what one plugin call returned.
type Result struct {
	Func    string
	Ret     uint64 // rax
	Errno   int32  // errno after the call (cleared before it)
	Elapsed time.Duration
	// SignalsChanged lists signals whose disposition the call replaced; the
	// worker put the original back.
	SignalsChanged []syscall.Signal
	// Outs holds the final contents of each Out argument.
	Outs [][]byte
}

// Int is the return value as a C int.
func (r Result) Int() int32 { return int32(r.Ret) }

// Uint32 is the return value as uint32_t, uid_t or gid_t.
func (r Result) Uint32() uint32 { return uint32(r.Ret) }

// Ptr is the return value as a pointer.
func (r Result) Ptr() uintptr { return uintptr(r.Ret) }

// Out returns out-argument i as a little-endian integer.
func (r Result) Out(i int) uint64 {
	var v uint64
	b := r.Outs[i]
	for j := len(b) - 1; j >= 0; j-- {
		v = v<<8 | uint64(b[j])
	}
	return v
}

// Call runs the plugin function sym with args.
func (w *Worker) Call(sym string, args ...Arg) (Result, error) {
	idx, ok := w.syms[sym]
	if !ok || w.addrs[idx] == 0 {
		return Result{Func: sym}, fmt.Errorf("%w: %s", ErrNoSymbol, sym)
	}
	if len(w.calls) < 1000 {
		w.calls = append(w.calls, sym)
	}
	w.call.Sym, w.call.Args = uint16(idx), w.call.Args[:0]
	for _, a := range args {
		w.call.Args = append(w.call.Args, a.wire)
	}
	var res wire.CallResult
	if err := w.exchange(sym, &w.call, &res); err != nil {
		return Result{Func: sym}, err
	}
	r := Result{Func: sym, Ret: res.Ret, Errno: res.Errno, Elapsed: time.Duration(res.Nanoseconds)}
	for sig := 1; sig <= 64; sig++ {
		if res.SignalsChanged&(1<<(sig-1)) != 0 {
			r.SignalsChanged = append(r.SignalsChanged, syscall.Signal(sig))
		}
	}
	for _, o := range res.Outs {
		r.Outs = append(r.Outs, append([]byte(nil), o...))
	}
	return r, nil
}

// ErrNoSymbol reports a call to a function the plugin does not export.
var ErrNoSymbol = errors.New("plugin does not export")

// exchange sends req and decodes the worker's answer into resp (nil when
// the answer has no body) within the call timeout; what names the request
// in errors.
func (w *Worker) exchange(what string, req wire.Request, resp wire.Response) error {
	return w.exchangeWithin(what, req, resp, w.timeout)
}

func (w *Worker) exchangeWithin(what string, req wire.Request, resp wire.Response, timeout time.Duration) error {
	d, err := w.roundTripWithin(what, w.enc.Request(req), timeout)
	if err != nil {
		return err
	}
	if resp != nil {
		resp.Decode(d)
	}
	if d.Err() != nil {
		return &ProtocolError{Func: what, Msg: "short response"}
	}
	return nil
}

func allocator(xmalloc bool) wire.Allocator {
	if xmalloc {
		return wire.Xmalloc
	}
	return wire.Malloc
}

// Alloc copies b into memory from malloc (or the host's xmalloc).
func (w *Worker) Alloc(b []byte, xmalloc bool) (uintptr, error) {
	var p wire.Pointer
	err := w.exchange("alloc", &wire.Alloc{How: allocator(xmalloc), Data: b}, &p)
	return uintptr(p.Ptr), err
}

// Free releases memory from Alloc, or xmalloc'd memory a plugin returned.
func (w *Worker) Free(p uintptr, xmalloc bool) error {
	return w.exchange("free", &wire.Free{How: allocator(xmalloc), Ptr: uint64(p)}, nil)
}

// Write stores b at p in the worker, as the framework writes into plugin
// memory. A bad p crashes the worker (reported like any crash).
func (w *Worker) Write(p uintptr, b []byte) error {
	return w.exchange("write", &wire.Write{Ptr: uint64(p), Data: b}, nil)
}

// Read copies n bytes at p; ok is false when that memory is not readable.
func (w *Worker) Read(p uintptr, n int) (b []byte, ok bool, err error) {
	var m wire.Memory
	if err := w.exchange("read", &wire.Read{Ptr: uint64(p), Len: uint32(n)}, &m); err != nil {
		return nil, false, err
	}
	return append([]byte(nil), m.Data...), m.OK, nil
}

// CStringAt reads the NUL-terminated string at p (at most max bytes).
func (w *Worker) CStringAt(p uintptr, max int) (s string, ok bool, err error) {
	var m wire.Memory
	if err := w.exchange("cstring", &wire.Read{String: true, Ptr: uint64(p), Len: uint32(max)}, &m); err != nil {
		return "", false, err
	}
	return string(m.Data), m.OK, nil
}

// XmallocHeader reads the two words xmalloc keeps before a block: the magic
// (profile.XmallocMagic while the block is live) and its size.
func (w *Worker) XmallocHeader(p uintptr) (magic, size uint64, readable bool, err error) {
	var h wire.XmallocHeader
	err = w.exchange("xmalloc header", &wire.AtAddress{Of: wire.OpXmallocInfo, Ptr: uint64(p)}, &h)
	return h.Magic, h.Size, h.Readable, err
}

// NewBuf makes a growable buf_t (init_buf) of at least capacity bytes that
// already holds prefix, positioned after it: what pack writes into.
func (w *Worker) NewBuf(capacity int, prefix []byte) (uintptr, error) {
	return w.newBuf(wire.BufGrowable, capacity, prefix)
}

// NewGuardedBuf makes a buf_t holding exactly data, positioned at 0, whose
// last byte sits just before an unmapped page: what unpack reads from.
func (w *Worker) NewGuardedBuf(data []byte) (uintptr, error) {
	return w.newBuf(wire.BufGuarded, len(data), data)
}

func (w *Worker) newBuf(kind wire.BufKind, capacity int, data []byte) (uintptr, error) {
	var p wire.Pointer
	if err := w.exchange("new buffer", &wire.NewBuf{Kind: kind, Capacity: uint32(capacity), Data: data}, &p); err != nil {
		return 0, err
	}
	if p.Ptr == 0 {
		return 0, &ProtocolError{Func: "new buffer", Msg: "host could not allocate a buffer"}
	}
	return uintptr(p.Ptr), nil
}

// BufState is a buf_t's header and the bytes before its offset.
type BufState struct {
	Magic, Size, Processed uint32
	Data                   []byte // head[0:processed]
}

// Buf reads a buf_t.
func (w *Worker) Buf(b uintptr) (BufState, error) {
	var st wire.BufState
	if err := w.exchange("read buffer", &wire.AtAddress{Of: wire.OpBufData, Ptr: uint64(b)}, &st); err != nil {
		return BufState{}, err
	}
	return BufState{Magic: st.Magic, Size: st.Size, Processed: st.Processed, Data: append([]byte(nil), st.Data...)}, nil
}

// SetOffset moves a buf_t's offset (set_buf_offset).
func (w *Worker) SetOffset(b uintptr, off int) error {
	return w.exchange("set offset", &wire.SetOffset{Buf: uint64(b), Offset: uint32(off)}, nil)
}

// FreeBuf frees a buffer from NewBuf or NewGuardedBuf.
func (w *Worker) FreeBuf(b uintptr) error {
	return w.exchange("free buffer", &wire.AtAddress{Of: wire.OpFreeBuf, Ptr: uint64(b)}, nil)
}

// HeapInUse is the C heap in use in the worker (mallinfo2 uordblks plus
// hblkhd), the figure leak clauses compare.
func (w *Worker) HeapInUse() (uint64, error) {
	var h wire.HeapInUse
	err := w.exchange("heap", wire.Bare(wire.OpHeap), &h)
	return h.Allocated + h.Mapped, err
}

// startRetrying starts cmd, again while exec says the binary is busy: a
// copy the sandbox has just written stays open for writing in any child
// another goroutine forked meanwhile, until that child execs (runs and
// their spec processes start workers at the same time). It returns the
// command that started.
func startRetrying(cmd *exec.Cmd) (*exec.Cmd, error) {
	for delay := time.Millisecond; ; delay *= 2 {
		err := cmd.Start()
		if !errors.Is(err, syscall.ETXTBSY) || delay > time.Second {
			return cmd, err
		}
		time.Sleep(delay)
		cmd = &exec.Cmd{Path: cmd.Path, Args: cmd.Args, Env: cmd.Env, Dir: cmd.Dir, Stdin: cmd.Stdin, Stdout: cmd.Stdout,
			Stderr: cmd.Stderr, ExtraFiles: cmd.ExtraFiles, SysProcAttr: cmd.SysProcAttr}
	}
}
