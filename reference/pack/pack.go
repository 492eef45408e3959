// Package pack models Slurm's buffer codec (src/common/pack.c): the byte
// layout every Slurm daemon and plugin uses on the wire, and the limits the
// unpack side enforces, which changed between releases.
//
// Layout, identical in every release from 19.05 on:
//
//   - integers are big-endian: U8, U16, U32, U64;
//   - memory (packmem) is a u32 length followed by that many bytes; a
//     zero length carries no bytes and unpacks as NULL;
//   - a string (packstr) is packmem of the C string including its
//     terminating NUL, so "vm" is 00 00 00 03 76 6d 00, "" is
//     00 00 00 01 00 and a NULL string is 00 00 00 00.
//
// What changed is only how strictly the receiving side unpacks; those
// differences are data, in [Rules], so one [Decoder] serves every release.
// The decoder never panics and never reads past its input: a malformed
// buffer yields a typed *[Error] and the decoder stops there.
package pack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Encoder appends fields in Slurm's layout. The zero value is ready to use.
type Encoder struct {
	buf []byte
}

// U8 packs one byte (pack8).
func (e *Encoder) U8(v uint8) { e.buf = append(e.buf, v) }

// U16 packs a big-endian 16-bit integer (pack16).
func (e *Encoder) U16(v uint16) { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }

// U32 packs a big-endian 32-bit integer (pack32).
func (e *Encoder) U32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }

// U64 packs a big-endian 64-bit integer (pack64).
func (e *Encoder) U64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }

// Mem packs a length-prefixed byte string (packmem). Nil and empty are the
// same on the wire: a zero length and no bytes.
//
// Slurm's packmem refuses (packs nothing) above MaxPackMemLen; the model
// packs whatever it is given so tests can build oversized fields on purpose.
func (e *Encoder) Mem(b []byte) {
	e.U32(uint32(len(b)))
	e.buf = append(e.buf, b...)
}

// Str packs a C string (packstr): its length including the terminating NUL,
// its bytes, then the NUL. Slurm measures the string with strlen, so a Go
// string is cut at its first NUL exactly as the C string would end there.
func (e *Encoder) Str(s string) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	e.U32(uint32(len(s) + 1))
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, 0)
}

// NullStr packs a NULL string (packstr(NULL), packnull): a zero length.
func (e *Encoder) NullStr() { e.U32(0) }

// StrPtr packs *s, or a NULL string when s is nil.
func (e *Encoder) StrPtr(s *string) {
	if s == nil {
		e.NullStr()
		return
	}
	e.Str(*s)
}

// Raw appends bytes with no length prefix, for framing tests.
func (e *Encoder) Raw(b []byte) { e.buf = append(e.buf, b...) }

// Bytes returns the packed buffer. It aliases the encoder's storage until
// the next call that appends.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len is the number of bytes packed so far.
func (e *Encoder) Len() int { return len(e.buf) }

// Limits Slurm's unpack functions have enforced on a memory or string length.
const (
	// MaxPackMemLen is MAX_PACK_MEM_LEN (1 GiB): the packmem limit in every
	// release, and the unpack limit from 21.08.6 on.
	MaxPackMemLen = 1 << 30
	// MaxArrayLenLarge is MAX_ARRAY_LEN_LARGE, the unpackmem_xmalloc and
	// unpackmem_ptr limit up to 21.08.5.
	MaxArrayLenLarge = 100000000
	// MaxArrayLenSmall is MAX_ARRAY_LEN_SMALL, the unpackmem_malloc limit
	// up to 21.08.5. auth/munge unpacked its credential string with it
	// until 22.05, so a long string was refused there long before 1 GiB.
	MaxArrayLenSmall = 10000
)

// Rules are the unpack-side checks of one Slurm release. A length equal to
// a maximum is accepted; one above it is refused.
type Rules struct {
	// MaxMem bounds Mem and Str (unpackmem_xmalloc, unpackstr_xmalloc).
	MaxMem uint32
	// MaxMallocMem bounds MemMalloc and StrMalloc (unpackmem_malloc, the
	// variant auth/munge used until 22.05; 23.02 removed it).
	MaxMallocMem uint32
	// StrNeedsNUL makes Str and StrMalloc refuse a string whose last byte
	// is not NUL (unpackstr_xmalloc from 23.02.0rc1). Before that the bytes
	// were copied as they came and C code read past them looking for a NUL.
	StrNeedsNUL bool
}

// Release-series rules.
var (
	// Rules1905 covers 19.05 through 21.08.5.
	Rules1905 = Rules{MaxMem: MaxArrayLenLarge, MaxMallocMem: MaxArrayLenSmall}
	// Rules2108 covers 21.08.6 through 22.05: the security releases of
	// May 2022 replaced the array limits with MAX_PACK_MEM_LEN.
	Rules2108 = Rules{MaxMem: MaxPackMemLen, MaxMallocMem: MaxPackMemLen}
	// Rules2302 covers 23.02 and later: strings must end in NUL.
	Rules2302 = Rules{MaxMem: MaxPackMemLen, MaxMallocMem: MaxPackMemLen, StrNeedsNUL: true}
)

// RulesFor returns the rules of the newest release of a series, e.g.
// RulesFor(22, 5). 21.08 is taken as its maintained state (21.08.6 and
// later); use [RulesForRelease] for an exact release.
func RulesFor(major, minor int) Rules {
	return RulesForRelease(major, minor, 1<<30)
}

// RulesForRelease returns the rules of one release, e.g. (21, 8, 5).
// Releases older than 19.05 are given the 19.05 rules.
func RulesForRelease(major, minor, patch int) Rules {
	v := major*100 + minor
	switch {
	case v >= 2302:
		return Rules2302
	case v > 2108 || (v == 2108 && patch >= 6):
		return Rules2108
	default:
		return Rules1905
	}
}

// Sentinel kinds of decode failure; every *Error unwraps to one of them.
var (
	// ErrShort: the buffer ends before the field does.
	ErrShort = errors.New("pack: buffer too short")
	// ErrTooLong: a length prefix exceeds the release's limit.
	ErrTooLong = errors.New("pack: length over limit")
	// ErrNoNUL: a string's last byte is not NUL where the release requires it.
	ErrNoNUL = errors.New("pack: string not NUL-terminated")
)

// Error describes where and why decoding stopped.
type Error struct {
	Kind   error  // ErrShort, ErrTooLong or ErrNoNUL
	Field  string // "u32", "mem", "str", …
	Offset int    // where the field starts
	Need   int    // ErrShort: bytes the field needs from Offset
	Have   int    // ErrShort: bytes left at Offset
	Len    uint32 // ErrTooLong, ErrNoNUL: the length prefix
	Max    uint32 // ErrTooLong: the limit it broke
}

func (e *Error) Error() string {
	switch e.Kind {
	case ErrShort:
		return fmt.Sprintf("pack: %s at offset %d needs %d bytes, %d left", e.Field, e.Offset, e.Need, e.Have)
	case ErrTooLong:
		return fmt.Sprintf("pack: %s at offset %d has length %d over the limit %d", e.Field, e.Offset, e.Len, e.Max)
	default:
		return fmt.Sprintf("pack: %s at offset %d (length %d) does not end in NUL", e.Field, e.Offset, e.Len)
	}
}

// Unwrap lets errors.Is match the sentinel kind.
func (e *Error) Unwrap() error { return e.Kind }

// Decoder reads fields from a byte slice under one release's rules.
//
// Errors are sticky, like Slurm's safe_unpack macros jumping to
// unpack_error: after the first failure every call returns that error and
// the offset stays at the start of the failed field.
type Decoder struct {
	b     []byte
	off   int
	rules Rules
	err   error
}

// NewDecoder decodes b under r. b is not modified; returned byte slices are
// copies.
func NewDecoder(b []byte, r Rules) *Decoder { return &Decoder{b: b, rules: r} }

// Offset is the number of bytes consumed by successful calls.
func (d *Decoder) Offset() int { return d.off }

// Remaining is the number of bytes not yet consumed.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Err is the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Rules are the rules the decoder applies.
func (d *Decoder) Rules() Rules { return d.rules }

// take returns the next n bytes, or records ErrShort for a field that
// started at start and needs need bytes from there.
func (d *Decoder) take(field string, start, n, need int) []byte {
	if n > len(d.b)-d.off {
		d.err = &Error{Kind: ErrShort, Field: field, Offset: start, Need: need, Have: len(d.b) - start}
		d.off = start
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// U8 unpacks one byte.
func (d *Decoder) U8() (uint8, error) {
	if d.err != nil {
		return 0, d.err
	}
	p := d.take("u8", d.off, 1, 1)
	if p == nil {
		return 0, d.err
	}
	return p[0], nil
}

// U16 unpacks a big-endian 16-bit integer.
func (d *Decoder) U16() (uint16, error) {
	if d.err != nil {
		return 0, d.err
	}
	p := d.take("u16", d.off, 2, 2)
	if p == nil {
		return 0, d.err
	}
	return binary.BigEndian.Uint16(p), nil
}

// U32 unpacks a big-endian 32-bit integer.
func (d *Decoder) U32() (uint32, error) {
	if d.err != nil {
		return 0, d.err
	}
	p := d.take("u32", d.off, 4, 4)
	if p == nil {
		return 0, d.err
	}
	return binary.BigEndian.Uint32(p), nil
}

// U64 unpacks a big-endian 64-bit integer.
func (d *Decoder) U64() (uint64, error) {
	if d.err != nil {
		return 0, d.err
	}
	p := d.take("u64", d.off, 8, 8)
	if p == nil {
		return 0, d.err
	}
	return binary.BigEndian.Uint64(p), nil
}

// field reads a length-prefixed field: the u32 length, the limit check,
// the bounds check and, for strings under StrNeedsNUL, the NUL check, in
// the order unpackstr_xmalloc applies them. A zero length yields nil.
func (d *Decoder) field(name string, max uint32, str bool) ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	start := d.off
	p := d.take(name, start, 4, 4)
	if p == nil {
		return nil, d.err
	}
	n := binary.BigEndian.Uint32(p)
	if n == 0 {
		return nil, nil
	}
	if n > max {
		d.err = &Error{Kind: ErrTooLong, Field: name, Offset: start, Len: n, Max: max}
		d.off = start
		return nil, d.err
	}
	// n ≤ 1 GiB here, so 4+n cannot overflow an int.
	if int64(n) > int64(len(d.b)-d.off) {
		d.err = &Error{Kind: ErrShort, Field: name, Offset: start, Need: 4 + int(n), Have: len(d.b) - start}
		d.off = start
		return nil, d.err
	}
	body := d.b[d.off : d.off+int(n)]
	if str && d.rules.StrNeedsNUL && body[n-1] != 0 {
		d.err = &Error{Kind: ErrNoNUL, Field: name, Offset: start, Len: n}
		d.off = start
		return nil, d.err
	}
	d.off += int(n)
	return append([]byte(nil), body...), nil
}

// Mem unpacks a length-prefixed byte string (unpackmem_xmalloc), bounded by
// Rules.MaxMem. A zero length yields nil.
func (d *Decoder) Mem() ([]byte, error) { return d.field("mem", d.rules.MaxMem, false) }

// MemMalloc is Mem bounded by Rules.MaxMallocMem (unpackmem_malloc).
func (d *Decoder) MemMalloc() ([]byte, error) { return d.field("mem", d.rules.MaxMallocMem, false) }

// Str unpacks a string (safe_unpackstr_xmalloc), bounded by Rules.MaxMem
// and, under Rules.StrNeedsNUL, required to end in NUL. A zero length is a
// NULL string (nil). The value is what C code sees: the bytes before the
// first NUL. Before 23.02 a string without any NUL was accepted and C read
// past its end; the model then returns all of its bytes. Use Mem for the
// raw bytes.
func (d *Decoder) Str() (*string, error) { return d.str(d.rules.MaxMem) }

// StrMalloc is Str bounded by Rules.MaxMallocMem: safe_unpackstr_malloc,
// which auth/munge used for its credential up to 22.05.
func (d *Decoder) StrMalloc() (*string, error) { return d.str(d.rules.MaxMallocMem) }

func (d *Decoder) str(max uint32) (*string, error) {
	b, err := d.field("str", max, true)
	if err != nil || b == nil {
		return nil, err
	}
	if i := indexNUL(b); i >= 0 {
		b = b[:i]
	}
	s := string(b)
	return &s, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
