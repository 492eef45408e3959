package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

var allRules = []Rules{Rules1905, Rules2108, Rules2302}

// Field kinds a fuzz script is made of; a script byte picks one (b % 8).
const (
	kU8 = iota
	kU16
	kU32
	kU64
	kMem
	kMemMalloc
	kStr
	kStrMalloc
	nKinds
)

// FuzzDecode runs a script of field kinds over arbitrary bytes. Decoding
// must never panic, never consume past the input, agree with a direct
// reading of the bytes for every field it accepts, and fail exactly where
// a direct reading says the field is malformed.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{kU32, kU32, kU32, kStr}, unhexF("00000064000000000000000000000003766d00"), uint8(2))
	f.Add([]byte{kStr, kStr, kStr}, unhexF("00000000 0000000100 00000002766d"), uint8(1))
	f.Add([]byte{kStr}, unhexF("00000002766d"), uint8(2))
	f.Add([]byte{kMem, kU8}, unhexF("05f5e101"), uint8(0))
	f.Add([]byte{kStrMalloc}, unhexF("00002711 41"), uint8(0))
	f.Add([]byte{kU64, kU16, kU8}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, uint8(0))
	f.Fuzz(func(t *testing.T, script, data []byte, gen uint8) {
		r := allRules[int(gen)%len(allRules)]
		// A cap equal to the length makes any read past the end panic.
		d := NewDecoder(data[:len(data):len(data)], r)
		off := 0
		for _, s := range script {
			k := int(s) % nKinds
			wantSize, wantKind := expect(data[off:], k, r)
			var err error
			var got []byte
			var gotStr *string
			switch k {
			case kU8:
				var v uint8
				v, err = d.U8()
				got = []byte{v}
			case kU16:
				var v uint16
				v, err = d.U16()
				got = binary.BigEndian.AppendUint16(nil, v)
			case kU32:
				var v uint32
				v, err = d.U32()
				got = binary.BigEndian.AppendUint32(nil, v)
			case kU64:
				var v uint64
				v, err = d.U64()
				got = binary.BigEndian.AppendUint64(nil, v)
			case kMem:
				got, err = d.Mem()
			case kMemMalloc:
				got, err = d.MemMalloc()
			case kStr:
				gotStr, err = d.Str()
			case kStrMalloc:
				gotStr, err = d.StrMalloc()
			}
			if wantKind != nil {
				var pe *Error
				if !errors.Is(err, wantKind) || !errors.As(err, &pe) || pe.Offset != off {
					t.Fatalf("kind %d at %d: err %v, want %v", k, off, err, wantKind)
				}
				if d.Offset() != off || d.Err() != err {
					t.Fatalf("offset %d / err %v after failure at %d", d.Offset(), d.Err(), off)
				}
				if _, again := d.U8(); again != err {
					t.Fatalf("error not sticky")
				}
				return
			}
			if err != nil {
				t.Fatalf("kind %d at %d: unexpected %v", k, off, err)
			}
			raw := data[off : off+wantSize]
			switch k {
			case kU8, kU16, kU32, kU64:
				if !bytes.Equal(got, raw) {
					t.Fatalf("int at %d: % x vs % x", off, got, raw)
				}
			case kMem, kMemMalloc:
				if n := len(raw) - 4; (n == 0) != (got == nil) || !bytes.Equal(got, raw[4:]) {
					t.Fatalf("mem at %d: % x vs % x", off, got, raw)
				}
			case kStr, kStrMalloc:
				body := raw[4:]
				if len(body) == 0 {
					if gotStr != nil {
						t.Fatalf("NULL str at %d decoded as %q", off, *gotStr)
					}
					break
				}
				if i := bytes.IndexByte(body, 0); i >= 0 {
					body = body[:i]
				}
				if gotStr == nil || *gotStr != string(body) {
					t.Fatalf("str at %d: %v vs %q", off, gotStr, body)
				}
			}
			off += wantSize
			if d.Offset() != off || off > len(data) {
				t.Fatalf("offset %d, want %d (len %d)", d.Offset(), off, len(data))
			}
		}
	})
}

// expect is the fuzz test's own reading of one field at the start of b: its
// size, or the kind of error Slurm's unpack functions give for it.
func expect(b []byte, k int, r Rules) (int, error) {
	switch k {
	case kU8:
		return need(b, 1)
	case kU16:
		return need(b, 2)
	case kU32:
		return need(b, 4)
	case kU64:
		return need(b, 8)
	}
	if len(b) < 4 {
		return 0, ErrShort
	}
	n := uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
	max := uint64(r.MaxMem)
	if k == kMemMalloc || k == kStrMalloc {
		max = uint64(r.MaxMallocMem)
	}
	switch {
	case n == 0:
		return 4, nil
	case n > max:
		return 0, ErrTooLong
	case n > uint64(len(b)-4):
		return 0, ErrShort
	case (k == kStr || k == kStrMalloc) && r.StrNeedsNUL && b[4+n-1] != 0:
		return 0, ErrNoNUL
	}
	return 4 + int(n), nil
}

func need(b []byte, n int) (int, error) {
	if len(b) < n {
		return 0, ErrShort
	}
	return n, nil
}

// FuzzRoundTrip builds a field list from the input, encodes it and decodes
// it under every release's rules: decoding must give back what was encoded
// (strings as C sees them, empty memory as NULL) and consume every byte.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("\x06vm\x00\x02\x00\x00\x00\x64\x04abc"))
	f.Add([]byte("\x07\x06\x00\x05\x01\x02"))
	f.Add([]byte{kU64, 1, 2, 3, 4, 5, 6, 7, 8, kU16, 9, 9, kU8, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		type field struct {
			k    int
			n    uint64
			b    []byte
			null bool
		}
		var fields []field
		var e Encoder
		for len(in) > 0 {
			k := int(in[0]) % nKinds
			in = in[1:]
			var fl field
			fl.k = k
			switch k {
			case kU8, kU16, kU32, kU64:
				size := 1 << (k - kU8)
				var buf [8]byte
				copy(buf[8-size:], in)
				if len(in) >= size {
					in = in[size:]
				} else {
					in = nil
				}
				fl.n = binary.BigEndian.Uint64(buf[:])
				switch k {
				case kU8:
					e.U8(uint8(fl.n))
				case kU16:
					e.U16(uint16(fl.n))
				case kU32:
					e.U32(uint32(fl.n))
				case kU64:
					e.U64(fl.n)
				}
			default:
				// A length byte, then that many bytes (fewer at the end).
				n := 0
				if len(in) > 0 {
					n = int(in[0]) % 64
					in = in[1:]
				}
				n = min(n, len(in))
				fl.b, in = in[:n], in[n:]
				if k == kMem || k == kMemMalloc {
					e.Mem(fl.b)
				} else if n > 0 && fl.b[0] == 0xff {
					fl.null = true
					e.NullStr()
				} else {
					e.Str(string(fl.b))
				}
			}
			fields = append(fields, fl)
		}
		buf := e.Bytes()
		for _, r := range allRules {
			d := NewDecoder(buf, r)
			for i, fl := range fields {
				switch fl.k {
				case kU8:
					v, err := d.U8()
					check(t, i, err, uint64(v) == fl.n)
				case kU16:
					v, err := d.U16()
					check(t, i, err, uint64(v) == fl.n)
				case kU32:
					v, err := d.U32()
					check(t, i, err, uint64(v) == fl.n)
				case kU64:
					v, err := d.U64()
					check(t, i, err, v == fl.n)
				case kMem, kMemMalloc:
					read := d.Mem
					if fl.k == kMemMalloc {
						read = d.MemMalloc
					}
					b, err := read()
					check(t, i, err, bytes.Equal(b, fl.b) && (b == nil) == (len(fl.b) == 0))
				default:
					read := d.Str
					if fl.k == kStrMalloc {
						read = d.StrMalloc
					}
					s, err := read()
					want := fl.b
					if j := bytes.IndexByte(want, 0); j >= 0 {
						want = want[:j]
					}
					check(t, i, err, (s == nil) == fl.null && (s == nil || *s == string(want)))
				}
			}
			if d.Remaining() != 0 || d.Offset() != len(buf) {
				t.Fatalf("%+v: %d bytes left", r, d.Remaining())
			}
		}
	})
}

func check(t *testing.T, i int, err error, ok bool) {
	t.Helper()
	if err != nil || !ok {
		t.Fatalf("field %d: ok=%v err=%v", i, ok, err)
	}
}

func unhexF(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			continue
		}
		var v byte
		for j := 0; j < 2; j++ {
			c := s[i+j]
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			default:
				v = v<<4 | (c - 'a' + 10)
			}
		}
		out = append(out, v)
		i++
	}
	return out
}
