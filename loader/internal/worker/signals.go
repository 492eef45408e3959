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
