package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// HostCallForm is what the host library's machine code says about how it
// calls a cred plugin's verify_sign, where the release number does not
// tell: Slurm 22.05.11 and 23.02.7 added a sixth argument, bool
// replay_okay (CVE-2023-49938), and distributions backported it into
// older micro releases (Debian's 22.05.8-4+deb12u3 passes it; its
// 20.11.4 does not).
type HostCallForm struct {
	// ReplayOkay is set when every call of verify_sign sets the sixth
	// argument register.
	ReplayOkay bool
	// Sites counts the calls of verify_sign found, WithArg6 those that set
	// %r9d just before the call.
	Sites, WithArg6 int
	// Slot is the address of the framework's cred_verify_sign pointer.
	Slot uint64
}

// Args is how many arguments the host passes verify_sign: 6 when every
// call sets replay_okay, 5 when none does, 0 when the calls disagree.
func (f *HostCallForm) Args() int {
	switch {
	case f.Sites > 0 && f.WithArg6 == f.Sites:
		return 6
	case f.Sites > 0 && f.WithArg6 == 0:
		return 5
	}
	return 0
}

func (f *HostCallForm) String() string {
	form := "5 arguments (no replay_okay)"
	if f.ReplayOkay {
		form = "6 arguments (bool replay_okay)"
	}
	return fmt.Sprintf("the host library calls cred_p_verify_sign with %s: %d of %d calls through its ops slot %#x set %%r9d",
		form, f.WithArg6, f.Sites, f.Slot)
}

// ReadVerifySignForm reads how the x86-64 host library at path calls
// cred_p_verify_sign. The framework calls plugins through a static ops
// table; extract_sbcast_cred calls verify_sign through one slot and,
// when that fails, str_error through the next (slot + 8), which gives the
// slot away. Every call through the slot is then looked at: the sixth
// integer argument travels in %r9d, so a host that passes replay_okay
// sets it (mov $imm, xor, or a register move) right before each call.
// It returns nil, nil for a host without the key API (23.11+).
func ReadVerifySignForm(path string) (*HostCallForm, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		return nil, nil
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return nil, err
	}
	var fn *elf.Symbol
	for i := range syms {
		if syms[i].Name == "extract_sbcast_cred" && elf.ST_TYPE(syms[i].Info) == elf.STT_FUNC && syms[i].Value != 0 {
			fn = &syms[i]
		}
	}
	if fn == nil {
		return nil, nil
	}
	text := f.Section(".text")
	if text == nil {
		return nil, fmt.Errorf("%s has no .text", path)
	}
	code, err := text.Data()
	if err != nil {
		return nil, err
	}
	if fn.Value < text.Addr || fn.Value+fn.Size > text.Addr+uint64(len(code)) {
		return nil, fmt.Errorf("%s: extract_sbcast_cred lies outside .text", path)
	}
	start := fn.Value - text.Addr
	calls := ripCalls(code[start:start+fn.Size], fn.Value)
	form := &HostCallForm{}
	for i := 0; i+1 < len(calls); i++ {
		if calls[i+1].target == calls[i].target+8 {
			form.Slot = calls[i].target
			break
		}
	}
	if form.Slot == 0 {
		return nil, fmt.Errorf("%s: no call of cred_verify_sign found in extract_sbcast_cred", path)
	}
	for _, c := range ripCalls(code, text.Addr) {
		if c.target != form.Slot {
			continue
		}
		form.Sites++
		off := int(c.addr - text.Addr)
		if setsR9(code[max(off-40, 0):off]) {
			form.WithArg6++
		}
	}
	form.ReplayOkay = form.Sites > 0 && form.WithArg6 == form.Sites
	return form, nil
}

// ripCall is a "call *disp32(%rip)" (ff 15 disp32) at addr.
type ripCall struct{ addr, target uint64 }

// ripCalls finds the rip-relative indirect calls in code, which starts at
// address base.
func ripCalls(code []byte, base uint64) []ripCall {
	var out []ripCall
	for i := 0; i+6 <= len(code); i++ {
		if code[i] != 0xff || code[i+1] != 0x15 {
			continue
		}
		disp := int32(binary.LittleEndian.Uint32(code[i+2:]))
		next := base + uint64(i) + 6
		out = append(out, ripCall{addr: base + uint64(i), target: uint64(int64(next) + int64(disp))})
	}
	return out
}

// setsR9 reports an instruction writing %r9d in window: mov $imm32,%r9d
// (41 b9), xor %r9d,%r9d (45 31 c9), mov %reg,%r9d (41/45 89 /r with r/m
// r9), movzbl into %r9d (44/45 0f b6 /r with reg r9).
func setsR9(w []byte) bool {
	if bytes.Contains(w, []byte{0x45, 0x31, 0xc9}) {
		return true
	}
	for i := 0; i+2 < len(w); i++ {
		switch {
		case w[i] == 0x41 && w[i+1] == 0xb9 && i+6 <= len(w):
			return true
		case (w[i] == 0x41 || w[i] == 0x45) && w[i+1] == 0x89 && w[i+2]&0xc7 == 0xc1:
			return true
		case (w[i] == 0x44 || w[i] == 0x45) && i+3 < len(w) && w[i+1] == 0x0f && w[i+2] == 0xb6 && w[i+3]&0xf8 == 0xc8:
			return true
		}
	}
	return false
}
