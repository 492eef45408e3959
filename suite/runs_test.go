package suite_test

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/plugincheck/plugincheck/suite"
)

// runSlots bounds how many suite runs the tests have under way at once
// (PLUGINCHECK_TEST_RUNS, default 5). Each run spreads its specs over
// processes of its own, and most of a run's time goes to waits (credential
// lifetimes, leak windows, which wait rather than cycle), so several runs
// at once keep two cores busy. Not many more: with the one-second lifetime
// the fixtures run with, a cycle the scheduler stalls past a second
// boundary sees its credential expire (seen at load 20 and more, when the
// leak windows still cycled flat out).
var runSlots = make(chan struct{}, testRuns())

func testRuns() int {
	if n, err := strconv.Atoi(os.Getenv("PLUGINCHECK_TEST_RUNS")); err == nil && n > 0 {
		return n
	}
	return 5
}

// pendingRun is a suite run under way in the background.
type pendingRun struct {
	done   chan struct{}
	sum    *suite.Summary
	err    error
	mu     sync.Mutex
	output bytes.Buffer // Ginkgo's console report of the run
}

func (r *pendingRun) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.output.Write(p)
}

// startRun starts a run once a slot is free. Call it on the test's
// goroutine with everything the run needs already set up (a run cannot
// call t.Fatal), then wait for its result in the subtest that checks it.
// The table tests queue their runs before they call t.Parallel: go test
// lets only GOMAXPROCS parallel tests go on at once, and runs queued by a
// test still waiting for its turn keep the slots busy meanwhile.
func startRun(cfg suite.Config, opts suite.RunOptions) *pendingRun {
	r := &pendingRun{done: make(chan struct{})}
	opts.Output = r
	go func() {
		runSlots <- struct{}{}
		defer func() { <-runSlots; close(r.done) }()
		r.sum, r.err = suite.Run(cfg, opts)
	}()
	return r
}

// wait returns the run's summary; a setup error fails t. When t fails,
// its log gets the run's Ginkgo report.
func (r *pendingRun) wait(t *testing.T) *suite.Summary {
	t.Helper()
	<-r.done
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Ginkgo's report of the run:\n%s", r.output.String())
		}
	})
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	return r.sum
}
