package worker

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// fuzzer is a worker's fuzzing state, kept across batches: the shared
// status file, the guarded memory inputs are placed in, the corpus the
// mutations start from and the outcomes seen so far.
type fuzzer struct {
	statusPath string
	status     []byte
	maxLen     int
	// raise is the C library's raise(3), the handler of faults during a
	// batch (signalState.dieOnFault).
	raise uintptr
	// recovering: this batch recovers from reads past an input into its
	// guard page (a mutation batch, on amd64); fault describes the last
	// one recovered.
	recovering bool
	fault      wire.FuzzFault
	// in and sig end at an unmapped page; inputs are copied to their ends.
	in, sig      guardedRegion
	buf          uintptr // a buf_t (xmalloc) pointed at each input in turn
	corpus       []wire.FuzzInput
	seen         map[uint64]struct{}
	heapBase     uint64
	heapMeasured bool
	// leakBase is heapBase plus what recovered faults left allocated: the
	// leak bound counts from it. lastHeap is the latest measure of the
	// heap, from which a fault's leftovers are counted.
	leakBase, lastHeap uint64
	// faultBudget is how much recovered faults may leave allocated before
	// the worker is to be retired (wire.FuzzResult.FaultBudget).
	faultBudget uint64
	rng         *rand.Rand
	scratch     []byte
	ring        [ringSize]wire.FuzzInput // the latest inputs, for heap attribution
	ringNext    int
	execs       uint64
	// The request's call sites on the bench loops' calling path (the
	// function under fuzz, and auth destroy), and when the campaign last
	// passed through the scheduler (see benchThread.yield).
	target, destroy *hotcall.Call
	yielded         time.Time
}

const (
	ringSize      = 256
	maxCorpus     = 20000
	maxFeatures   = 1 << 18
	heapCheckMask = ringSize - 1
)

var fz *fuzzer

type guardedRegion struct {
	mem []byte
	end int // offset of the guard: the rest of mem is unmapped (PROT_NONE)
}

// guardSize is how much unmapped address space follows each input. One
// page would stop every over-read, but not every over-read faults in it:
// glibc's memcpy of a large block loads its last bytes first, so a copy
// that trusts a length field faults where the claimed end lies. Within
// guardSize that is still a read past the input into its guard, which a
// mutation batch recovers from; beyond it, the fault ends the worker. It
// costs address space only.
const guardSize = 64 << 20

func newGuardedRegion(size int) (guardedRegion, error) {
	page := syscall.Getpagesize()
	pages := max((size+page-1)/page, 1)
	mem, err := syscall.Mmap(-1, 0, pages*page+guardSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return guardedRegion{}, err
	}
	if err := syscall.Mprotect(mem[pages*page:], syscall.PROT_NONE); err != nil {
		syscall.Munmap(mem)
		return guardedRegion{}, err
	}
	return guardedRegion{mem: mem, end: pages * page}, nil
}

// guard is the unmapped range after the input.
func (g *guardedRegion) guard() hotcall.Guard {
	lo := uintptr(unsafe.Pointer(&g.mem[0])) + uintptr(g.end)
	return hotcall.Guard{Lo: lo, Hi: lo + uintptr(len(g.mem)-g.end)}
}

// past reports how far past the end of the readable part addr is, and
// whether it is in the guard.
func (g *guardedRegion) past(addr uintptr) (uint32, bool) {
	r := g.guard()
	if addr < r.Lo || addr >= r.Hi {
		return 0, false
	}
	return uint32(addr - r.Lo), true
}

// place copies b so that its last byte is the last readable one, and
// returns its address.
func (g *guardedRegion) place(b []byte) uintptr {
	start := g.end - len(b)
	copy(g.mem[start:g.end], b)
	return uintptr(unsafe.Pointer(&g.mem[0])) + uintptr(start)
}

func (s *server) newFuzzer(req *wire.Fuzz) (*fuzzer, error) {
	f := &fuzzer{maxLen: int(req.MaxLen), seen: map[uint64]struct{}{}}
	fd, err := syscall.Open(req.StatusPath, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("fuzz status file %s: %w", req.StatusPath, err)
	}
	f.status, err = syscall.Mmap(fd, 0, wire.FuzzStatusInput+f.maxLen, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	syscall.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("map fuzz status file: %w", err)
	}
	f.statusPath = req.StatusPath
	if f.in, err = newGuardedRegion(f.maxLen); err != nil {
		return nil, err
	}
	if f.sig, err = newGuardedRegion(f.maxLen); err != nil {
		return nil, err
	}
	if f.buf = s.h.xmalloc(profile.BufSize); f.buf == 0 {
		return nil, fmt.Errorf("cannot allocate a buffer")
	}
	f.scratch = make([]byte, 0, f.maxLen+64)
	f.raise = dlsym(libcHandle(), "raise")
	// The guards are the harness's, not the plugin's: the bound, which
	// turns a plugin's huge allocation into an oom finding, leaves them out.
	f.lift(uint64(len(f.in.mem) + len(f.sig.mem)))
	f.faultBudget = faultAllowance - uint64(len(f.in.mem)+len(f.sig.mem))
	if strictOvercommit() {
		f.faultBudget = strictFaultBudget
	}
	return f, nil
}

// strictFaultBudget bounds what recovered faults may leave allocated where
// the kernel counts every writable mapping against a commit limit
// (vm.overcommit_memory 2): there, address space is memory.
const strictFaultBudget = 1 << 30

func strictOvercommit() bool {
	b, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	return err == nil && strings.TrimSpace(string(b)) == "2"
}

// faultAllowance is how far a fuzzer may lift the worker's address-space
// bound (RLIMIT_AS; the worker sets its hard bound this far above the soft
// one): its guards, and what recovered faults left allocated. Those are
// mostly large blocks the plugin had just mapped and never touched, so
// address space, not memory; the campaign retires a worker whose
// leftovers reach it.
const faultAllowance = 16 << 30

// lift raises the soft address-space bound by n bytes, within the hard
// one: what n counts is the harness's doing, and must not make a later
// allocation of the plugin fail as if the plugin had used it.
func (f *fuzzer) lift(n uint64) {
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) != nil || lim.Cur == ^uint64(0) {
		return
	}
	lim.Cur = min(lim.Cur+n, lim.Max)
	syscall.Setrlimit(syscall.RLIMIT_AS, &lim)
}

// fuzzRequest serves an OpFuzz request.
func (s *server) fuzzRequest(req *wire.Fuzz) {
	if req.MaxLen == 0 || req.StatusPath == "" || !s.symIndexOK(req.Fn) {
		s.fail("malformed fuzz request")
		return
	}
	if fz == nil || fz.statusPath != req.StatusPath || fz.maxLen != int(req.MaxLen) {
		f, err := s.newFuzzer(req)
		if err != nil {
			s.fail("%v", err)
			return
		}
		fz = f
	}
	// Only a mutation batch recovers: a replay (Reproduce, minimizing)
	// must see the input end the worker, as it would end slurmd.
	fz.recovering = false
	if req.Mode == wire.FuzzMutate {
		h := hotcall.SetRecovery(fz.raise, syscall.Gettid(), fz.in.guard(), fz.sig.guard())
		s.signals.recoverFaults(h, fz.raise)
		fz.recovering = h != 0
	} else {
		s.signals.dieOnFault(fz.raise)
	}
	res := fz.run(s, req)
	s.signals.restore()
	res.Encode(&s.enc)
}

func (f *fuzzer) run(s *server, req *wire.Fuzz) wire.FuzzResult {
	var res wire.FuzzResult
	f.rng = rand.New(rand.NewPCG(req.Seed, 0x66757a7a))
	binary.LittleEndian.PutUint64(f.status[wire.FuzzStatusExecs:], 0)
	f.execs = 0
	// Arguments that change per input are set in exec.
	fn := s.syms[req.Fn]
	switch req.Target {
	case wire.FuzzVerifySign:
		f.target = hotcall.New(fn, uintptr(req.Key), 0, 0, 0, 0)
		if req.Arity == 6 {
			f.target = hotcall.New(fn, uintptr(req.Key), 0, 0, 0, 0, 1) // replay_okay
		}
	case wire.FuzzSbcastUnpack:
		// In the form the host calls it (the loader reads it from the
		// host's code: profile.HostForms): (buf, verify, protocol), or
		// (buf, verify, shared_object, protocol).
		if req.Arity == 4 {
			f.target = hotcall.New(fn, f.buf, 0, 0, 0)
		} else {
			f.target = hotcall.New(fn, f.buf, 0, 0)
		}
	default:
		f.target = hotcall.New(fn, f.buf, 0)
	}
	f.destroy = nil
	if req.Target == wire.FuzzAuthUnpack && s.symIndexOK(req.Destroy) {
		f.destroy = hotcall.New(s.syms[req.Destroy], 0)
	}
	if !f.heapMeasured {
		f.heapBase = heapInUse(s)
		f.leakBase = f.heapBase
		f.heapMeasured = true
	}
	res.HeapBase = f.heapBase
	if req.Mode == wire.FuzzReplay {
		for _, in := range req.Inputs {
			in.Data = truncate(in.Data, f.maxLen)
			before := heapInUse(s)
			for n := uint32(0); n < max(req.Count, 1); n++ {
				if accepted, _, _ := f.exec(s, req, in.Data, in.Protocol, false); accepted {
					res.Accepted++
				}
			}
			if req.Measure {
				after := heapInUse(s)
				res.Growth = append(res.Growth, int64(after)-int64(before))
			}
		}
		res.Execs = f.execs
		res.Heap = heapInUse(s)
		res.FaultHeap, res.FaultBudget = f.leakBase-f.heapBase, f.faultBudget
		return res
	}
	f.lastHeap = heapInUse(s)
	// New corpus entries run once as they are (the parent's seeds are
	// inputs in their own right), then join the corpus, unless they fault.
	for _, in := range req.Inputs {
		in.Data = truncate(in.Data, f.maxLen)
		accepted, feature, faulted := f.exec(s, req, in.Data, in.Protocol, f.recovering)
		if faulted {
			f.recovered(s, &res, in.Protocol, in.Data)
			continue
		}
		if accepted {
			res.Accepted++
		}
		if _, ok := f.seen[feature]; !ok && len(f.seen) < maxFeatures {
			f.seen[feature] = struct{}{}
		}
		f.addCorpus(in)
	}
	if len(f.corpus) == 0 {
		var pv uint16
		if len(req.Protocols) > 0 {
			pv = req.Protocols[0]
		}
		f.addCorpus(wire.FuzzInput{Protocol: pv})
	}
	for n := uint32(0); n < req.Count && len(res.Faults) < wire.MaxFuzzFaults; n++ {
		seed := f.corpus[f.rng.IntN(len(f.corpus))]
		in := f.mutate(seed.Data)
		pv := seed.Protocol
		if len(req.Protocols) > 0 && f.rng.IntN(4) == 0 {
			pv = req.Protocols[f.rng.IntN(len(req.Protocols))]
		}
		slot := &f.ring[f.ringNext]
		slot.Protocol, slot.Data = pv, append(slot.Data[:0], in...)
		f.ringNext = (f.ringNext + 1) % ringSize
		accepted, feature, faulted := f.exec(s, req, in, pv, f.recovering)
		if faulted {
			// Not one for worstRecent to replay: it would end the worker.
			slot.Data = nil
			f.recovered(s, &res, pv, in)
			continue
		}
		if accepted {
			res.Accepted++
		}
		if _, ok := f.seen[feature]; !ok && len(f.seen) < maxFeatures {
			f.seen[feature] = struct{}{}
			entry := wire.FuzzInput{Protocol: pv, Data: append([]byte(nil), in...)}
			f.addCorpus(entry)
			res.New = append(res.New, entry)
		}
		if req.HeapLimit > 0 && f.execs&heapCheckMask == 0 {
			heap := heapInUse(s)
			f.lastHeap = heap
			if heap > f.leakBase+req.HeapLimit {
				res.HeapExceeded = true
				res.Leak, res.LeakBytes = f.worstRecent(s, req)
				break
			}
		}
	}
	res.Execs = f.execs
	res.Heap = heapInUse(s)
	res.FaultHeap, res.FaultBudget = f.leakBase-f.heapBase, f.faultBudget
	return res
}

// recovered records the fault the last execution recovered from, and
// takes what the heap grew since it was last measured off the leak bound:
// what the plugin allocated before it faulted stays allocated (its frames
// are gone), and is no leak of a completed call. The growth of the
// executions since the last measure, at most heapCheckMask of them, is
// forgiven with it. The parent, which sees the whole growth, restarts a
// worker whose heap grew beyond the bound.
func (f *fuzzer) recovered(s *server, res *wire.FuzzResult, pv uint16, in []byte) {
	fault := f.fault
	fault.Input = wire.FuzzInput{Protocol: pv, Data: append([]byte(nil), in...)}
	res.Faults = append(res.Faults, fault)
	heap := heapInUse(s)
	if heap > f.lastHeap {
		f.leakBase += heap - f.lastHeap
		f.lift(heap - f.lastHeap)
	}
	f.lastHeap = heap
}

// worstRecent runs each of the latest inputs again and returns the one
// that grew the heap most.
func (f *fuzzer) worstRecent(s *server, req *wire.Fuzz) (wire.FuzzInput, int64) {
	var worst wire.FuzzInput
	var most int64
	recent := make([]wire.FuzzInput, 0, ringSize)
	for _, in := range f.ring {
		if in.Data != nil {
			recent = append(recent, wire.FuzzInput{Protocol: in.Protocol, Data: append([]byte(nil), in.Data...)})
		}
	}
	for _, in := range recent {
		before := heapInUse(s)
		f.exec(s, req, in.Data, in.Protocol, false)
		after := heapInUse(s)
		if g := int64(after) - int64(before); g > most {
			worst, most = in, g
		}
	}
	return worst, most
}

// heapInUse is the C heap in use, small and mmapped blocks together.
func heapInUse(s *server) uint64 {
	inUse, mmapped := s.c.heap()
	return inUse + mmapped
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func (f *fuzzer) addCorpus(in wire.FuzzInput) {
	in.Data = append([]byte(nil), in.Data...)
	if len(f.corpus) < maxCorpus {
		f.corpus = append(f.corpus, in)
		return
	}
	f.corpus[f.rng.IntN(len(f.corpus))] = in
}

// exec runs the target function on one input placed against a guard page,
// and destroys what it returned. The status file names the input first, so
// the parent can tell which one a crash or hang came from. Recovering, a
// read past the input into the guard page returns faulted (and f.fault)
// instead of ending the worker; nothing is destroyed then.
func (f *fuzzer) exec(s *server, req *wire.Fuzz, in []byte, pv uint16, recovering bool) (accepted bool, feature uint64, faulted bool) {
	st := f.status
	binary.LittleEndian.PutUint32(st[wire.FuzzStatusLen:], uint32(len(in)))
	binary.LittleEndian.PutUint16(st[wire.FuzzStatusProtocol:], pv)
	copy(st[wire.FuzzStatusInput:], in)
	st[wire.FuzzStatusPhase] = wire.FuzzPhaseCall
	var ret uintptr
	var processed uint32
	call := f.target
	if req.Target == wire.FuzzVerifySign {
		buffer, sig := splitSigned(in)
		call.Args[1], call.Args[2] = f.in.place(buffer), uintptr(len(buffer))
		call.Args[3], call.Args[4] = 0, 0
		if len(sig) > 0 {
			// An empty signature is NULL, as unpackmem_xmalloc gives it.
			call.Args[3], call.Args[4] = f.sig.place(sig), uintptr(len(sig))
		}
		*s.errno = 0
		ret, faulted = f.call(call, recovering)
		ret = uintptr(uint32(ret)) // an int
	} else {
		head := f.in.place(in)
		b := f.buf
		*(*uint32)(addr(b + profile.BufOffMagic)) = profile.BufMagic
		*(*uintptr)(addr(b + profile.BufOffHead)) = head
		*(*uint32)(addr(b + profile.BufOffSize)) = uint32(len(in))
		*(*uint32)(addr(b + profile.BufOffProcessed)) = 0
		*(*uint16)(addr(b + profile.BufOffMmaped)) = 0
		*s.errno = 0
		if req.Target == wire.FuzzSbcastUnpack {
			// The protocol version is the last argument; verify (and
			// shared_object) alternate between executions.
			call.Args[1] = uintptr(f.execs & 1)
			if req.Arity == 4 {
				call.Args[2], call.Args[3] = uintptr(f.execs>>1&1), uintptr(pv)
			} else {
				call.Args[2] = uintptr(pv)
			}
		} else {
			call.Args[1] = uintptr(pv)
		}
		ret, faulted = f.call(call, recovering)
		processed = *(*uint32)(addr(b + profile.BufOffProcessed))
		accepted = ret != 0 && !faulted
	}
	errno := *s.errno
	// What auth unpack returned goes to the plugin's destroy. The 23.11+
	// credentials stay: the framework frees them with the host's
	// destructors, which assume Slurm's own structures, and a plugin may
	// return its own (the parent restarts workers whose heap grows).
	if accepted && f.destroy != nil {
		st[wire.FuzzStatusPhase] = wire.FuzzPhaseDestroy
		setIndex(ret) // what the framework does with what unpack returns
		f.destroy.Args[0] = ret
		f.destroy.Do()
	}
	f.execs++
	if f.execs%1024 == 0 && time.Since(f.yielded) >= yieldEvery {
		runtime.Gosched()
		f.yielded = time.Now()
	}
	binary.LittleEndian.PutUint64(st[wire.FuzzStatusExecs:], f.execs)
	if faulted {
		return false, 0, true
	}
	// The outcome: which function, protocol, result, errno, and how far
	// unpack read (bucketed so that lengths do not each count as new).
	feature = uint64(req.Target)<<56 | uint64(pv)<<40 | uint64(uint16(errno))<<24 | uint64(lenBucket(processed))<<1
	if req.Target == wire.FuzzVerifySign {
		feature ^= uint64(ret) << 8
	} else if accepted {
		feature |= 1
	}
	return accepted, feature, false
}

// call makes the target call, recovering or not, and describes a
// recovered fault in f.fault.
func (f *fuzzer) call(c *hotcall.Call, recovering bool) (uintptr, bool) {
	if !recovering {
		return c.Do(), false
	}
	ret, fault, faulted := c.DoRecovering()
	if !faulted {
		return ret, false
	}
	f.fault = wire.FuzzFault{Signal: uint8(fault.Signal), Phase: wire.FuzzPhaseCall}
	if past, ok := f.in.past(fault.Addr); ok {
		f.fault.Region, f.fault.Past = wire.FuzzRegionInput, past
	} else if past, ok := f.sig.past(fault.Addr); ok {
		f.fault.Region, f.fault.Past = wire.FuzzRegionSignature, past
	}
	return 0, true
}

// lenBucket keeps small lengths exact and larger ones to a quarter power
// of two.
func lenBucket(n uint32) uint32 {
	if n < 64 {
		return n
	}
	e := uint32(31)
	for n>>e == 0 {
		e--
	}
	return 64 + e<<2 | (n>>(e-2))&3
}

// splitSigned splits a verify_sign input: u32 big-endian buffer length,
// the buffer, then the signature (the length is clamped to what is there).
func splitSigned(in []byte) (buffer, sig []byte) {
	if len(in) < 4 {
		return nil, in
	}
	n := int(min(binary.BigEndian.Uint32(in), uint32(len(in)-4)))
	return in[4 : 4+n], in[4+n:]
}

// mutate returns a copy of src changed by one to four mutations, in the
// fuzzer's scratch space.
func (f *fuzzer) mutate(src []byte) []byte {
	b := append(f.scratch[:0], src...)
	for n := 1 + f.rng.IntN(4); n > 0; n-- {
		if f.rng.IntN(2) == 0 && n > 1 {
			n--
		}
		b = f.mutateOnce(b)
	}
	if len(b) > f.maxLen {
		b = b[:f.maxLen]
	}
	f.scratch = b
	return b
}

func (f *fuzzer) mutateOnce(b []byte) []byte {
	r := f.rng
	switch r.IntN(14) {
	case 0: // flip a bit
		if len(b) > 0 {
			b[r.IntN(len(b))] ^= 1 << r.IntN(8)
		}
	case 1: // an interesting byte
		if len(b) > 0 {
			b[r.IntN(len(b))] = interesting8[r.IntN(len(interesting8))]
		}
	case 2, 3: // an interesting 32-bit value anywhere
		if len(b) >= 4 {
			off := r.IntN(len(b) - 3)
			binary.BigEndian.PutUint32(b[off:], f.interesting32(len(b), off))
		}
	case 4: // nudge a 32-bit value
		if len(b) >= 4 {
			off := r.IntN(len(b) - 3)
			v := binary.BigEndian.Uint32(b[off:])
			d := uint32(1 + r.IntN(16))
			if r.IntN(2) == 0 {
				v += d
			} else {
				v -= d
			}
			binary.BigEndian.PutUint32(b[off:], v)
		}
	case 5, 6: // a length field: claim more (or much more) than is there
		if off, ok := f.lengthField(b); ok {
			binary.BigEndian.PutUint32(b[off:], f.interesting32(len(b), off))
		} else if len(b) >= 4 {
			off := r.IntN(len(b) - 3)
			binary.BigEndian.PutUint32(b[off:], f.interesting32(len(b), off))
		}
	case 7: // truncate
		if len(b) > 0 {
			b = b[:r.IntN(len(b))]
		}
	case 8: // delete a chunk
		if len(b) > 1 {
			at := r.IntN(len(b))
			n := 1 + r.IntN(min(len(b)-at, 32))
			b = append(b[:at], b[at+n:]...)
		}
	case 9: // insert bytes: random, zeros, or a copy of a chunk
		if len(b) < f.maxLen {
			at := r.IntN(len(b) + 1)
			n := 1 + r.IntN(16)
			var chunk [16]byte
			switch r.IntN(3) {
			case 0:
				for i := range chunk[:n] {
					chunk[i] = byte(r.Uint32())
				}
			case 1:
				if len(b) > 0 {
					from := r.IntN(len(b))
					n = copy(chunk[:min(n, len(b)-from)], b[from:])
				}
			}
			b = append(b, chunk[:n]...)
			copy(b[at+n:], b[at:len(b)-n])
			copy(b[at:], chunk[:n])
		}
	case 10: // splice with another corpus entry
		other := f.corpus[r.IntN(len(f.corpus))].Data
		if len(other) > 0 {
			at := r.IntN(len(b) + 1)
			from := r.IntN(len(other))
			b = append(b[:at], other[from:]...)
		}
	case 11: // an interesting 16-bit value
		if len(b) >= 2 {
			off := r.IntN(len(b) - 1)
			binary.BigEndian.PutUint16(b[off:], interesting16[r.IntN(len(interesting16))])
		}
	case 12: // a huge 64-bit value
		if len(b) >= 8 {
			off := r.IntN(len(b) - 7)
			binary.BigEndian.PutUint64(b[off:], interesting64[r.IntN(len(interesting64))])
		}
	case 13: // overwrite a chunk with another part of the input
		if len(b) > 2 {
			from, to := r.IntN(len(b)), r.IntN(len(b))
			n := r.IntN(min(len(b)-from, len(b)-to, 32) + 1)
			copy(b[to:to+n], b[from:from+n])
		}
	}
	return b
}

var (
	interesting8  = []byte{0, 1, 0x7f, 0x80, 0xff, 0x20, 0x40, '\n', ':'}
	interesting16 = []uint16{0, 1, 0x7fff, 0x8000, 0xffff, 0x2600, 0x2800, 0x2a00, 0x2d00}
	interesting64 = []uint64{0, 1 << 63, 1<<64 - 1, 1<<63 - 1, 1 << 32, 1 << 40}
)

// interesting32 is a value for a 32-bit field at off in a b-byte input:
// the lengths Slurm's unpack limits turn on, and lengths just past the end.
func (f *fuzzer) interesting32(n, off int) uint32 {
	rest := uint32(max(n-off-4, 0))
	switch f.rng.IntN(16) {
	case 0:
		return 0
	case 1:
		return 0xffffffff
	case 2:
		return 0x7fffffff
	case 3:
		return 0x80000000
	case 4:
		return 1 << 30 // MAX_PACK_MEM_LEN
	case 5:
		return 1<<30 + 1
	case 6:
		return 100000001 // MAX_ARRAY_LEN_LARGE + 1
	case 7:
		return 10001 // MAX_ARRAY_LEN_SMALL + 1
	case 8, 9:
		return rest + 1
	case 10:
		return rest + uint32(1+f.rng.IntN(4096))
	case 11:
		return rest
	case 12:
		return uint32(f.rng.IntN(64 << 20))
	case 13:
		return 1
	default:
		return uint32(f.rng.IntN(512))
	}
}

// lengthField picks a 32-bit big-endian value that could be a length prefix
// (non-zero and no longer than what follows it).
func (f *fuzzer) lengthField(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	// Random probes, not a scan: inputs can be long.
	for range 32 {
		off := f.rng.IntN(len(b) - 3)
		if v := binary.BigEndian.Uint32(b[off:]); v > 0 && int(v) <= len(b)-off-4 {
			return off, true
		}
	}
	return 0, false
}
