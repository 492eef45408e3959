package worker

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// concurrently gives every loop thread a P of its own until the returned
// function restores the worker's one. With a single P, a thread back from
// a C call waits for it, and the "concurrent" threads mostly take turns.
func concurrently(threads int) (restore func()) {
	prev := runtime.GOMAXPROCS(max(threads, 1) + 1)
	return func() { runtime.GOMAXPROCS(prev) }
}

// authCycles runs full credential cycles on a.Threads OS threads at once,
// so leak and concurrency clauses need one request, not thousands.
func (s *server) authCycles(a *wire.AuthCycles) wire.AuthCyclesResult {
	var res wire.AuthCyclesResult
	var mu sync.Mutex
	fail := func(thread int, cycle uint32, format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		res.Failed++
		if res.FirstFailure == "" {
			res.FirstFailure = fmt.Sprintf(format, args...) + fmt.Sprintf(" (thread %d, cycle %d)", thread, cycle)
		}
	}
	sym := s.sym
	info := s.c.alloc(a.AuthInfo, 1)
	data := s.c.alloc(a.Data, 0)
	defer purego.SyscallN(s.c.free, info)
	defer purego.SyscallN(s.c.free, data)

	res.HeapBefore, _ = s.c.heap()
	defer concurrently(int(a.Threads))()
	var wg sync.WaitGroup
	// get_ids writes through pointers C gets as integers: they must point
	// into the heap (a make with a run-time length), not a goroutine stack
	// that moves when it grows.
	ids := make([][2]uint32, max(a.Threads, 1))
	for t := 0; t < int(max(a.Threads, 1)); t++ {
		wg.Add(1)
		go func(thread int) {
			defer wg.Done()
			// Locked and never unlocked: the thread ends with the goroutine,
			// and with it whatever thread-local state or signal mask the
			// plugin left on it.
			runtime.LockOSThread()
			errno := (*int32)(addr(must(purego.SyscallN(s.c.errnoLocation))))
			for cycle := uint32(0); cycle < a.Iterations; cycle++ {
				uid, gid, ok := s.authCycle(a, sym, info, data, errno, &ids[thread], func(format string, args ...any) {
					fail(thread, cycle, format, args...)
				})
				if ok {
					mu.Lock()
					res.Completed++
					res.UID, res.GID = uid, gid
					mu.Unlock()
				}
			}
		}(t)
	}
	wg.Wait()
	res.HeapAfter, _ = s.c.heap()
	return res
}

func (s *server) authCycle(a *wire.AuthCycles, sym func(int16) uintptr, info, data uintptr, errno *int32,
	ids *[2]uint32, fail func(string, ...any)) (uid, gid uint32, ok bool) {
	call := func(fn uintptr, args ...uintptr) uintptr {
		*errno = 0
		r, _, _ := purego.SyscallN(fn, args...)
		return r
	}
	var cred uintptr
	if a.Create4 {
		cred = call(sym(a.Create), info, profile.SlurmAuthUIDAny, data, uintptr(len(a.Data)))
	} else {
		cred = call(sym(a.Create), info)
	}
	if cred == 0 {
		fail("create returned NULL, errno %d", *errno)
		return 0, 0, false
	}
	setIndex(cred)
	destroy := func(c uintptr) { call(sym(a.Destroy), c) }
	defer destroy(cred)
	buf := call(s.h.initBuf, 1024)
	defer purego.SyscallN(s.h.freeBuf, buf)
	if rc := int32(call(sym(a.Pack), cred, buf, uintptr(a.Protocol))); rc != 0 {
		fail("pack returned %d, errno %d", rc, *errno)
		return 0, 0, false
	}
	*(*uint32)(addr(buf + profile.BufOffProcessed)) = 0
	back := call(sym(a.Unpack), buf, uintptr(a.Protocol))
	if back == 0 {
		fail("unpack returned NULL, errno %d", *errno)
		return 0, 0, false
	}
	setIndex(back)
	defer destroy(back)
	if rc := int32(call(sym(a.Verify), back, info)); rc != 0 {
		fail("verify returned %d, errno %d", rc, *errno)
		return 0, 0, false
	}
	if a.GetIDs >= 0 {
		call(sym(a.GetIDs), back, uintptr(unsafe.Pointer(&ids[0])), uintptr(unsafe.Pointer(&ids[1])))
		uid, gid = ids[0], ids[1]
	} else {
		uid, gid = uint32(call(sym(a.GetUID), back)), uint32(call(sym(a.GetGID), back))
	}
	return uid, gid, true
}

// setIndex is slurm_auth.c's "cred->index = index" after create and unpack
// (index 0: the AuthType plugin; loader.FrameworkIndex).
func setIndex(cred uintptr) { *(*int32)(addr(cred)) = 0 }

// credCycles signs and verifies on c.Threads OS threads at once, freeing
// each signature with xfree as the framework does.
func (s *server) credCycles(c *wire.CredCycles) wire.AuthCyclesResult {
	sign, verify := s.syms[c.Sign], s.syms[c.Verify]
	data := s.c.alloc(c.Data, 0)
	defer purego.SyscallN(s.c.free, data)
	return s.loops(int(c.Threads), c.Iterations, func(errno *int32) string {
		var sig uintptr
		var size uint32
		*errno = 0
		rc, _, _ := purego.SyscallN(sign, uintptr(c.PrivKey), data, uintptr(len(c.Data)),
			uintptr(unsafe.Pointer(&sig)), uintptr(unsafe.Pointer(&size)))
		if int32(rc) != 0 || sig == 0 {
			return fmt.Sprintf("sign returned %d, errno %d", int32(rc), *errno)
		}
		defer s.h.xfreePtr(sig)
		args := []uintptr{uintptr(c.PubKey), data, uintptr(len(c.Data)), sig, uintptr(size)}
		if c.ReplayArg {
			args = append(args, 1)
		}
		*errno = 0
		if rc, _, _ := purego.SyscallN(verify, args...); int32(rc) != 0 {
			return fmt.Sprintf("verify_sign returned %d, errno %d", int32(rc), *errno)
		}
		return ""
	})
}

// loops runs cycle iterations times on each of threads locked OS threads
// at once and counts what failed (cycle returns why, "" for success), with
// the heap in use before and after.
func (s *server) loops(threads int, iterations uint32, cycle func(errno *int32) string) wire.AuthCyclesResult {
	var res wire.AuthCyclesResult
	var mu sync.Mutex
	res.HeapBefore, _ = s.c.heap()
	defer concurrently(threads)()
	var wg sync.WaitGroup
	for t := 0; t < max(threads, 1); t++ {
		wg.Add(1)
		go func(thread int) {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
			errno := (*int32)(addr(must(purego.SyscallN(s.c.errnoLocation))))
			for n := uint32(0); n < iterations; n++ {
				failure := cycle(errno)
				mu.Lock()
				if failure == "" {
					res.Completed++
				} else {
					res.Failed++
					if res.FirstFailure == "" {
						res.FirstFailure = failure + fmt.Sprintf(" (thread %d, cycle %d)", thread, n)
					}
				}
				mu.Unlock()
			}
		}(t)
	}
	wg.Wait()
	res.HeapAfter, _ = s.c.heap()
	return res
}

// cred2Cycles creates a job credential, unpacks a copy of its packed bytes
// (in a buffer from init_buf, as slurmd receives it) and destroys both
// with slurm_cred_destroy, on c.Threads OS threads at once.
func (s *server) cred2Cycles(c *wire.Cred2Cycles) wire.AuthCyclesResult {
	create, unpack, destroy := s.syms[c.Create], s.syms[c.Unpack], s.syms[c.Destroy]
	return s.loops(int(c.Threads), c.Iterations, func(errno *int32) string {
		return s.cred2Cycle(c, create, unpack, destroy, errno)
	})
}

func (s *server) cred2Cycle(c *wire.Cred2Cycles, create, unpack, destroy uintptr, errno *int32) string {
	*errno = 0
	cred, _, _ := purego.SyscallN(create, uintptr(c.Arg), 1, uintptr(c.Protocol))
	if cred == 0 {
		return fmt.Sprintf("cred_p_create returned NULL, errno %d", *errno)
	}
	defer purego.SyscallN(destroy, cred)
	packed := *(*uintptr)(addr(cred + uintptr(c.BufferOff)))
	if packed == 0 {
		return "cred_p_create returned a credential without a buffer"
	}
	n := *(*uint32)(addr(packed + profile.BufOffProcessed))
	b, _, _ := purego.SyscallN(s.h.initBuf, uintptr(max(n, 1)))
	if b == 0 {
		return "init_buf failed"
	}
	defer purego.SyscallN(s.h.freeBuf, b)
	copy(cbytes(*(*uintptr)(addr(b + profile.BufOffHead)), int(n)), cbytes(*(*uintptr)(addr(packed + profile.BufOffHead)), int(n)))
	*(*uint32)(addr(b + profile.BufOffSize)) = n
	*errno = 0
	u, _, _ := purego.SyscallN(unpack, b, uintptr(c.Protocol))
	if u == 0 {
		return fmt.Sprintf("cred_p_unpack of a fresh credential returned NULL, errno %d", *errno)
	}
	defer purego.SyscallN(destroy, u)
	if c.Verify && *(*uint8)(addr(u + uintptr(c.VerifiedOff))) == 0 {
		return "cred_p_unpack as slurmd did not verify a fresh credential"
	}
	return ""
}
