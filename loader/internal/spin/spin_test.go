package spin

import (
	"testing"
	"time"
)

// wait runs one read of a wait lasting d (0: what it read was there).
func wait(p *Policy, d time.Duration) (polled bool) {
	start, parkAt := p.Start()
	polled = parkAt.After(start)
	p.Done(start.Add(-d), d > 0)
	return polled
}

// TestPolicy: a reader polls while its polls catch what it waits for;
// after a poll that did not, it parks at once for 1, 3, 7, … waits (at
// most maxSkip) before it polls again; one poll that catches it puts it
// back to polling every time; reads that did not wait change nothing.
func TestPolicy(t *testing.T) {
	var p Policy
	for range 3 {
		if !wait(&p, Window/2) {
			t.Fatal("a reader whose polls catch the answer parks")
		}
	}
	long := 2 * Window
	for _, skip := range []int{1, 3, 7, 15, 31, 63, 63} {
		if !wait(&p, long) {
			t.Fatalf("before a skip of %d: the reader did not poll", skip)
		}
		for i := range skip {
			if wait(&p, 0); wait(&p, long) {
				t.Fatalf("skip of %d: the reader polled at wait %d", skip, i)
			}
		}
	}
	if !wait(&p, Window/2) {
		t.Fatal("the reader did not poll after its skip")
	}
	if !wait(&p, long) {
		t.Fatal("a poll that caught the answer did not reset the back-off")
	}
	if wait(&p, long) {
		t.Fatal("after one failed poll the reader polled again at once")
	}
}
