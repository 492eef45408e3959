package hotcall

// Recovering calls: a fuzzing worker's way to survive the one fault that
// provably changed nothing, a read that ran into a guard page it placed
// after an input.
//
// A worker places each input so that its last byte is the last readable
// one before an unmapped page. A plugin that reads past the input faults
// on that page, and before recovery existed the fault ended the worker: on
// a plugin that over-reads every ~1,500 inputs, most of a campaign's CPU
// went to starting workers. The fault handler here (faultHandler, in
// recover_amd64.s) takes a SIGSEGV or SIGBUS back to the recovering
// trampoline's caller only when all of these hold:
//
//   - a recovering call (DoRecovering) is running, on the thread SetRecovery
//     named;
//   - the kernel raised the signal for an access (si_code > 0), not a
//     kill(2) or raise(3);
//   - the faulting address lies in one of the registered guard ranges;
//   - the access was a read (the page-fault error code's write bit is clear).
//
// A read changes nothing, so what the plugin did before it is all there is
// to undo: memory it allocated stays allocated (the caller accounts for
// it), and locks it held stay held (an execution that then waits on one is
// a hang, which the fuzzer reports and which ends the worker as before).
// Anything else (another signal, another address, a write, another thread,
// no recovering call under way) ends the process by its own signal, as the
// C library's raise(3) with the default action restored does.

// MaxGuards is how many address ranges SetRecovery takes.
const MaxGuards = 4

// A Guard is an address range [Lo, Hi) whose read faults are recoverable.
type Guard struct{ Lo, Hi uintptr }

// A Fault is what a recovering call returned from.
type Fault struct {
	Signal int     // SIGSEGV or SIGBUS
	Addr   uintptr // the faulting address (si_addr)
}

// recoveryState is what the handler reads and writes; the assembly knows
// its layout from go_asm.h. Word-sized fields, so that each is one MOVQ.
type recoveryState struct {
	armed uint64  // 1 while a recovering call runs
	tid   uint64  // the thread recovering calls run on
	sp    uintptr // the recovering trampoline's stack pointer, after its pushes
	raise uintptr // raise(3), for the faults that end the process
	sig   uint64  // the recovered fault's signal
	addr  uintptr // and address
	// guards are the recoverable ranges; unused ones are empty (Lo == Hi).
	guards [MaxGuards]Guard
	// dfl is a struct sigaction (as rt_sigaction takes it) with the
	// default action: what the handler puts back before raising.
	dfl [4]uint64
}

// recovery is the one recovery state of the process: a worker fuzzes on
// one thread.
var recovery recoveryState

// RecoveryAvailable reports whether DoRecovering can recover here (amd64);
// elsewhere it is Do, and a fault ends the process.
func RecoveryAvailable() bool { return faultHandlerAddr() != 0 }

// SetRecovery makes read faults in guards recoverable for DoRecovering
// calls on thread tid, and returns the fault handler to install for SIGSEGV
// and SIGBUS (with SA_SIGINFO|SA_ONSTACK|SA_NODEFER and no SA_RESETHAND: a
// recovered fault leaves it installed, and the handler restores the
// default action itself before raising a fault it does not recover). raise
// is the C library's raise(3). It returns 0 when recovery is not available
// or raise is nil: install nothing then.
func SetRecovery(raise uintptr, tid int, guards ...Guard) uintptr {
	h := faultHandlerAddr()
	if h == 0 || raise == 0 {
		return 0
	}
	if len(guards) > MaxGuards {
		panic("hotcall: more than MaxGuards guard ranges")
	}
	recovery.armed = 0
	recovery.raise, recovery.tid = raise, uint64(tid)
	recovery.guards = [MaxGuards]Guard{}
	copy(recovery.guards[:], guards)
	return h
}

// DoRecovering is Do, except that a read fault in a guard range (see
// SetRecovery) while the function runs makes it return at once with
// faulted set, and the fault. The function's frames are abandoned where
// they were: callee-saved registers and the stack are as the call found
// them. The Call must be from New (NewPurego has no recovering path).
func (c *Call) DoRecovering() (ret uintptr, fault Fault, faulted bool) {
	if c.viaPurego || faultHandlerAddr() == 0 {
		return c.Do(), Fault{}, false
	}
	callRecovering(c)
	if c.faulted {
		return 0, Fault{Signal: int(recovery.sig), Addr: recovery.addr}, true
	}
	return c.ret, Fault{}, false
}
