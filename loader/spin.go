package loader

import (
	"os"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/spin"
)

// spinReader reads a non-blocking pipe, polling it (when package spin says
// it pays) before it lets the runtime's poller park the goroutine.
type spinReader struct {
	f    *os.File
	wait spin.Policy
}

func (s *spinReader) Read(p []byte) (int, error) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	start, parkAt := s.wait.Start()
	waited := false
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = syscall.Read(int(fd), p)
			switch {
			case rerr == syscall.EINTR:
				continue
			case rerr == syscall.EAGAIN && time.Now().Before(parkAt):
				waited = true
				continue
			case rerr == syscall.EAGAIN:
				waited = true
				return false // park until readable
			}
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	s.wait.Done(start, waited)
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 && len(p) > 0 {
		return 0, os.ErrClosed
	}
	return n, nil
}
