package worker

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugincheck/plugincheck/loader/internal/spin"
	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Protocol descriptors are moved above this number so that a plugin closing
// "all" descriptors (0–1023) does not cut the worker off from its parent.
const highFD = 1100

// fdIO writes a descriptor with plain system calls: the worker keeps the
// Go runtime's poller out of its protocol.
type fdIO int

// requestReader reads the (non-blocking) request descriptor, polling it
// before it blocks in poll(2) while that pays: the parent's next request
// usually follows a response within microseconds, and catching it while
// this vCPU is awake saves a cross-CPU wake-up (see package spin).
type requestReader struct {
	fd   int
	wait spin.Policy
}

func (r *requestReader) Read(p []byte) (int, error) {
	start, parkAt := r.wait.Start()
	waited := false
	for {
		n, err := syscall.Read(r.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			waited = true
			if !time.Now().Before(parkAt) {
				pollIn(r.fd)
			}
			continue
		}
		r.wait.Done(start, waited)
		if n == 0 && err == nil && len(p) > 0 {
			return 0, errEOF
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

func (f fdIO) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(int(f), p[done:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, err
		}
		done += n
	}
	return done, nil
}

var errEOF = errors.New("parent closed the request channel")

// pollIn blocks until fd is readable (or hung up).
func pollIn(fd int) {
	pfd := struct {
		fd             int32
		events, revent int16
	}{int32(fd), 1 /* POLLIN */, 0}
	syscall.Syscall(syscall.SYS_POLL, uintptr(unsafe.Pointer(&pfd)), 1, ^uintptr(0))
}

type server struct {
	cfg        *Config
	hostHandle uintptr
	plugin     uintptr // dlopen handle
	in         *requestReader
	out        fdIO
	c          *libc
	h          host
	syms       []uintptr
	errno      *int32
	signals    signalState
	guarded    map[uintptr][]byte // buf_t → mapping holding its bytes
	enc        wire.Encoder
	// callReq and callOuts are reused by every call.
	callReq  wire.Call
	callOuts [][]byte
}

// Serve runs the worker and never returns.
func Serve() {
	s, err := setup()
	if err != nil {
		// The parent reads this frame as a setup failure.
		var e wire.Encoder
		e.U8(uint8(wire.Failed))
		e.String(err.Error())
		out := fdIO(ResponseFD)
		if s != nil {
			out = s.out
		}
		wire.WriteFrame(out, e.Bytes())
		syscall.Exit(1)
	}
	s.loop()
}

func setup() (*server, error) {
	cfg, err := readConfig()
	if err != nil {
		return nil, fmt.Errorf("worker configuration: %w", err)
	}
	if cfg.Fingerprint != Fingerprint() {
		exe, _ := os.Executable()
		return nil, fmt.Errorf("worker binary %s was built from other source than plugincheck (fingerprint %.12s, plugincheck's %.12s)",
			exe, Fingerprint(), cfg.Fingerprint)
	}
	s := &server{in: &requestReader{fd: RequestFD}, out: fdIO(ResponseFD), guarded: map[uintptr][]byte{}}
	syscall.SetNonblock(RequestFD, true)
	if in, err := dupHigh(RequestFD); err == nil {
		if out, err := dupHigh(ResponseFD); err == nil {
			s.in, s.out = &requestReader{fd: in}, fdIO(out)
			syscall.Close(RequestFD)
			syscall.Close(ResponseFD)
		}
	}
	os.Unsetenv(EnvConfig)
	limit(syscall.RLIMIT_CORE, 0)
	if cfg.CPUSeconds > 0 {
		limit(syscall.RLIMIT_CPU, cfg.CPUSeconds)
	}
	if cfg.AddressSpace > 0 {
		// The hard bound leaves room for a fuzzer to lift the soft one by
		// what it maps itself and what recovered faults leave (fuzzer.lift).
		syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: cfg.AddressSpace, Max: cfg.AddressSpace + faultAllowance})
	}

	if s.c, err = loadLibc(); err != nil {
		return s, err
	}
	s.errno = (*int32)(addr(must(purego.SyscallN(s.c.errnoLocation))))

	hh, err := purego.Dlopen(cfg.HostLib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return s, fmt.Errorf("load host library: %w", err)
	}
	s.h = host{
		initBuf:  dlsym(hh, "init_buf"),
		freeBuf:  dlsym(hh, "free_buf"),
		xcalloc:  dlsym(hh, "slurm_xcalloc"),
		xfree:    dlsym(hh, "slurm_xfree"),
		confInit: dlsym(hh, "slurm_conf_init"),
	}
	if s.h.initBuf == 0 || s.h.freeBuf == 0 || s.h.xcalloc == 0 || s.h.xfree == 0 {
		return s, fmt.Errorf("host library %s lacks init_buf, free_buf, slurm_xcalloc or slurm_xfree", cfg.HostLib)
	}
	if cfg.Daemon != "" {
		if err := s.becomeDaemon(hh, cfg.Daemon); err != nil {
			return s, err
		}
	}
	if cfg.SlurmConf != "" && s.h.confInit != 0 {
		path := append([]byte(cfg.SlurmConf), 0)
		if rc, _, _ := purego.SyscallN(s.h.confInit, uintptr(unsafe.Pointer(&path[0]))); int32(rc) != 0 {
			return s, fmt.Errorf("slurm_conf_init(%s) failed", cfg.SlurmConf)
		}
	}
	// RTLD_LAZY, as Slurm's plugin_load_from_file does: a plugin that imports
	// a symbol only a daemon defines still loads, and fails only if it calls
	// it (the static link check reports such symbols beforehand).
	s.cfg = cfg
	s.hostHandle = hh
	if err := s.loadPlugin(); err != nil {
		return s, err
	}
	s.signals.save()

	s.enc.U8(uint8(wire.Hello))
	hello := wire.WorkerHello{Pid: uint32(os.Getpid()), Addrs: s.addrs()}
	hello.Encode(&s.enc)
	if err := wire.WriteFrame(s.out, s.enc.Bytes()); err != nil {
		syscall.Exit(1)
	}
	return s, nil
}

func must(r1, _, _ uintptr) uintptr { return r1 }

// sym is the address of symbol i of the table, 0 when the index is out of
// range or the symbol absent: requests name functions by index, and a
// malformed one must not make the worker index past its table.
func (s *server) sym(i int16) uintptr {
	if i < 0 || int(i) >= len(s.syms) {
		return 0
	}
	return s.syms[i]
}

func (s *server) symIndexOK(i int16) bool { return s.sym(i) != 0 }

// addrs is the symbol table as the parent reads it.
func (s *server) addrs() []uint64 {
	out := make([]uint64, len(s.syms))
	for i, p := range s.syms {
		out[i] = uint64(p)
	}
	return out
}

// loadPlugin dlopens the plugin and fills the symbol table: its symbols,
// then the host's.
func (s *server) loadPlugin() error {
	// RTLD_LAZY, as Slurm's plugin_load_from_file does: a plugin that imports
	// a symbol only a daemon defines still loads, and fails only if it calls
	// it (the static link check reports such symbols beforehand).
	ph, err := purego.Dlopen(s.cfg.Plugin, purego.RTLD_LAZY|purego.RTLD_LOCAL)
	if err != nil {
		return fmt.Errorf("load plugin: %w", err)
	}
	s.plugin = ph
	s.syms = s.syms[:0]
	for _, name := range s.cfg.Symbols {
		s.syms = append(s.syms, dlsym(ph, name))
	}
	for _, name := range s.cfg.HostSymbols {
		s.syms = append(s.syms, dlsym(s.hostHandle, name))
	}
	return nil
}

// reload is Slurm's unload and load on reconfigure: dlclose, then dlopen.
// It reports whether the image stayed mapped (RTLD_NOLOAD finds it), as it
// does when something pins it.
func (s *server) reload() {
	purego.Dlclose(s.plugin)
	stillMapped := false
	if h, err := purego.Dlopen(s.cfg.Plugin, purego.RTLD_LAZY|purego.RTLD_LOCAL|rtldNoload); err == nil && h != 0 {
		stillMapped = true
		purego.Dlclose(h)
	}
	if err := s.loadPlugin(); err != nil {
		s.fail("%v", err)
		return
	}
	r := wire.Reloaded{StillMapped: stillMapped, Addrs: s.addrs()}
	r.Encode(&s.enc)
}

// daemonBits are the IS_* flags of run_in_daemon.h (25.05+), where the
// global uint32_t slurm_daemon says which daemon a process is.
var daemonBits = map[string]uint32{
	"slurmdbd": 1 << 1, "slurmscriptd": 1 << 2, "slurmctld": 1 << 3, "slurmd": 1 << 4,
	"slurmstepd": 1 << 5, "sackd": 1 << 6, "slurmrestd": 1 << 7,
}

// DaemonNames are the daemons a worker can pretend to be, sorted.
func DaemonNames() []string {
	names := make([]string, 0, len(daemonBits))
	for n := range daemonBits {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// becomeDaemon sets what run_in_daemon() reads: slurm_prog_name up to
// 24.11 (normally set by log_init from argv[0]), slurm_daemon from 25.05.
func (s *server) becomeDaemon(host uintptr, name string) error {
	if p := dlsym(host, "slurm_prog_name"); p != 0 {
		*(*uintptr)(addr(p)) = s.c.alloc([]byte(name), 1)
		return nil
	}
	if p := dlsym(host, "slurm_daemon"); p != 0 {
		bit, ok := daemonBits[name]
		if !ok {
			return fmt.Errorf("unknown Slurm daemon %q", name)
		}
		*(*uint32)(addr(p)) = bit
		return nil
	}
	return fmt.Errorf("host library has neither slurm_prog_name nor slurm_daemon: cannot run as %s", name)
}

// rtldNoload is RTLD_NOLOAD from dlfcn.h.
const rtldNoload = 0x4

func dupHigh(fd int) (int, error) {
	r, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, highFD)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func limit(resource int, v uint64) {
	syscall.Setrlimit(resource, &syscall.Rlimit{Cur: v, Max: v})
}

func (s *server) loop() {
	var buf []byte
	for {
		req, err := wire.ReadFrame(s.in, buf)
		if err != nil {
			syscall.Exit(0) // the parent is gone or done
		}
		buf = req
		s.enc.Reset()
		s.handle(wire.NewDecoder(req))
		if err := wire.WriteFrame(s.out, s.enc.Bytes()); err != nil {
			syscall.Exit(0)
		}
	}
}

func (s *server) fail(format string, args ...any) {
	s.enc.Reset()
	s.enc.U8(uint8(wire.Failed))
	s.enc.String(fmt.Sprintf(format, args...))
}

func (s *server) handle(d *wire.Decoder) {
	op := wire.Op(d.U8())
	if op == wire.OpCall {
		s.call(d)
		return
	}
	s.enc.U8(uint8(wire.OK))
	switch op {
	case wire.OpAlloc:
		var a wire.Alloc
		if !s.decode(d, op, &a) {
			return
		}
		var p uintptr
		if a.How == wire.Xmalloc {
			p = s.h.xmalloc(len(a.Data))
			copy(cbytes(p, len(a.Data)), a.Data)
		} else {
			p = s.c.alloc(a.Data, 0)
		}
		s.encode(&wire.Pointer{Ptr: uint64(p)})
	case wire.OpRead, wire.OpCString:
		var r wire.Read
		if !s.decode(d, op, &r) {
			return
		}
		var m wire.Memory
		if op == wire.OpCString {
			m.Data, m.OK = safeCString(uintptr(r.Ptr), int(r.Len))
		} else {
			m.Data, m.OK = safeRead(uintptr(r.Ptr), int(r.Len))
		}
		s.encode(&m)
	case wire.OpFree:
		var f wire.Free
		if !s.decode(d, op, &f) {
			return
		}
		if f.How == wire.Xmalloc {
			s.h.xfreePtr(uintptr(f.Ptr))
		} else {
			purego.SyscallN(s.c.free, uintptr(f.Ptr))
		}
	case wire.OpNewBuf:
		var b wire.NewBuf
		if !s.decode(d, op, &b) {
			return
		}
		s.encode(&wire.Pointer{Ptr: uint64(s.newBuf(b.Kind, b.Capacity, b.Data))})
	case wire.OpBufData:
		var req wire.AtAddress
		if !s.decode(d, op, &req) {
			return
		}
		b := uintptr(req.Ptr)
		hdr, ok := safeRead(b, profile.BufSize)
		if !ok {
			s.fail("buffer %#x is not readable", b)
			return
		}
		le := func(off int) uint32 {
			return uint32(hdr[off]) | uint32(hdr[off+1])<<8 | uint32(hdr[off+2])<<16 | uint32(hdr[off+3])<<24
		}
		head := uintptr(le(profile.BufOffHead)) | uintptr(le(profile.BufOffHead+4))<<32
		st := wire.BufState{Magic: le(profile.BufOffMagic), Size: le(profile.BufOffSize), Processed: le(profile.BufOffProcessed)}
		st.Data, _ = safeRead(head, int(min(st.Processed, st.Size)))
		s.encode(&st)
	case wire.OpSetOffset:
		var so wire.SetOffset
		if !s.decode(d, op, &so) {
			return
		}
		*(*uint32)(addr(uintptr(so.Buf) + profile.BufOffProcessed)) = so.Offset
	case wire.OpFreeBuf:
		var f wire.AtAddress
		if !s.decode(d, op, &f) {
			return
		}
		s.freeBuf(uintptr(f.Ptr))
	case wire.OpHeap:
		inUse, mmapped := s.c.heap()
		s.encode(&wire.HeapInUse{Allocated: inUse, Mapped: mmapped})
	case wire.OpXmallocInfo:
		var x wire.AtAddress
		if !s.decode(d, op, &x) {
			return
		}
		hdr, ok := safeRead(uintptr(x.Ptr)-16, 16)
		h := wire.XmallocHeader{Readable: ok}
		if ok {
			h.Magic, h.Size = leU64(hdr[0:8]), leU64(hdr[8:16])
		}
		s.encode(&h)
	case wire.OpWrite:
		var w wire.Write
		if !s.decode(d, op, &w) {
			return
		}
		copy(cbytes(uintptr(w.Ptr), len(w.Data)), w.Data)
	case wire.OpExit:
		syscall.Exit(0)
	case wire.OpReload:
		s.reload()
	case wire.OpCredCycles:
		var c wire.CredCycles
		if !s.decode(d, op, &c) {
			return
		}
		if !s.symIndexOK(c.Sign) || !s.symIndexOK(c.Verify) {
			s.fail("cred cycles: sign or verify_sign is not resolved")
			return
		}
		res := s.credCycles(&c)
		s.signals.restore()
		s.encode(&res)
	case wire.OpCred2Cycles:
		var c wire.Cred2Cycles
		if !s.decode(d, op, &c) {
			return
		}
		if !s.symIndexOK(c.Create) || !s.symIndexOK(c.Unpack) || !s.symIndexOK(c.Destroy) {
			s.fail("cred2 cycles: create, unpack or destroy is not resolved")
			return
		}
		res := s.cred2Cycles(&c)
		s.signals.restore()
		s.encode(&res)
	case wire.OpAuthCycles:
		var a wire.AuthCycles
		if !s.decode(d, op, &a) {
			return
		}
		if !s.authCycleResolved(&a) {
			s.fail("auth cycles: a function of the cycle is not resolved")
			return
		}
		res := s.authCycles(&a)
		s.signals.restore()
		s.encode(&res)
	case wire.OpBench:
		var b wire.Bench
		if s.decode(d, op, &b) {
			s.benchRequest(&b)
		}
	case wire.OpFuzz:
		var f wire.Fuzz
		if s.decode(d, op, &f) {
			s.fuzzRequest(&f)
		}
	default:
		s.fail("unknown request %v", op)
	}
	if d.Err() != nil {
		s.fail("malformed %v request", op)
	}
}

// authCycleResolved reports whether every function an auth cycle calls
// is in the table: the ids come from get_ids, or from get_uid and get_gid.
func (s *server) authCycleResolved(a *wire.AuthCycles) bool {
	for _, i := range []int16{a.Create, a.Pack, a.Unpack, a.Verify, a.Destroy} {
		if !s.symIndexOK(i) {
			return false
		}
	}
	if a.GetIDs >= 0 {
		return s.symIndexOK(a.GetIDs)
	}
	return s.symIndexOK(a.GetUID) && s.symIndexOK(a.GetGID)
}

func (s *server) encode(m interface{ Encode(*wire.Encoder) }) { m.Encode(&s.enc) }

// decode reads the body of an op request into m. A malformed one is
// answered as such and never acted on: a short frame reads as zeros, and
// zero is no pointer to write through.
func (s *server) decode(d *wire.Decoder, op wire.Op, m wire.Response) bool {
	if m.Decode(d); d.Err() != nil {
		s.fail("malformed %v request", op)
		return false
	}
	return true
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func leU64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// guarded copies data to the end of fresh pages followed by an unmapped
// one, so reading a byte past it faults.
func guarded(data []byte) (uintptr, []byte) {
	page := syscall.Getpagesize()
	dataPages := max((len(data)+page-1)/page, 1)
	mem, err := syscall.Mmap(-1, 0, (dataPages+1)*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return 0, nil
	}
	syscall.Mprotect(mem[dataPages*page:], syscall.PROT_NONE)
	start := dataPages*page - len(data)
	copy(mem[start:], data)
	return uintptr(unsafe.Pointer(&mem[0])) + uintptr(start), mem
}

// newBuf builds a buf_t. A guarded buffer's bytes end exactly where an
// unmapped page begins, so reading one byte too far faults (design trap 6).
func (s *server) newBuf(kind wire.BufKind, capacity uint32, data []byte) uintptr {
	if kind == wire.BufGrowable {
		n := max(capacity, uint32(len(data)))
		b, _, _ := purego.SyscallN(s.h.initBuf, uintptr(n))
		if b == 0 {
			return 0
		}
		head := *(*uintptr)(addr(b + profile.BufOffHead))
		copy(cbytes(head, len(data)), data)
		*(*uint32)(addr(b + profile.BufOffProcessed)) = uint32(len(data))
		return b
	}
	head, mem := guarded(data)
	if mem == nil {
		return 0
	}
	b := s.h.xmalloc(profile.BufSize)
	*(*uint32)(addr(b + profile.BufOffMagic)) = profile.BufMagic
	*(*uintptr)(addr(b + profile.BufOffHead)) = head
	*(*uint32)(addr(b + profile.BufOffSize)) = uint32(len(data))
	s.guarded[b] = mem
	return b
}

func (s *server) freeBuf(b uintptr) {
	if mem, ok := s.guarded[b]; ok {
		delete(s.guarded, b)
		s.h.xfreePtr(b)
		syscall.Munmap(mem)
		return
	}
	purego.SyscallN(s.h.freeBuf, b)
}

// call runs one plugin function with the protections of design.md:
// errno cleared before and read after on this (locked) thread, signal
// dispositions restored, descriptors checked.
func (s *server) call(d *wire.Decoder) {
	c := &s.callReq
	if c.Decode(d); d.Err() != nil {
		s.fail("malformed call")
		return
	}
	fn := s.sym(int16(c.Sym))
	if fn == 0 {
		s.fail("symbol %d is not resolved", c.Sym)
		return
	}
	var args [wire.MaxCallArgs]uintptr
	var temps []uintptr
	type out struct {
		p uintptr
		n int
	}
	var outs []out
	defer func() {
		for _, p := range temps {
			purego.SyscallN(s.c.free, p)
		}
	}()
	for i, a := range c.Args {
		switch a.Kind {
		case wire.ArgInt:
			args[i] = uintptr(a.Value)
		case wire.ArgBytes:
			args[i] = s.c.alloc(a.Data, 0)
			temps = append(temps, args[i])
		case wire.ArgCString:
			args[i] = s.c.alloc(a.Data, 1)
			temps = append(temps, args[i])
		case wire.ArgGuarded:
			p, mem := guarded(a.Data)
			if mem == nil {
				s.fail("cannot map a guarded argument")
				return
			}
			args[i] = p
			defer syscall.Munmap(mem)
		case wire.ArgOut:
			n := int(a.Value)
			args[i] = s.c.alloc(nil, n)
			temps = append(temps, args[i])
			outs = append(outs, out{args[i], n})
		}
	}
	*s.errno = 0
	start := time.Now()
	r1, r2, _ := purego.SyscallN(fn, args[:len(c.Args)]...)
	elapsed := time.Since(start)
	errno := *s.errno
	changed := s.signals.restore()

	if lost := s.clobbered(); lost != "" {
		s.enc.U8(uint8(wire.Clobber))
		s.enc.String(lost)
		wire.WriteFrame(s.out, s.enc.Bytes())
		syscall.Exit(1)
	}
	res := wire.CallResult{Ret: uint64(r1), RDX: uint64(r2), Errno: errno, SignalsChanged: changed,
		Nanoseconds: uint64(elapsed.Nanoseconds()), Outs: s.callOuts[:0]}
	for _, o := range outs {
		res.Outs = append(res.Outs, cbytes(o.p, o.n))
	}
	s.enc.U8(uint8(wire.OK))
	s.encode(&res)
	s.callOuts = res.Outs[:0]
}

// clobbered reports the standard descriptors a call closed; the worker
// cannot be trusted after that, so it reports and exits.
func (s *server) clobbered() string {
	var lost []byte
	for fd := 0; fd <= 2; fd++ {
		if _, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e != 0 {
			lost = fmt.Appendf(lost, " %d", fd)
		}
	}
	if lost == nil {
		return ""
	}
	return "closed file descriptor(s)" + string(lost)
}
