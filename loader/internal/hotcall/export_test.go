package hotcall

// RunEach is AuthCycle.runEach, for comparing with Run.
var RunEach = (*AuthCycle).runEach

// Ret is the result of c's last call.
func (c *Call) Ret() uintptr { return c.ret }
