//go:build !amd64

package hotcall

import "github.com/ebitengine/purego"

// Elsewhere a Call goes through purego.SyscallN either way.
func call(c *Call) {
	c.ret, _, _ = purego.SyscallN(c.fn, c.Args[:c.nargs]...)
}

func runAuthCycle(c *AuthCycle) { c.runEach() }
