package worker

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Step indices of a bench thread's histograms.
const (
	stCycle = iota
	stCreate
	stPack
	stUnpack
	stVerify
	stIDs
	stDestroy
	nSteps
)

var authStepNames = [nSteps]string{"cycle", "create", "pack", "unpack", "verify", "ids", "destroy"}

// Cred cycles reuse the first slots.
const (
	stSign       = stCreate
	stVerifySign = stPack
	stXfree      = stUnpack
)

var credStepNames = [nSteps]string{"cycle", "sign", "verify_sign", "xfree"}

// benchThread is one OS thread's share of a timed run. Everything the hot
// loop touches is allocated before it starts: purego.SyscallN copies its
// arguments out of a slice, and a slice made per call would be a heap
// allocation per call.
type benchThread struct {
	// Padding keeps each thread's counters off the cache lines of the
	// others': shared lines would make the threads slow each other down.
	_               [128]byte
	count, sum, max [nSteps]uint64
	hist            [nSteps][]uint64
	cycles, failed  uint64
	failure         string
	_               [128]byte
}

func (t *benchThread) record(step int, d time.Duration) {
	v := uint64(d)
	t.count[step]++
	t.sum[step] += v
	if v > t.max[step] {
		t.max[step] = v
	}
	t.hist[step][wire.HistBucket(v)]++
}

func (t *benchThread) fail(format string, args ...any) {
	t.failed++
	if t.failure == "" {
		t.failure = fmt.Sprintf(format, args...)
	}
}

// bench runs b.Kind cycles on b.Threads locked OS threads until
// b.Duration has passed, timing each cycle (and, with b.Steps, each call).
func (s *server) bench(b *wire.Bench) (wire.BenchResult, error) {
	var res wire.BenchResult
	sym := func(i int16) uintptr {
		if i < 0 || int(i) >= len(s.syms) {
			return 0
		}
		return s.syms[i]
	}
	var loop func(t *benchThread, deadline time.Duration, start time.Time, errno *int32)
	names := authStepNames
	switch b.Kind {
	case wire.BenchAuth:
		if sym(b.Create) == 0 || sym(b.Pack) == 0 || sym(b.Unpack) == 0 || sym(b.Verify) == 0 || sym(b.Destroy) == 0 ||
			(sym(b.GetIDs) == 0 && (sym(b.GetUID) == 0 || sym(b.GetGID) == 0)) {
			return res, fmt.Errorf("bench: a function of the auth cycle is missing")
		}
		info := s.c.alloc(b.AuthInfo, 1)
		data := s.c.alloc(b.Data, 0)
		defer purego.SyscallN(s.c.free, info)
		defer purego.SyscallN(s.c.free, data)
		loop = func(t *benchThread, deadline time.Duration, start time.Time, errno *int32) {
			s.authBenchLoop(b, t, sym, info, data, deadline, start, errno)
		}
	case wire.BenchCred:
		if sym(b.Sign) == 0 || sym(b.VerifySign) == 0 {
			return res, fmt.Errorf("bench: sign or verify_sign is missing")
		}
		names = credStepNames
		data := s.c.alloc(b.Data, 0)
		defer purego.SyscallN(s.c.free, data)
		loop = func(t *benchThread, deadline time.Duration, start time.Time, errno *int32) {
			s.credBenchLoop(b, t, sym, data, deadline, start, errno)
		}
	case wire.BenchNoop:
		labs := dlsym(libcHandle(), "labs")
		if labs == 0 {
			return res, fmt.Errorf("bench: the C library has no labs")
		}
		names = [nSteps]string{"call"}
		loop = func(t *benchThread, deadline time.Duration, start time.Time, _ *int32) {
			args := []uintptr{1}
			prev := time.Since(start)
			for {
				// 64 calls between clock readings: the clock costs as much
				// as a call.
				for i := 0; i < 64; i++ {
					purego.SyscallN(labs, args...)
				}
				now := time.Since(start)
				t.cycles += 64
				t.count[0] += 64
				t.sum[0] += uint64(now - prev)
				t.hist[0][wire.HistBucket(uint64(now-prev)/64)] += 64
				prev = now
				if now >= deadline {
					return
				}
			}
		}
	default:
		return res, fmt.Errorf("bench: unknown kind %d", b.Kind)
	}

	n := int(max(b.Threads, 1))
	threads := make([]*benchThread, n)
	for i := range threads {
		t := &benchThread{}
		for j := range t.hist {
			t.hist[j] = make([]uint64, wire.HistBuckets)
		}
		threads[i] = t
	}
	defer concurrently(n)()
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	var start time.Time
	deadline := time.Duration(b.Duration)
	for _, t := range threads {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			// Locked and never unlocked: the thread ends with the goroutine,
			// and with it whatever thread-local state the plugin left.
			runtime.LockOSThread()
			errno := (*int32)(addr(must(purego.SyscallN(s.c.errnoLocation))))
			ready.Done()
			<-gate
			loop(t, deadline, start, errno)
		}()
	}
	ready.Wait()
	start = time.Now()
	close(gate)
	done.Wait()
	res.Wall = uint64(time.Since(start))

	for i, name := range names {
		if name == "" {
			continue
		}
		st := wire.BenchStep{Name: name, Hist: make([]uint64, wire.HistBuckets)}
		for _, t := range threads {
			st.Count += t.count[i]
			st.Sum += t.sum[i]
			st.Max = max(st.Max, t.max[i])
			for j, c := range t.hist[i] {
				st.Hist[j] += c
			}
		}
		if st.Count > 0 {
			res.Steps = append(res.Steps, st)
		}
	}
	for _, t := range threads {
		res.Cycles += t.cycles
		res.Failed += t.failed
		if res.FirstFailure == "" {
			res.FirstFailure = t.failure
		}
	}
	return res, nil
}

// authBenchLoop is the auth cycle of bench-native.c: one buffer per thread,
// rewound rather than reallocated.
func (s *server) authBenchLoop(b *wire.Bench, t *benchThread, sym func(int16) uintptr, info, data uintptr,
	deadline time.Duration, start time.Time, errno *int32) {
	create, pack, unpack, verify := sym(b.Create), sym(b.Pack), sym(b.Unpack), sym(b.Verify)
	destroy, getUID, getGID, getIDs := sym(b.Destroy), sym(b.GetUID), sym(b.GetGID), sym(b.GetIDs)
	buf, _, _ := purego.SyscallN(s.h.initBuf, 1024)
	if buf == 0 {
		t.fail("init_buf returned NULL")
		return
	}
	processed := (*uint32)(addr(buf + profile.BufOffProcessed))
	var ids [2]uint32
	createArgs := []uintptr{info}
	if b.Create4 {
		createArgs = []uintptr{info, profile.SlurmAuthUIDAny, data, uintptr(len(b.Data))}
	}
	packArgs := []uintptr{0, buf, uintptr(b.Protocol)}
	unpackArgs := []uintptr{buf, uintptr(b.Protocol)}
	verifyArgs := []uintptr{0, info}
	idsArgs := []uintptr{0, uintptr(unsafe.Pointer(&ids[0])), uintptr(unsafe.Pointer(&ids[1]))}
	one := []uintptr{0}
	steps := b.Steps
	// mark reads the clock when timing steps: the time since the last mark
	// goes to step.
	last := time.Since(start)
	cycleStart := last
	mark := func(step int) {
		if steps {
			now := time.Since(start)
			t.record(step, now-last)
			last = now
		}
	}
	for {
		*errno = 0
		cred, _, _ := purego.SyscallN(create, createArgs...)
		mark(stCreate)
		if cred == 0 {
			t.fail("create returned NULL, errno %d", *errno)
		} else {
			*processed = 0
			packArgs[0] = cred
			rc, _, _ := purego.SyscallN(pack, packArgs...)
			mark(stPack)
			if int32(rc) != 0 {
				t.fail("pack returned %d, errno %d", int32(rc), *errno)
			} else {
				*processed = 0
				back, _, _ := purego.SyscallN(unpack, unpackArgs...)
				mark(stUnpack)
				if back == 0 {
					t.fail("unpack returned NULL, errno %d", *errno)
				} else {
					verifyArgs[0] = back
					rc, _, _ := purego.SyscallN(verify, verifyArgs...)
					mark(stVerify)
					if int32(rc) != 0 {
						t.fail("verify returned %d, errno %d", int32(rc), *errno)
					} else {
						if getIDs != 0 {
							idsArgs[0] = back
							purego.SyscallN(getIDs, idsArgs...)
						} else {
							one[0] = back
							purego.SyscallN(getUID, one...)
							purego.SyscallN(getGID, one...)
						}
						mark(stIDs)
					}
					one[0] = back
					purego.SyscallN(destroy, one...)
				}
			}
			one[0] = cred
			purego.SyscallN(destroy, one...)
			mark(stDestroy)
		}
		now := time.Since(start)
		t.record(stCycle, now-cycleStart)
		t.cycles++
		cycleStart, last = now, now
		if now >= deadline || t.failed > 1000 {
			break
		}
	}
	purego.SyscallN(s.h.freeBuf, buf)
}

// credBenchLoop signs, verifies and frees the signature, as the framework
// does for every credential.
func (s *server) credBenchLoop(b *wire.Bench, t *benchThread, sym func(int16) uintptr, data uintptr,
	deadline time.Duration, start time.Time, errno *int32) {
	sign, verify := sym(b.Sign), sym(b.VerifySign)
	var sig uintptr
	var size uint32
	signArgs := []uintptr{uintptr(b.PrivKey), data, uintptr(len(b.Data)),
		uintptr(unsafe.Pointer(&sig)), uintptr(unsafe.Pointer(&size))}
	verifyArgs := []uintptr{uintptr(b.PubKey), data, uintptr(len(b.Data)), 0, 0}
	if b.ReplayArg {
		verifyArgs = append(verifyArgs, 1)
	}
	file := []byte("plugincheck\x00")
	xfreeArgs := []uintptr{uintptr(unsafe.Pointer(&sig)), uintptr(unsafe.Pointer(&file[0])), 0, uintptr(unsafe.Pointer(&file[0]))}
	steps := b.Steps
	last := time.Since(start)
	cycleStart := last
	mark := func(step int) {
		if steps {
			now := time.Since(start)
			t.record(step, now-last)
			last = now
		}
	}
	for {
		*errno = 0
		sig, size = 0, 0
		rc, _, _ := purego.SyscallN(sign, signArgs...)
		mark(stSign)
		if int32(rc) != 0 || sig == 0 {
			t.fail("sign returned %d, errno %d", int32(rc), *errno)
		} else {
			verifyArgs[3], verifyArgs[4] = sig, uintptr(size)
			rc, _, _ := purego.SyscallN(verify, verifyArgs...)
			mark(stVerifySign)
			if int32(rc) != 0 {
				t.fail("verify_sign returned %d, errno %d", int32(rc), *errno)
			}
			purego.SyscallN(s.h.xfree, xfreeArgs...)
			mark(stXfree)
		}
		now := time.Since(start)
		t.record(stCycle, now-cycleStart)
		t.cycles++
		cycleStart, last = now, now
		if now >= deadline || t.failed > 1000 {
			break
		}
	}
	runtime.KeepAlive(file)
}

// libcHandle is the C library, already loaded.
func libcHandle() uintptr {
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return 0
	}
	return h
}

// benchRequest serves an OpBench request.
func (s *server) benchRequest(d *wire.Decoder) {
	var b wire.Bench
	if b.Decode(d); d.Err() != nil {
		return
	}
	res, err := s.bench(&b)
	// auth/munge's create replaces the SIGALRM handler (design.md trap 2).
	s.signals.restore()
	if err != nil {
		s.fail("%v", err)
		return
	}
	res.Encode(&s.enc)
}
