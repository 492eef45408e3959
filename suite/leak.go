package suite

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
)

// Steady-state leak measurement (AUTH-LEAK, CRED-LEAK). A plugin may keep
// what it verified until it expires (a replay cache): its heap grows until
// the oldest entries expire, then levels off, and that is no leak. So the
// loop first runs past the credential lifetime, then measures 10,000
// cycles in rounds, and reports growth only when it goes on growing.
const (
	leakCycles    = 10000
	leakRounds    = 5
	leakBound     = 1 << 20
	warmRound     = 1000
	maxWarmUp     = 10 * time.Second
	minWarmRounds = 2
)

// leakResult is what steadyLeak measured.
type leakResult struct {
	warmUp  time.Duration
	ttl     int // the lifetime warmed up past; 0 when none is configured
	rounds  []int64
	total   int64
	growing bool
}

// leaks reports growth of at least leakBound over the measured cycles
// that had not levelled off: the last two rounds grew by at least half of
// what the first two did.
func (l leakResult) leaks() bool { return l.total >= leakBound && l.growing }

func (l leakResult) String() string {
	var rounds []string
	for _, g := range l.rounds {
		rounds = append(rounds, fmt.Sprintf("%+d", g))
	}
	past := "no credential lifetime configured"
	if l.ttl > 0 {
		past = fmt.Sprintf("past the %ds lifetime", l.ttl)
	}
	return fmt.Sprintf("heap grew by %d bytes over %d cycles after a %v warm-up (%s), still growing (rounds of %d: %s)",
		l.total, leakCycles, l.warmUp.Round(time.Millisecond), past, leakCycles/leakRounds, strings.Join(rounds, ", "))
}

// steadyLeak warms run up past the lifetime ttl (seconds; 0 when unknown,
// then minWarmRounds rounds), then measures leakCycles cycles in leakRounds
// rounds. run(n) runs n cycles in the worker; every cycle must succeed.
func steadyLeak(ttl int, run func(n int) (loader.CycleResult, error)) leakResult {
	res := leakResult{ttl: ttl}
	warmFor := min(time.Duration(ttl)*time.Second+time.Second, maxWarmUp)
	start := time.Now()
	for i := 0; i < minWarmRounds || time.Since(start) < warmFor; i++ {
		r, err := run(warmRound)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeZero(), "cycles fail: %s", r.FirstFailure)
	}
	res.warmUp = time.Since(start)
	for i := 0; i < leakRounds; i++ {
		r, err := run(leakCycles / leakRounds)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Failed).To(BeZero(), "cycles fail: %s", r.FirstFailure)
		res.rounds = append(res.rounds, r.HeapGrowth)
		res.total += r.HeapGrowth
	}
	n := len(res.rounds)
	first, last := res.rounds[0]+res.rounds[1], res.rounds[n-2]+res.rounds[n-1]
	res.growing = res.rounds[n-1] > 0 && last*2 >= first
	return res
}
