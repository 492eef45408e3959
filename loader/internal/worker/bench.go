package worker

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
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

// newCallFunc makes one of a loop thread's call sites: hotcall.New, or
// hotcall.NewPurego when the request compares the two paths.
type newCallFunc func(fn uintptr, args ...uintptr) *hotcall.Call

// benchThread is one OS thread's share of a timed run. Everything the hot
// loop touches is allocated before it starts, its call sites included.
type benchThread struct {
	// Padding keeps each thread's counters off the cache lines of the
	// others': shared lines would make the threads slow each other down.
	_               [128]byte
	count, sum, max [nSteps]uint64
	hist            [nSteps][]uint64
	cycles, failed  uint64
	failure         string
	// Out-parameters of the cycle's calls. C gets their addresses as
	// integers, so they must not be on a goroutine stack, which moves when
	// it grows; a benchThread is on the heap.
	ids     [2]uint32
	sig     uintptr
	sigSize uint32
	// The run's clock: its start and end, whether calls are timed, and the
	// readings at the last mark, cycle start and yield.
	start                     time.Time
	deadline                  time.Duration
	steps                     bool
	last, cycleStart, yielded time.Duration
	_                         [128]byte
}

// xfreeFile is the file name slurm_xfree is given, in memory that never moves.
var xfreeFile = [...]byte{'p', 'l', 'u', 'g', 'i', 'n', 'c', 'h', 'e', 'c', 'k', 0}

func (t *benchThread) record(step int, d time.Duration) {
	v := uint64(d)
	t.count[step]++
	t.sum[step] += v
	if v > t.max[step] {
		t.max[step] = v
	}
	t.hist[step][wire.HistBucket(v)]++
}

// begin starts the thread's clock on a run that started at start and
// ends at deadline; with steps, each call is timed too.
func (t *benchThread) begin(start time.Time, deadline time.Duration, steps bool) {
	t.start, t.deadline, t.steps = start, deadline, steps
	t.last = time.Since(start)
	t.cycleStart, t.yielded = t.last, t.last
}

// mark gives step the time since the last mark, when calls are timed.
func (t *benchThread) mark(step int) {
	if t.steps {
		now := time.Since(t.start)
		t.record(step, now-t.last)
		t.last = now
	}
}

// endCycle records the cycle just ended and reports whether the run is
// over (its time is up, or too many cycles failed).
func (t *benchThread) endCycle() (over bool) {
	now := time.Since(t.start)
	t.record(stCycle, now-t.cycleStart)
	t.cycles++
	if now >= t.deadline || t.failed > 1000 {
		return true
	}
	now = t.yield(now)
	t.cycleStart, t.last = now, now
	return false
}

// yieldEvery is how often a loop passes through the scheduler; sysmon
// counts a goroutine as running too long after 10 ms (forcePreemptNS).
const yieldEvery = 5 * time.Millisecond

// yield passes the loop's goroutine through the scheduler when yieldEvery
// has gone by since it last did, and returns the clock after it (now when
// it did not yield), so that no cycle includes the time. A goroutine that
// never reschedules counts as running too long, and sysmon then takes its
// P whenever it is in a C call (it cannot be preempted there): every
// return from C goes the slow way through the scheduler, with futex
// wake-ups, which cost a plugin blocked on munged ~10 % of its rate.
func (t *benchThread) yield(now time.Duration) time.Duration {
	if now-t.yielded < yieldEvery {
		return now
	}
	runtime.Gosched()
	now = time.Since(t.start)
	t.yielded = now
	return now
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
	sym := s.sym
	var loop func(t *benchThread, newCall newCallFunc, errno *int32)
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
		loop = func(t *benchThread, newCall newCallFunc, errno *int32) {
			s.authBenchLoop(b, t, newCall, sym, info, data, errno)
		}
	case wire.BenchCred:
		if sym(b.Sign) == 0 || sym(b.VerifySign) == 0 {
			return res, fmt.Errorf("bench: sign or verify_sign is missing")
		}
		names = credStepNames
		data := s.c.alloc(b.Data, 0)
		defer purego.SyscallN(s.c.free, data)
		loop = func(t *benchThread, newCall newCallFunc, errno *int32) {
			s.credBenchLoop(b, t, newCall, sym, data, errno)
		}
	case wire.BenchNoop:
		labs := dlsym(libcHandle(), "labs")
		if labs == 0 {
			return res, fmt.Errorf("bench: the C library has no labs")
		}
		names = [nSteps]string{"call"}
		loop = func(t *benchThread, newCall newCallFunc, _ *int32) {
			abs := newCall(labs, 1)
			prev := t.last
			for {
				// 64 calls between clock readings: the clock costs as much
				// as a call.
				for i := 0; i < 64; i++ {
					abs.Do()
				}
				now := time.Since(t.start)
				t.cycles += 64
				t.count[0] += 64
				t.sum[0] += uint64(now - prev)
				t.hist[0][wire.HistBucket(uint64(now-prev)/64)] += 64
				if now >= t.deadline {
					return
				}
				prev = t.yield(now)
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
	newCall := newCallFunc(hotcall.New)
	if b.Purego {
		newCall = hotcall.NewPurego
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
			t.begin(start, deadline, b.Steps)
			loop(t, newCall, errno)
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
func (s *server) authBenchLoop(b *wire.Bench, t *benchThread, newCall newCallFunc, sym func(int16) uintptr, info, data uintptr,
	errno *int32) {
	buf, _, _ := purego.SyscallN(s.h.initBuf, 1024)
	if buf == 0 {
		t.fail("init_buf returned NULL")
		return
	}
	defer purego.SyscallN(s.h.freeBuf, buf)
	// The argument a call site changes per cycle (the credential) is
	// Args[0], set as the cycle goes.
	c := &authCycle{
		t: t, errno: errno, processed: (*uint32)(addr(buf + profile.BufOffProcessed)),
		create:  newCall(sym(b.Create), info),
		pack:    newCall(sym(b.Pack), 0, buf, uintptr(b.Protocol)),
		unpack:  newCall(sym(b.Unpack), buf, uintptr(b.Protocol)),
		verify:  newCall(sym(b.Verify), 0, info),
		destroy: newCall(sym(b.Destroy), 0),
	}
	if b.Create4 {
		c.create = newCall(sym(b.Create), info, profile.SlurmAuthUIDAny, data, uintptr(len(b.Data)))
	}
	if sym(b.GetIDs) != 0 {
		c.ids = []*hotcall.Call{newCall(sym(b.GetIDs), 0, uintptr(unsafe.Pointer(&t.ids[0])), uintptr(unsafe.Pointer(&t.ids[1])))}
	} else {
		c.ids = []*hotcall.Call{newCall(sym(b.GetUID), 0), newCall(sym(b.GetGID), 0)}
	}
	if !t.steps && !b.Purego {
		// Nothing to time between the calls: the whole cycle in one
		// transition into C.
		c.fast = &hotcall.AuthCycle{Create: c.create, Pack: c.pack, Unpack: c.unpack, Verify: c.verify,
			Destroy: c.destroy, Errno: errno, Processed: c.processed}
		copy(c.fast.IDs[:], c.ids)
	}
	for {
		c.run()
		if t.endCycle() {
			return
		}
	}
}

// authCycle is one thread's auth cycle: its call sites and where it
// records.
type authCycle struct {
	t                                     *benchThread
	errno                                 *int32
	processed                             *uint32 // the buffer's read/write offset
	create, pack, unpack, verify, destroy *hotcall.Call
	ids                                   []*hotcall.Call // get_ids, or get_uid and get_gid
	// fast is the same cycle in one call, when calls are not timed.
	fast *hotcall.AuthCycle
}

// run makes a credential, sends it round and destroys what it made.
func (c *authCycle) run() {
	if f := c.fast; f != nil {
		f.Run()
		switch f.Failed {
		case hotcall.StepCreate:
			c.t.fail("create returned NULL, errno %d", f.FailErrno)
		case hotcall.StepPack:
			c.t.fail("pack returned %d, errno %d", int32(f.Result), f.FailErrno)
		case hotcall.StepUnpack:
			c.t.fail("unpack returned NULL, errno %d", f.FailErrno)
		case hotcall.StepVerify:
			c.t.fail("verify returned %d, errno %d", int32(f.Result), f.FailErrno)
		}
		return
	}
	*c.errno = 0
	cred := c.create.Do()
	c.t.mark(stCreate)
	if cred == 0 {
		c.t.fail("create returned NULL, errno %d", *c.errno)
		return
	}
	setIndex(cred)
	if back := c.roundTrip(cred); back != 0 {
		c.destroy.Args[0] = back
		c.destroy.Do()
	}
	c.destroy.Args[0] = cred
	c.destroy.Do()
	c.t.mark(stDestroy)
}

// roundTrip packs cred, unpacks it, verifies the copy and reads its ids. It
// returns the copy (0 when unpack failed), for the caller to destroy.
func (c *authCycle) roundTrip(cred uintptr) (back uintptr) {
	t := c.t
	*c.processed = 0
	c.pack.Args[0] = cred
	rc := int32(c.pack.Do())
	t.mark(stPack)
	if rc != 0 {
		t.fail("pack returned %d, errno %d", rc, *c.errno)
		return 0
	}
	*c.processed = 0
	back = c.unpack.Do()
	t.mark(stUnpack)
	if back == 0 {
		t.fail("unpack returned NULL, errno %d", *c.errno)
		return 0
	}
	setIndex(back)
	c.verify.Args[0] = back
	rc = int32(c.verify.Do())
	t.mark(stVerify)
	if rc != 0 {
		t.fail("verify returned %d, errno %d", rc, *c.errno)
		return back
	}
	for _, get := range c.ids {
		get.Args[0] = back
		get.Do()
	}
	t.mark(stIDs)
	return back
}

// credBenchLoop signs, verifies and frees the signature, as the framework
// does for every credential.
func (s *server) credBenchLoop(b *wire.Bench, t *benchThread, newCall newCallFunc, sym func(int16) uintptr, data uintptr,
	errno *int32) {
	sign := newCall(sym(b.Sign), uintptr(b.PrivKey), data, uintptr(len(b.Data)),
		uintptr(unsafe.Pointer(&t.sig)), uintptr(unsafe.Pointer(&t.sigSize)))
	// Args[3] and [4], the signature, are set per cycle.
	verify := newCall(sym(b.VerifySign), uintptr(b.PubKey), data, uintptr(len(b.Data)), 0, 0)
	if b.ReplayArg {
		verify = newCall(sym(b.VerifySign), uintptr(b.PubKey), data, uintptr(len(b.Data)), 0, 0, 1)
	}
	file := uintptr(unsafe.Pointer(&xfreeFile[0]))
	xfree := newCall(s.h.xfree, uintptr(unsafe.Pointer(&t.sig)), file, 0, file)
	for {
		*errno = 0
		t.sig, t.sigSize = 0, 0
		rc := sign.Do()
		t.mark(stSign)
		if int32(rc) != 0 || t.sig == 0 {
			t.fail("sign returned %d, errno %d", int32(rc), *errno)
		} else {
			verify.Args[3], verify.Args[4] = t.sig, uintptr(t.sigSize)
			rc := verify.Do()
			t.mark(stVerifySign)
			if int32(rc) != 0 {
				t.fail("verify_sign returned %d, errno %d", int32(rc), *errno)
			}
			xfree.Do()
			t.mark(stXfree)
		}
		if t.endCycle() {
			return
		}
	}
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
func (s *server) benchRequest(b *wire.Bench) {
	res, err := s.bench(b)
	// auth/munge's create replaces the SIGALRM handler (design.md trap 2).
	s.signals.restore()
	if err != nil {
		s.fail("%v", err)
		return
	}
	res.Encode(&s.enc)
}
