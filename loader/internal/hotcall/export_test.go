package hotcall

// RunEach is AuthCycle.runEach, for comparing with Run.
var RunEach = (*AuthCycle).runEach

// Ret is the result of c's last call.
func (c *Call) Ret() uintptr { return c.ret }

// RegistersLost makes c as DoRecovering does, and returns how many of the
// C callee-saved registers were not given back (amd64), and whether the
// call faulted.
func RegistersLost(c *Call) (lost int, faulted bool) {
	return registersLost(c), c.faulted
}
