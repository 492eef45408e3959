package loader

import (
	"io"
	"regexp"
	"sync"
	"syscall"
)

// tail keeps the last bytes written to it and counts the rest, so a plugin
// that floods its output neither blocks nor exhausts the parent.
type tail struct {
	mu    sync.Mutex
	buf   []byte
	max   int
	total int64
	done  chan struct{}
}

func newTail(max int) *tail { return &tail{max: max, done: make(chan struct{})} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) drain(r io.ReadCloser) {
	io.Copy(t, r)
	r.Close()
	close(t.done)
}

// String is the retained tail.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// Total is every byte ever written.
func (t *tail) Total() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total
}

// goCrashReport matches the first line of the Go runtime's own report of a
// fatal signal, which follows whatever the plugin printed.
var goCrashReport = regexp.MustCompile(`(?m)^(SIG[A-Z]+: |fatal error: |runtime: |signal arrived during|PC=0x)`)

// pluginOutput strips the Go runtime's crash report from a worker's stderr.
func pluginOutput(stderr string) string {
	if loc := goCrashReport.FindStringIndex(stderr); loc != nil {
		return stderr[:loc[0]]
	}
	return stderr
}

// goSignal finds the signal the Go runtime reported ("SIGSEGV: segmentation
// violation", or "[signal SIGSEGV: …]" for a fault in runtime code).
var goSignal = regexp.MustCompile(`(?m)^(?:\[signal )?(SIG[A-Z0-9]+): `)

// originalSignal undoes GOTRACEBACK=crash: the runtime reports the plugin's
// fatal signal, then ends the process with SIGABRT.
func originalSignal(killedBy syscall.Signal, stderr string) syscall.Signal {
	if killedBy != syscall.SIGABRT {
		return killedBy
	}
	m := goSignal.FindStringSubmatch(stderr)
	if m == nil {
		return killedBy
	}
	for sig := syscall.Signal(1); sig < 65; sig++ {
		if signalName(sig) == m[1] {
			return sig
		}
	}
	return killedBy
}
