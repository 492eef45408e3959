package suite

import (
	"fmt"
	"time"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
)

// Steady-state leak measurement (AUTH-LEAK, CRED-LEAK). A plugin may keep
// what it verified until it expires (a replay cache): its heap grows until
// the oldest entries expire, then saws up and down around a level as
// entries come and go, and that is no leak. So the loop runs in three
// windows: a warm-up, then two measured windows, each of 2,000 cycles and
// a wait until every credential they made has expired (the last window
// ends with its cycles: nothing comes after it to see what its wait would
// expire). The
// heap's high-water mark of a window is its highest sample (one after
// every 1,000 cycles). A leak raises the mark from window to window; a
// bounded cache does not. Growth is reported when the mark rose in both
// measured windows, by at least 1 MiB per 10,000 measured cycles overall.
const (
	leakBound     = 1 << 20
	leakPer       = 10000
	leakRound     = 1000
	windowCycles  = 2000
	maxWindowTime = 10 * time.Second
	windows       = 3 // the warm-up and two measured
)

// leakResult is what steadyLeak measured.
type leakResult struct {
	ttl      int           // the lifetime each window outlasts; 0 when none is configured
	marks    []uint64      // the high-water mark of the warm-up and of each measured window
	measured int           // cycles in the measured windows
	window   time.Duration // the longest window, cycles and wait
}

// growth is the rise of the high-water mark over the measured windows,
// per leakPer cycles.
func (l leakResult) growth() int64 {
	rise := int64(l.marks[len(l.marks)-1]) - int64(l.marks[0])
	return rise * leakPer / int64(max(l.measured, 1))
}

// leaks reports a high-water mark that rose in every measured window, by
// leakBound per leakPer cycles or more.
func (l leakResult) leaks() bool {
	for i := 1; i < len(l.marks); i++ {
		if l.marks[i] <= l.marks[i-1] {
			return false
		}
	}
	return l.growth() >= leakBound
}

func (l leakResult) String() string {
	past := "no credential lifetime configured"
	if l.ttl > 0 {
		past = fmt.Sprintf("each window outlasting the %ds lifetime", l.ttl)
	}
	return fmt.Sprintf("the heap's high-water mark kept rising, by %d bytes per %d cycles over %d cycles (windows of up to %v, %s; marks %v)",
		l.growth(), leakPer, l.measured, l.window.Round(time.Millisecond), past, l.marks)
}

// steadyLeak runs cycles through run(n) in a warm-up and two measured
// windows (see above), sampling heap in use with heap after each round.
// Every cycle must succeed.
func steadyLeak(ttl int, heap func() (uint64, error), run func(n int) (loader.CycleResult, error)) leakResult {
	l := leakResult{ttl: ttl}
	for w := 0; w < windows; w++ {
		start, cycles := time.Now(), 0
		var mark uint64
		// Every window, the warm-up too, runs the same cycles: a cache of
		// what the last lifetime verified then holds as much at the end
		// of each, and only a leak raises the mark.
		for cycles < windowCycles {
			r, err := run(leakRound)
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Failed).To(BeZero(), "cycles fail: %s", r.FirstFailure)
			cycles += leakRound
			h, err := heap()
			Expect(err).NotTo(HaveOccurred())
			mark = max(mark, h)
		}
		if w > 0 {
			l.measured += cycles
		}
		l.marks = append(l.marks, mark)
		if w == windows-1 {
			break // its mark is taken: what it would wait for, no window sees
		}
		// The window waits out its credentials' lifetime without cycling
		// through it: what the plugin keeps until expiry expires all the
		// same, and the next window's cycles see it gone. Cycling flat out
		// would only burn CPU (most of the self-validation's, at a
		// lifetime of 1 s).
		end := expiredBy(time.Now(), ttl)
		if last := start.Add(maxWindowTime); end.After(last) {
			end = last
		}
		l.window = max(l.window, end.Sub(start))
		cleanup.Sleep(time.Until(end))
	}
	return l
}

// expiryMargin is how long after the second that expires a credential a
// window still waits: timers do not fire early, but a plugin's clock
// read is not the instant of ours.
const expiryMargin = 20 * time.Millisecond

// expiredBy is when a credential made at or before now has outlived ttl
// seconds. Plugins and munged keep time in whole seconds (time(NULL)): a
// credential made in second s has expired once the clock reads more than
// s+ttl, that is from the start of second s+ttl+1. So a window waits for
// that second, neither the ttl+1 seconds from its start a first version
// waited (too short when its cycles crossed a second, too long
// otherwise) nor a second when no lifetime is configured (0): what
// expires "now" is gone when the second turns.
func expiredBy(now time.Time, ttl int) time.Time {
	return now.Truncate(time.Second).Add(time.Duration(ttl+1)*time.Second + expiryMargin)
}
