// Package hotcall is the calling path of the worker's hot loops (bench
// cycles, fuzz executions): a C function with up to six integer arguments, set up once
// before the loop and called through the Go runtime's cgocall many times
// in it.
//
// purego.SyscallN is the worker's path everywhere else. It is general (32
// arguments, floats, errno), and that generality is most of its cost: it
// copies its arguments twice into 32-word arrays and takes its argument
// block from a sync.Pool on every call, about 40 ns here on top of the
// runtime's own ~25 ns. In a loop of cheap plugin calls (auth/none's whole
// cycle is ~0.6 µs of C) that difference is the overhead the bench reports.
// A Call keeps what is left: the runtime's transition to C, which every
// caller from Go pays. An AuthCycle pays it once for a whole credential
// round trip of eight calls.
package hotcall

import (
	"github.com/ebitengine/purego"
)

// MaxArgs is how many integer arguments a Call can take: the ones the
// System V ABI passes in registers.
const MaxArgs = 6

// A Call is one C function and its arguments. The loop changes Args
// between calls as it needs; a Call belongs to one OS thread at a time.
// The trampolines read its first words: fn, Args, then write ret (and
// faulted).
type Call struct {
	fn uintptr
	// Args are the function's arguments. Those beyond the count given to
	// New are passed as zero. Arguments that point into Go memory must
	// point where nothing moves them (the heap, not a goroutine stack).
	Args [MaxArgs]uintptr
	ret  uintptr
	// faulted: the last DoRecovering returned from a fault (recover.go).
	faulted bool

	nargs     int
	viaPurego bool
}

// New returns a Call of fn with args.
func New(fn uintptr, args ...uintptr) *Call {
	if fn == 0 {
		panic("hotcall: fn is nil")
	}
	if len(args) > MaxArgs {
		panic("hotcall: more than six arguments")
	}
	c := &Call{fn: fn, nargs: len(args)}
	copy(c.Args[:], args)
	return c
}

// NewPurego returns a Call of fn with args that goes through
// purego.SyscallN: the same loop on the worker's general calling path,
// for comparing the two.
func NewPurego(fn uintptr, args ...uintptr) *Call {
	c := New(fn, args...)
	c.viaPurego = true
	return c
}

// Do calls the function with c.Args and returns its integer result.
func (c *Call) Do() uintptr {
	if c.viaPurego {
		r, _, _ := purego.SyscallN(c.fn, c.Args[:c.nargs]...)
		return r
	}
	call(c)
	return c.ret
}
