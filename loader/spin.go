package loader

import (
	"os"
	"syscall"
	"time"
)

// spinWait is how long a reader polls before it parks. On a small virtual
// machine, waking a halted vCPU to deliver a pipe wake-up costs tens of
// microseconds, more than the rest of a call's round trip; a worker usually
// answers within this window, so the parent rarely parks.
const spinWait = 200 * time.Microsecond

// spinReader reads a non-blocking pipe, polling for spinWait before it lets
// the runtime's poller park the goroutine.
type spinReader struct{ f *os.File }

func (s spinReader) Read(p []byte) (int, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	deadline := time.Now().Add(spinWait)
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			switch {
			case rerr == syscall.EINTR:
				continue
			case rerr == syscall.EAGAIN && time.Now().Before(deadline):
				continue
			case rerr == syscall.EAGAIN:
				return false // park until readable
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 && len(p) > 0 {
		return 0, os.ErrClosed
	}
	return n, nil
}
