package hotcall

import "unsafe"

// Steps of an AuthCycle, as AuthCycle.Failed names the one that failed.
const (
	StepCreate = 1 + iota
	StepPack
	StepUnpack
	StepVerify
)

// An AuthCycle is an auth plugin's credential round trip as Slurm's
// framework makes it, in one transition into C: errno cleared, create, the
// credential's index written, the buffer rewound, pack, rewound again,
// unpack, the copy's index written, verify, the ids read, then destroy of
// the copy and of the credential. A step that fails ends the cycle early,
// with what it made destroyed.
//
// Each call costs the runtime's transition to C once, ~25 ns: eight of
// them are a third of auth/none's 0.6 µs cycle, more than the plugin's
// own work in most of its calls. Made as one, the cycle costs what the
// same calls cost from C, plus one transition.
type AuthCycle struct {
	// The call sites. Run sets the credential argument, Args[0], of all
	// but Create and Unpack, and leaves the others as they are.
	Create, Pack, Unpack, Verify, Destroy *Call
	// IDs are get_ids, or get_uid and get_gid.
	IDs [2]*Call
	// Errno is the thread's errno, Processed the packing buffer's offset.
	Errno     *int32
	Processed *uint32

	// After Run: the step that failed (0 when none did), its result, and
	// errno as the step left it.
	Failed    int32
	FailErrno int32
	Result    uintptr
}

// Run makes one cycle. The Calls must be from New, not NewPurego.
func (c *AuthCycle) Run() { runAuthCycle(c) }

// runEach is Run one call at a time, for architectures without the
// trampoline.
func (c *AuthCycle) runEach() {
	c.Failed = 0
	failed := func(step int32, r uintptr) {
		c.Failed, c.Result, c.FailErrno = step, r, *c.Errno
	}
	*c.Errno = 0
	cred := c.Create.Do()
	if cred == 0 {
		failed(StepCreate, cred)
		return
	}
	setIndex(cred)
	defer c.destroy(cred)
	*c.Processed = 0
	c.Pack.Args[0] = cred
	if r := c.Pack.Do(); int32(r) != 0 {
		failed(StepPack, r)
		return
	}
	*c.Processed = 0
	back := c.Unpack.Do()
	if back == 0 {
		failed(StepUnpack, back)
		return
	}
	setIndex(back)
	defer c.destroy(back)
	c.Verify.Args[0] = back
	if r := c.Verify.Do(); int32(r) != 0 {
		failed(StepVerify, r)
		return
	}
	for _, get := range c.IDs {
		if get != nil {
			get.Args[0] = back
			get.Do()
		}
	}
}

func (c *AuthCycle) destroy(cred uintptr) {
	c.Destroy.Args[0] = cred
	c.Destroy.Do()
}

// setIndex is slurm_auth.c's "cred->index = index" after create and
// unpack: index 0, the AuthType plugin, in the first int of every
// credential.
func setIndex(cred uintptr) { *(*int32)(*(*unsafe.Pointer)(unsafe.Pointer(&cred))) = 0 }
