// Package spin decides how long a reader of a non-blocking pipe polls it
// before it parks.
//
// On a small virtual machine, waking a halted vCPU to deliver a pipe
// wake-up costs tens of microseconds, more than the rest of a worker
// call's round trip, so a reader that expects its answer within
// microseconds polls for a short window first and usually never parks.
// Polling pays only when the answer comes within the window. When the
// other end is slow, or the machine has more runnable processes than CPUs
// (the self-validation runs several runs of several workers at once),
// every poll is a system call taken from the very process the reader
// waits for: a microsecond each on a virtual machine with page-table
// isolation, 200 of them per wait. So a reader whose polling did not
// catch the answer parks at once for its next waits, for twice as many
// each time its polling failed again (up to maxSkip), and a poll that
// catches the answer puts it back to polling every time.
package spin

import "time"

// Window is how long a reader polls before it parks.
const Window = 200 * time.Microsecond

// maxSkip bounds the waits a reader parks at once before it polls again.
const maxSkip = 63

// Policy is one reader's polling state; its zero value polls.
type Policy struct {
	skip    int  // waits left to park at once for
	backoff int  // how many waits the last failed poll skipped
	polling bool // the wait under way polls
}

// Start begins a read: it returns the time it began and the time to stop
// polling and park, which is the start itself when polling would not pay.
func (p *Policy) Start() (start, parkAt time.Time) {
	start = time.Now()
	if p.polling = p.skip == 0; !p.polling {
		return start, start
	}
	return start, start.Add(Window)
}

// Done ends the read that began at start, once what it waited for came.
// waited says whether it had to wait at all: what was already there when
// the read began says nothing about how long waits last.
func (p *Policy) Done(start time.Time, waited bool) {
	switch {
	case !waited:
		return
	case !p.polling:
		p.skip--
		return
	}
	if time.Since(start) <= Window {
		p.backoff = 0
		return
	}
	p.backoff = min(2*p.backoff+1, maxSkip)
	p.skip = p.backoff
}
