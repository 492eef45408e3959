//go:build !amd64

package hotcall

// Recovery is amd64's alone (recover_amd64.s): elsewhere there is no
// handler, and DoRecovering is Do.
func faultHandlerAddr() uintptr { return 0 }

func callRecovering(c *Call) { call(c) }
