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

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Protocol descriptors are moved above this number so that a plugin closing
// "all" descriptors (0–1023) does not cut the worker off from its parent.
const highFD = 1100

// fdIO reads and writes a descriptor with plain system calls: the worker
// keeps the Go runtime's poller out of its protocol.
type fdIO int

// Read polls the (non-blocking) request descriptor for spinWait before it
// blocks in poll(2): the parent's next request usually follows a response
// within microseconds, and catching it while this vCPU is awake saves a
// cross-CPU wake-up (see loader/spin.go).
func (f fdIO) Read(p []byte) (int, error) {
	deadline := time.Now().Add(spinWait)
	for {
		n, err := syscall.Read(int(f), p)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			if time.Now().After(deadline) {
				pollIn(int(f))
			}
			continue
		}
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

const spinWait = 200 * time.Microsecond

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
	in, out    fdIO
	c          *libc
	h          host
	syms       []uintptr
	errno      *int32
	signals    signalState
	guarded    map[uintptr][]byte // buf_t → mapping holding its bytes
	enc        wire.Encoder
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
	s := &server{in: fdIO(RequestFD), out: fdIO(ResponseFD), guarded: map[uintptr][]byte{}}
	syscall.SetNonblock(RequestFD, true)
	if in, err := dupHigh(RequestFD); err == nil {
		if out, err := dupHigh(ResponseFD); err == nil {
			s.in, s.out = fdIO(in), fdIO(out)
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
		limit(syscall.RLIMIT_AS, cfg.AddressSpace)
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
	s.enc.U32(uint32(os.Getpid()))
	s.enc.U16(uint16(len(s.syms)))
	for _, p := range s.syms {
		s.enc.U64(uint64(p))
	}
	if err := wire.WriteFrame(s.out, s.enc.Bytes()); err != nil {
		syscall.Exit(1)
	}
	return s, nil
}

func must(r1, _, _ uintptr) uintptr { return r1 }

func (s *server) symIndexOK(i int16) bool { return i >= 0 && int(i) < len(s.syms) && s.syms[i] != 0 }

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
	s.enc.U8(b2u(stillMapped))
	s.enc.U16(uint16(len(s.syms)))
	for _, p := range s.syms {
		s.enc.U64(uint64(p))
	}
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
		how, data := wire.Allocator(d.U8()), d.Blob()
		var p uintptr
		if how == wire.Xmalloc {
			p = s.h.xmalloc(len(data))
			copy(cbytes(p, len(data)), data)
		} else {
			p = s.c.alloc(data, 0)
		}
		s.enc.U64(uint64(p))
	case wire.OpRead:
		p, n := uintptr(d.U64()), int(d.U32())
		b, ok := safeRead(p, n)
		s.encOK(ok, b)
	case wire.OpCString:
		p, max := uintptr(d.U64()), int(d.U32())
		b, ok := safeCString(p, max)
		s.encOK(ok, b)
	case wire.OpFree:
		how, p := wire.Allocator(d.U8()), uintptr(d.U64())
		if how == wire.Xmalloc {
			s.h.xfreePtr(p)
		} else {
			purego.SyscallN(s.c.free, p)
		}
	case wire.OpNewBuf:
		kind, capacity, data := wire.BufKind(d.U8()), d.U32(), d.Blob()
		s.enc.U64(uint64(s.newBuf(kind, capacity, data)))
	case wire.OpBufData:
		b := uintptr(d.U64())
		hdr, ok := safeRead(b, profile.BufSize)
		if !ok {
			s.fail("buffer %#x is not readable", b)
			return
		}
		le := func(off int) uint32 {
			return uint32(hdr[off]) | uint32(hdr[off+1])<<8 | uint32(hdr[off+2])<<16 | uint32(hdr[off+3])<<24
		}
		head := uintptr(le(profile.BufOffHead)) | uintptr(le(profile.BufOffHead+4))<<32
		size, processed := le(profile.BufOffSize), le(profile.BufOffProcessed)
		s.enc.U32(le(profile.BufOffMagic))
		s.enc.U32(size)
		s.enc.U32(processed)
		data, _ := safeRead(head, int(min(processed, size)))
		s.enc.Blob(data)
	case wire.OpSetOffset:
		b, off := uintptr(d.U64()), d.U32()
		*(*uint32)(addr(b + profile.BufOffProcessed)) = off
	case wire.OpFreeBuf:
		s.freeBuf(uintptr(d.U64()))
	case wire.OpHeap:
		inUse, mmapped := s.c.heap()
		s.enc.U64(inUse)
		s.enc.U64(mmapped)
	case wire.OpXmallocInfo:
		p := uintptr(d.U64())
		hdr, ok := safeRead(p-16, 16)
		s.enc.U8(b2u(ok))
		if !ok {
			hdr = make([]byte, 16)
		}
		s.enc.U64(leU64(hdr[0:8]))
		s.enc.U64(leU64(hdr[8:16]))
	case wire.OpWrite:
		p, data := uintptr(d.U64()), d.Blob()
		copy(cbytes(p, len(data)), data)
	case wire.OpExit:
		syscall.Exit(0)
	case wire.OpReload:
		s.reload()
	case wire.OpCredCycles:
		var c wire.CredCycles
		c.Decode(d)
		if d.Err() == nil && s.symIndexOK(c.Sign) && s.symIndexOK(c.Verify) {
			res := s.credCycles(&c)
			s.signals.restore()
			res.Encode(&s.enc)
		} else {
			s.fail("malformed cred cycles request")
		}
	case wire.OpCred2Cycles:
		var c wire.Cred2Cycles
		c.Decode(d)
		if d.Err() == nil && s.symIndexOK(c.Create) && s.symIndexOK(c.Unpack) && s.symIndexOK(c.Destroy) {
			res := s.cred2Cycles(&c)
			s.signals.restore()
			res.Encode(&s.enc)
		} else {
			s.fail("malformed cred2 cycles request")
		}
	case wire.OpAuthCycles:
		var a wire.AuthCycles
		a.Decode(d)
		if d.Err() == nil {
			res := s.authCycles(&a)
			s.signals.restore()
			res.Encode(&s.enc)
		}
	case wire.OpBench:
		s.benchRequest(d)
	case wire.OpFuzz:
		s.fuzzRequest(d)
	default:
		s.fail("unknown request %v", op)
	}
	if d.Err() != nil {
		s.fail("malformed %v request", op)
	}
}

func (s *server) encOK(ok bool, b []byte) {
	s.enc.U8(b2u(ok))
	s.enc.Blob(b)
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
	idx, nargs := int(d.U16()), int(d.U8())
	if idx >= len(s.syms) || s.syms[idx] == 0 {
		s.fail("symbol %d is not resolved", idx)
		return
	}
	var args [16]uintptr
	var temps []uintptr
	type out struct {
		p uintptr
		n int
	}
	var outs []out
	for i := 0; i < nargs && i < len(args); i++ {
		switch wire.ArgKind(d.U8()) {
		case wire.ArgInt:
			args[i] = uintptr(d.U64())
		case wire.ArgBytes:
			args[i] = s.c.alloc(d.Blob(), 0)
			temps = append(temps, args[i])
		case wire.ArgCString:
			args[i] = s.c.alloc(d.Blob(), 1)
			temps = append(temps, args[i])
		case wire.ArgGuarded:
			p, mem := guarded(d.Blob())
			if mem == nil {
				s.fail("cannot map a guarded argument")
				return
			}
			args[i] = p
			defer syscall.Munmap(mem)
		case wire.ArgOut:
			n := int(d.U32())
			args[i] = s.c.alloc(nil, n)
			temps = append(temps, args[i])
			outs = append(outs, out{args[i], n})
		default:
			s.fail("bad argument kind")
			return
		}
	}
	if d.Err() != nil || nargs > len(args) {
		s.fail("malformed call")
		return
	}
	fn := s.syms[idx]
	*s.errno = 0
	start := time.Now()
	r1, r2, _ := purego.SyscallN(fn, args[:nargs]...)
	elapsed := time.Since(start)
	errno := *s.errno
	changed := s.signals.restore()

	if lost := s.clobbered(); lost != "" {
		s.enc.U8(uint8(wire.Clobber))
		s.enc.String(lost)
		wire.WriteFrame(s.out, s.enc.Bytes())
		syscall.Exit(1)
	}
	s.enc.U8(uint8(wire.OK))
	s.enc.U64(uint64(r1))
	s.enc.U64(uint64(r2))
	s.enc.I32(errno)
	s.enc.U64(changed)
	s.enc.U64(uint64(elapsed.Nanoseconds()))
	s.enc.U8(uint8(len(outs)))
	for _, o := range outs {
		s.enc.Blob(cbytes(o.p, o.n))
	}
	for _, p := range temps {
		purego.SyscallN(s.c.free, p)
	}
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
