package worker

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is struct sigaction as rt_sigaction(2) takes it on x86-64.
type kernelSigaction struct {
	handler, flags, restorer, mask uint64
}

// nsig bounds the signals checked after every call: the standard ones.
// Each check is a system call (about 0.17 µs here); the real-time signals
// above 31, which no Slurm plugin touches, would double the cost of a call.
const nsig = 31

// signalState is the set of dispositions the Go runtime installed. A plugin
// that replaces one (auth_munge's create re-installs SIGALRM without
// SA_ONSTACK) would make the next such signal kill the runtime, so the worker
// restores them after every call.
type signalState struct {
	actions [nsig + 1]kernelSigaction
	mask    uint64
}

func sigaction(sig int, act, old *kernelSigaction) syscall.Errno {
	_, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	return e
}

func sigmask(set, old *uint64) {
	how := 2 // SIG_SETMASK
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, uintptr(how), uintptr(unsafe.Pointer(set)),
		uintptr(unsafe.Pointer(old)), 8, 0, 0)
}

func (s *signalState) save() {
	for sig := 1; sig <= nsig; sig++ {
		sigaction(sig, nil, &s.actions[sig])
	}
	sigmask(nil, &s.mask)
}

// restore puts back every disposition and the thread's signal mask, and
// returns a bit mask of the signals whose disposition had changed.
func (s *signalState) restore() uint64 {
	var changed uint64
	for sig := 1; sig <= nsig; sig++ {
		var cur kernelSigaction
		if sigaction(sig, nil, &cur) != 0 {
			continue
		}
		if cur != s.actions[sig] {
			sigaction(sig, &s.actions[sig], nil)
			changed |= 1 << (sig - 1)
		}
	}
	var mask uint64
	sigmask(nil, &mask)
	if mask != s.mask {
		sigmask(&s.mask, nil)
	}
	return changed
}

// Flags of struct sigaction (asm-generic/signal-defs.h, x86).
const (
	saSigInfo   = 0x4
	saOnStack   = 0x08000000
	saRestorer  = 0x04000000
	saNoDefer   = 0x40000000
	saResetHand = 0x80000000
)

// faultSignals are the signals a fault in plugin code raises, abort()
// included.
var faultSignals = []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
	syscall.SIGABRT, syscall.SIGTRAP, syscall.SIGSYS}

// dieOnFault makes a fault end the process at once, by the fault's own
// signal: the handler is the C library's raise, run once (SA_RESETHAND puts
// the default action back first, SA_NODEFER lets the raised signal in).
// The Go runtime's GOTRACEBACK=crash ends the same way, but only after
// relaying SIGQUIT to every thread to print its stack, about 15 ms a
// crash: nothing when a spec crashes a worker once, most of a fuzzing
// campaign's time when an input in a thousand crashes. A fuzz batch's
// evidence is the input, not a Go traceback, so fuzz batches run with
// this; signalState.restore puts the runtime's handlers back.
func (s *signalState) dieOnFault(raise uintptr) {
	if raise == 0 {
		return
	}
	for _, sig := range faultSignals {
		act := s.actions[sig]
		act.handler = uint64(raise)
		// x86-64 delivers a signal only to a handler with a restorer; the
		// runtime's serves, though raise never returns here.
		act.flags = saRestorer | saOnStack | saNoDefer | saResetHand
		sigaction(int(sig), &act, nil)
	}
}

// recoverFaults is dieOnFault, except that SIGSEGV and SIGBUS go to
// hotcall's fault handler, which recovers a recovering call's read past
// an input into its guard page and raises every other fault as raise
// would. Without SA_RESETHAND: a recovered fault leaves the handler in
// place for the next one (the handler restores the default action itself
// before raising).
func (s *signalState) recoverFaults(handler, raise uintptr) {
	s.dieOnFault(raise)
	if handler == 0 || raise == 0 {
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS} {
		act := s.actions[sig]
		act.handler = uint64(handler)
		act.flags = saSigInfo | saRestorer | saOnStack | saNoDefer
		sigaction(int(sig), &act, nil)
	}
}
