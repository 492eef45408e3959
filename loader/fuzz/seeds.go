package fuzz

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/reference/pack"
)

// field is one field of a packed input as StructuredSeeds reads it: a
// length-prefixed memory field (packmem/packstr) or a 32-bit integer.
type field struct {
	mem bool
	v   uint32
	b   []byte
}

// fields reads b as Slurm's pack would have written it, guessing: a 32-bit
// value that is a plausible length of what follows is a memory field.
func fields(b []byte) (out []field, tail []byte) {
	for len(b) >= 4 {
		// A string (packstr: one NUL, at the end) of any length, or a
		// binary field of 8 bytes or more; small values are integers.
		d := pack.NewDecoder(b, pack.Rules2108)
		if m, err := d.Mem(); err == nil && len(m) > 0 && (len(m) >= 8 || bytes.IndexByte(m, 0) == len(m)-1) {
			out = append(out, field{mem: true, b: m})
			b = b[d.Offset():]
			continue
		}
		out = append(out, field{v: binary.BigEndian.Uint32(b)})
		b = b[4:]
	}
	return out, b
}

// StructuredSeeds re-packs each valid input field by field with Slurm's
// codec (reference/pack), wrong on purpose in one field at a time:
// lengths that claim more than is there or more than Slurm's limits,
// strings without their NUL, NULL and empty strings, extreme integers,
// fields dropped and repeated. The results are well-formed Slurm packing
// that no plugin wrote.
func StructuredSeeds(valid []loader.FuzzInput) []loader.FuzzInput {
	var out []loader.FuzzInput
	for _, in := range valid {
		data := in.Data
		var prefix []byte
		if in.Target == loader.FuzzVerifySign {
			// Only the signature is packed data; keep the buffer as is.
			buffer, sig := loader.SplitSigned(in.Data)
			prefix, data = loader.SignedInput(buffer, nil), sig
		}
		fs, tail := fields(data)
		emit := func(i int, fn func(e *pack.Encoder)) {
			var e pack.Encoder
			e.Raw(prefix)
			for j, f := range fs {
				switch {
				case j == i:
					fn(&e)
				case f.mem:
					e.Mem(f.b)
				default:
					e.U32(f.v)
				}
			}
			e.Raw(tail)
			b := append([]byte(nil), e.Bytes()...)
			if in.Target == loader.FuzzVerifySign {
				buffer, _ := loader.SplitSigned(prefix)
				b = loader.SignedInput(buffer, b[len(prefix):])
			}
			out = append(out, loader.FuzzInput{Target: in.Target, Protocol: in.Protocol, Data: b})
		}
		for i, f := range fs {
			emit(i, func(*pack.Encoder) {}) // dropped
			emit(i, func(e *pack.Encoder) { // repeated
				for range 2 {
					if f.mem {
						e.Mem(f.b)
					} else {
						e.U32(f.v)
					}
				}
			})
			if !f.mem {
				for _, v := range []uint32{0, 1, f.v + 1, f.v - 1, 0x7fffffff, 0xffffffff} {
					emit(i, func(e *pack.Encoder) { e.U32(v) })
				}
				continue
			}
			n := uint32(len(f.b))
			for _, claim := range []uint32{n + 1, n + 4096, pack.MaxArrayLenSmall + 1, pack.MaxArrayLenLarge + 1,
				pack.MaxPackMemLen, pack.MaxPackMemLen + 1, 0x7fffffff, 0xffffffff} {
				emit(i, func(e *pack.Encoder) { e.U32(claim); e.Raw(f.b) })
			}
			emit(i, func(e *pack.Encoder) { e.NullStr() })
			emit(i, func(e *pack.Encoder) { e.Str("") })
			emit(i, func(e *pack.Encoder) { e.Mem(f.b[:n-1]) }) // the last byte (a NUL, for a string) gone
			emit(i, func(e *pack.Encoder) { e.Mem([]byte(strings.Repeat("A", 5000))) })
			emit(i, func(e *pack.Encoder) { e.Str(strings.Repeat("%n%s", 64)) })
		}
	}
	return out
}

// GenericSeeds are Slurm-packed inputs for a target with no valid input to
// start from: the shapes of common credential fields.
func GenericSeeds(target loader.FuzzTarget, protocol uint16) []loader.FuzzInput {
	var out []loader.FuzzInput
	add := func(fn func(e *pack.Encoder)) {
		var e pack.Encoder
		fn(&e)
		out = append(out, loader.FuzzInput{Target: target, Protocol: protocol, Data: append([]byte(nil), e.Bytes()...)})
	}
	add(func(e *pack.Encoder) {})
	add(func(e *pack.Encoder) { e.U32(0); e.U32(0); e.NullStr() })
	add(func(e *pack.Encoder) { e.U16(protocol); e.U32(1000); e.U32(1000); e.Str("node1"); e.Str("plugincheck") })
	add(func(e *pack.Encoder) { e.Str("MUNGE:AAAA:"); e.U32(57); e.Mem(make([]byte, 57)) })
	add(func(e *pack.Encoder) {
		e.U32(42)
		e.U32(7)
		e.U32(1000)
		e.U32(1000)
		e.Str("user")
		e.U32(2)
		e.U32(100)
		e.U32(101)
		e.Str("node[1-2]")
		e.U64(1 << 30)
		e.Mem(make([]byte, 32))
	})
	return out
}
