package loader

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// CrashError is a worker killed by a signal while running plugin code.
type CrashError struct {
	Func   string         // the plugin function that was running
	Signal syscall.Signal // e.g. SIGSEGV
	Stderr string         // the tail of what the process wrote to stderr
	Calls  []string       // the calls the worker made, oldest first
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("crashed with %s in %s%s", signalName(e.Signal), e.Func, tailSuffix(e.Stderr))
}

// HangError is a call that outlived its deadline; the worker was killed.
type HangError struct {
	Func     string
	Deadline time.Duration
	Calls    []string
}

func (e *HangError) Error() string {
	return fmt.Sprintf("hung in %s for %v (killed)", e.Func, e.Deadline)
}

// ExitError is a worker that ended by calling exit() (or returning from
// main) while running plugin code.
type ExitError struct {
	Func   string
	Status int
	Stderr string
	Calls  []string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("exited with status %d in %s%s", e.Status, e.Func, tailSuffix(e.Stderr))
}

// ClobberError is a call that closed descriptors the process depends on
// (stdin, stdout, stderr). The worker reports it and ends itself.
type ClobberError struct {
	Func string
	What string
}

func (e *ClobberError) Error() string { return fmt.Sprintf("%s %s", e.Func, e.What) }

// SetupError is a worker that could not load the host, the configuration
// or the plugin.
type SetupError struct {
	Stage string
	// Msg says what went wrong; Err is the cause, when there is one.
	Msg    string
	Err    error
	Stderr string
}

func (e *SetupError) Error() string {
	msg := e.Stage + ": " + e.Msg
	switch {
	case e.Err != nil && e.Msg == "":
		msg = e.Stage + ": " + e.Err.Error()
	case e.Err != nil:
		msg += ": " + e.Err.Error()
	}
	return msg + tailSuffix(e.Stderr)
}

func (e *SetupError) Unwrap() error { return e.Err }

// ProtocolError is a worker that answered something the parent cannot
// read, or refused a request.
type ProtocolError struct {
	Func string
	Msg  string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("worker protocol (%s): %s", e.Func, e.Msg) }

// signalNames is built once: a fuzzing campaign names every recovered
// fault, thousands a second.
var signalNames = map[syscall.Signal]string{
	syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT", syscall.SIGBUS: "SIGBUS",
	syscall.SIGFPE: "SIGFPE", syscall.SIGILL: "SIGILL", syscall.SIGKILL: "SIGKILL",
	syscall.SIGTERM: "SIGTERM", syscall.SIGXCPU: "SIGXCPU", syscall.SIGTRAP: "SIGTRAP",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGSYS: "SIGSYS",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d (%s)", int(s), s)
}

func tailSuffix(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return "; stderr: " + strings.Join(lines, " | ")
}
