package loader

import (
	"bytes"
	"slices"
	"sort"

	"golang.org/x/arch/x86/x86asm"

	"github.com/plugincheck/plugincheck/loader/profile"
)

// HostForms reads, from the host library's machine code, the argument
// forms it really passes to the plugin where a distribution's backports
// made them differ from the release's source. Debian's 24.11.5-4+deb13u1
// is one: its security update brought 25.05's four-argument
// sbcast_p_unpack (shared_object before the protocol version) into a 24.11
// library, so a plugin called as the 24.11 source says reads a flag as its
// protocol version and refuses every credential.
func (h *Host) HostForms() profile.HostForms {
	return profile.HostForms{SbcastUnpackArgs: sbcastUnpackArgs(h.Lib)}
}

// FrameworkLookups are the API functions of kind that the host library's
// framework looks up by name: the names of every generation's functions of
// kind that its read-only data holds (the framework's symbol table is an
// array of those strings). A distribution's backport can add one inside a
// release — Debian's 20.11.4 looks up the 20.11.9 auth_p_get_data — and
// the daemons' loader refuses a plugin without it ("Plugin loading failed
// due to missing symbols"), whatever its plugin_version says.
func (h *Host) FrameworkLookups(kind profile.Kind) []string {
	names := profile.FrameworkFuncs(kind)
	found := h.Lib.rodataStrings(func(s []byte) bool { return names[string(s)] })
	sort.Strings(found)
	return slices.Compact(found)
}

// sbcastUnpackArgs is how many arguments the host's unpack_sbcast_cred
// passes to the plugin's sbcast_p_unpack, or 0 when the code does not say.
//
// unpack_sbcast_cred(buf, msg, protocol_version) hands its uint16_t
// protocol version on to the plugin as the last argument: zero-extended
// into %edx (third argument) or %ecx (fourth), then an indirect call or
// tail jump through the plugin's ops table. The register the 16-bit value
// is extended into before the first indirect transfer says the arity.
func sbcastUnpackArgs(lib *Object) int {
	code, ok := lib.Data("unpack_sbcast_cred", 512)
	if !ok {
		return 0
	}
	return protocolArgPosition(code)
}

// protocolArgPosition decodes code up to its first indirect call or jump
// and returns the argument position (3 or 4) of the last 16-bit value
// zero-extended into an argument register before it; 0 when there is none.
func protocolArgPosition(code []byte) int {
	last := 0
	for len(code) > 0 {
		if bytes.HasPrefix(code, endbr64) {
			code = code[len(endbr64):]
			continue
		}
		inst, err := x86asm.Decode(code, 64)
		if err != nil {
			return 0
		}
		code = code[inst.Len:]
		switch inst.Op {
		case x86asm.MOVZX:
			src, isReg := inst.Args[1].(x86asm.Reg)
			if !isReg || src < x86asm.AX || src > x86asm.R15W {
				continue // not from a 16-bit register
			}
			switch inst.Args[0] {
			case x86asm.EDX:
				last = 3
			case x86asm.ECX:
				last = 4
			}
		case x86asm.CALL, x86asm.JMP:
			if _, direct := inst.Args[0].(x86asm.Rel); !direct {
				return last
			}
		case x86asm.RET:
			return 0
		}
	}
	return 0
}

// endbr64 opens functions built with CET; the decoder does not know it.
var endbr64 = []byte{0xf3, 0x0f, 0x1e, 0xfa}
