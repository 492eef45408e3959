package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspect feeds the ELF reader mutations of the real plugins: whatever
// the bytes, it returns an object or an *InputError, and never panics or
// reads past what the file holds.
//
// The bases are every auth and cred plugin of the Slurm cache and the
// fixtures, when they are there, compacted to the sections inspection
// reads (a 15-65 KB plugin becomes 5-7 KB). The fuzzer mutates a patch: a
// base, an offset, bytes written there and a length cut from the end. Its
// inputs stay a few bytes long, so minimizing a new one takes milliseconds,
// not the minute a whole plugin as the input took, which left a 60 s run
// about a hundred executions.
func FuzzInspect(f *testing.F) {
	bases := [][]byte{[]byte("\x7fELF\x02\x01\x01")}
	for _, pattern := range seedPatterns() {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			full, err := InspectPlugin(p)
			if err != nil {
				continue // a fixture that is not a plugin on purpose
			}
			base := compactELF(f, data)
			o, err := objectAt(p, bytes.NewReader(base), int64(len(base)))
			if err != nil {
				f.Fatalf("%s compacted: %v", p, err)
			}
			if got, err := pluginOf(o); err != nil || got.Type != full.Type || len(got.Defined) != len(full.Defined) {
				f.Fatalf("%s compacted reads differently: %v", p, err)
			}
			bases = append(bases, base)
		}
	}
	for i := range bases {
		f.Add(uint8(i), uint16(0), []byte(nil), uint16(0))
		f.Add(uint8(i), uint16(16), []byte{0xff, 0xff}, uint16(0)) // e_type
		f.Add(uint8(i), uint16(60), []byte{0xff, 0x7f}, uint16(0)) // e_shnum
	}
	f.Fuzz(func(t *testing.T, which uint8, off uint16, patch []byte, cut uint16) {
		data := append([]byte(nil), bases[int(which)%len(bases)]...)
		if int(off) < len(data) {
			copy(data[off:], patch)
		}
		data = data[:len(data)-min(int(cut), len(data))]
		o, err := objectAt("fuzz.so", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error of type %T, want *InputError: %v", err, err)
			}
			return
		}
		p, err := pluginOf(o)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error of type %T, want *InputError: %v", err, err)
			}
		} else if p.Type == "" {
			t.Fatal("a plugin without plugin_type")
		}
		o.releaseStrings()
		for name := range o.Defined {
			o.Data(name, 8)
		}
	})
}

// seedPatterns are where real plugins may be: the Slurm cache and the
// fixtures, as the other tests find them.
func seedPatterns() []string {
	cache := os.Getenv("PLUGINCHECK_SLURM_CACHE")
	if cache == "" {
		cache = filepath.Join("..", ".cache", "slurm")
	}
	fixtures := os.Getenv("PLUGINCHECK_FIXTURES")
	if fixtures == "" {
		fixtures = filepath.Join("..", "fixtures", "build")
	}
	var out []string
	for _, kind := range []string{"auth_*.so", "cred_*.so"} {
		out = append(out, filepath.Join(cache, "*", "usr", "lib", "*", "slurm-wlm", kind), filepath.Join(fixtures, kind))
	}
	return out
}

// inspected are the sections inspection reads; compactELF keeps only
// their contents.
var inspected = map[string]bool{
	".dynsym": true, ".dynstr": true, ".dynamic": true, ".gnu.version": true, ".gnu.version_r": true,
	".gnu.version_d": true, ".rodata": true, ".data": true, ".data.rel.ro": true, ".shstrtab": true,
}

// compactELF rewrites a 64-bit little-endian ELF file with every section
// header and program header kept, but only the contents of the inspected
// sections, laid end to end.
func compactELF(tb testing.TB, data []byte) []byte {
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	le := binary.LittleEndian
	phoff, phnum, phentsize := le.Uint64(data[32:]), int(le.Uint16(data[56:])), int(le.Uint16(data[54:]))
	shoff, shentsize := le.Uint64(data[40:]), int(le.Uint16(data[58:]))
	out := append([]byte(nil), data[:64]...)
	le.PutUint64(out[32:], uint64(len(out)))
	out = append(out, data[phoff:phoff+uint64(phnum*phentsize)]...)
	shdrs := make([]byte, 0, len(ef.Sections)*shentsize)
	for i, sec := range ef.Sections {
		h := append([]byte(nil), data[shoff+uint64(i*shentsize):shoff+uint64((i+1)*shentsize)]...)
		switch {
		case sec.Type == elf.SHT_NOBITS:
		case inspected[sec.Name]:
			for len(out)%8 != 0 {
				out = append(out, 0)
			}
			le.PutUint64(h[24:], uint64(len(out)))
			out = append(out, data[sec.Offset:sec.Offset+sec.Size]...)
		default:
			le.PutUint64(h[24:], 0)
			le.PutUint64(h[32:], 0)
		}
		shdrs = append(shdrs, h...)
	}
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	le.PutUint64(out[40:], uint64(len(out)))
	return append(out, shdrs...)
}
