package pack

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Encodings Slurm itself produced (research notes §4.1, §4.3: an auth/none
// credential from root on host "vm", identical in 19.05.8, 22.05.11, 25.11.7).
func TestKnownEncodings(t *testing.T) {
	cases := []struct {
		name string
		pack func(*Encoder)
		want string
	}{
		{"packstr vm", func(e *Encoder) { e.Str("vm") }, "00000003 766d00"},
		{"packstr empty", func(e *Encoder) { e.Str("") }, "00000001 00"},
		{"packstr NULL", func(e *Encoder) { e.NullStr() }, "00000000"},
		{"StrPtr nil", func(e *Encoder) { e.StrPtr(nil) }, "00000000"},
		{"packstr stops at NUL", func(e *Encoder) { e.Str("a\x00b") }, "00000002 6100"},
		{"packmem", func(e *Encoder) { e.Mem([]byte("fake signature")) }, "0000000e 66616b65207369676e6174757265"},
		{"packmem nil", func(e *Encoder) { e.Mem(nil) }, "00000000"},
		{"ints", func(e *Encoder) { e.U8(1); e.U16(0x0203); e.U32(0x04050607); e.U64(0x08090a0b0c0d0e0f) },
			"01 0203 04050607 08090a0b0c0d0e0f"},
		{"auth/none credential", func(e *Encoder) { e.U32(100); e.U32(0); e.U32(0); e.Str("vm") },
			"00000064 00000000 00000000 00000003 766d00"},
	}
	for _, c := range cases {
		var e Encoder
		c.pack(&e)
		if got, want := e.Bytes(), unhex(t, c.want); !bytes.Equal(got, want) {
			t.Errorf("%s: got % x, want % x", c.name, got, want)
		}
	}
}

func TestDecodeAuthNone(t *testing.T) {
	for _, r := range []Rules{Rules1905, Rules2108, Rules2302} {
		d := NewDecoder(unhex(t, "00000064 00000000 00000000 00000003 766d00"), r)
		id, _ := d.U32()
		uid, _ := d.U32()
		gid, _ := d.U32()
		host, err := d.Str()
		if err != nil || id != 100 || uid != 0 || gid != 0 || host == nil || *host != "vm" || d.Remaining() != 0 || d.Offset() != 19 {
			t.Fatalf("%+v: id=%d uid=%d gid=%d host=%v err=%v off=%d", r, id, uid, gid, host, err, d.Offset())
		}
	}
}

func TestStrValues(t *testing.T) {
	cases := []struct {
		in      string
		rules   Rules
		want    *string // nil: NULL
		wantErr error
	}{
		{"00000000", Rules2302, nil, nil},
		{"00000001 00", Rules2302, ptr(""), nil},
		{"00000003 766d00", Rules1905, ptr("vm"), nil},
		// No NUL: accepted before 23.02 (C would read on), refused after.
		{"00000002 766d", Rules1905, ptr("vm"), nil},
		{"00000002 766d", Rules2108, ptr("vm"), nil},
		{"00000002 766d", Rules2302, nil, ErrNoNUL},
		// An inner NUL ends the C string; 23.02 only checks the last byte.
		{"00000004 76006d00", Rules2302, ptr("v"), nil},
		{"00000004 7600006d", Rules2302, nil, ErrNoNUL},
	}
	for _, c := range cases {
		d := NewDecoder(unhex(t, c.in), c.rules)
		got, err := d.Str()
		if !errors.Is(err, c.wantErr) || (err == nil && !eqPtr(got, c.want)) {
			t.Errorf("Str(%s) under %+v = %v, %v; want %v, %v", c.in, c.rules, show(got), err, show(c.want), c.wantErr)
		}
	}
}

func TestRulesFor(t *testing.T) {
	cases := []struct {
		major, minor, patch int
		want                Rules
	}{
		{19, 5, 8, Rules1905}, {20, 2, 7, Rules1905}, {20, 11, 9, Rules1905},
		{21, 8, 0, Rules1905}, {21, 8, 5, Rules1905}, {21, 8, 6, Rules2108}, {21, 8, 8, Rules2108},
		{22, 5, 8, Rules2108}, {23, 2, 0, Rules2302}, {23, 11, 1, Rules2302}, {25, 11, 7, Rules2302}, {26, 5, 0, Rules2302},
	}
	for _, c := range cases {
		if got := RulesForRelease(c.major, c.minor, c.patch); got != c.want {
			t.Errorf("RulesForRelease(%d,%d,%d) = %+v, want %+v", c.major, c.minor, c.patch, got, c.want)
		}
	}
	if RulesFor(21, 8) != Rules2108 || RulesFor(20, 11) != Rules1905 || RulesFor(23, 2) != Rules2302 {
		t.Error("RulesFor series mapping")
	}
}

func TestLimits(t *testing.T) {
	lenOnly := func(n uint32) []byte { var e Encoder; e.U32(n); return e.Bytes() }
	cases := []struct {
		name    string
		n       uint32
		rules   Rules
		read    func(*Decoder) error
		wantErr error
	}{
		// At the limit the length is legal and the short buffer is the problem.
		{"mem at 1e8", MaxArrayLenLarge, Rules1905, readMem, ErrShort},
		{"mem over 1e8", MaxArrayLenLarge + 1, Rules1905, readMem, ErrTooLong},
		{"mem over 1e8 in 21.08.6", MaxArrayLenLarge + 1, Rules2108, readMem, ErrShort},
		{"mem at 1GiB", MaxPackMemLen, Rules2302, readMem, ErrShort},
		{"mem over 1GiB", MaxPackMemLen + 1, Rules2302, readMem, ErrTooLong},
		{"str over 1GiB", 0xffffffff, Rules2108, readStr, ErrTooLong},
		{"malloc at 10000", MaxArrayLenSmall, Rules1905, readStrMalloc, ErrShort},
		{"malloc over 10000", MaxArrayLenSmall + 1, Rules1905, readStrMalloc, ErrTooLong},
		{"malloc over 10000 in 22.05", MaxArrayLenSmall + 1, Rules2108, readStrMalloc, ErrShort},
		{"memmalloc over 10000", MaxArrayLenSmall + 1, Rules1905, readMemMalloc, ErrTooLong},
	}
	for _, c := range cases {
		d := NewDecoder(lenOnly(c.n), c.rules)
		err := c.read(d)
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.wantErr)
			continue
		}
		var pe *Error
		if !errors.As(err, &pe) || pe.Offset != 0 || pe.Len != c.n && c.wantErr == ErrTooLong {
			t.Errorf("%s: error detail %+v", c.name, pe)
		}
		if d.Offset() != 0 {
			t.Errorf("%s: offset %d after error", c.name, d.Offset())
		}
	}
	// A string whose length passes the limit check but exceeds the buffer
	// is short, not too long, in every release (limit checked first).
	d := NewDecoder(unhex(t, "00000005 6162"), Rules2302)
	_, err := d.Str()
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != ErrShort || pe.Need != 9 || pe.Have != 6 {
		t.Errorf("short str: %v %+v", err, pe)
	}
}

func readMem(d *Decoder) error       { _, err := d.Mem(); return err }
func readMemMalloc(d *Decoder) error { _, err := d.MemMalloc(); return err }
func readStr(d *Decoder) error       { _, err := d.Str(); return err }
func readStrMalloc(d *Decoder) error { _, err := d.StrMalloc(); return err }

// Every proper prefix of a valid buffer fails with ErrShort at the field
// that was cut, with the exact need/have, and earlier fields still decode.
func TestTruncation(t *testing.T) {
	var e Encoder
	e.U8(7)
	e.U16(0x1234)
	e.U32(0xdeadbeef)
	e.U64(1 << 40)
	e.Mem([]byte{1, 2, 3})
	e.Str("host")
	e.NullStr()
	full := append([]byte(nil), e.Bytes()...)
	// field start offsets and sizes, in order
	type fld struct {
		start, size int
		read        func(*Decoder) error
	}
	fields := []fld{
		{0, 1, func(d *Decoder) error { _, err := d.U8(); return err }},
		{1, 2, func(d *Decoder) error { _, err := d.U16(); return err }},
		{3, 4, func(d *Decoder) error { _, err := d.U32(); return err }},
		{7, 8, func(d *Decoder) error { _, err := d.U64(); return err }},
		{15, 7, readMem},
		{22, 9, readStr},
		{31, 4, readStr},
	}
	if len(full) != 35 {
		t.Fatalf("layout: %d bytes", len(full))
	}
	for cut := 0; cut < len(full); cut++ {
		for _, r := range []Rules{Rules1905, Rules2108, Rules2302} {
			d := NewDecoder(full[:cut], r)
			var err error
			var failed fld
			for _, f := range fields {
				if err = f.read(d); err != nil {
					failed = f
					break
				}
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != ErrShort {
				t.Fatalf("cut %d: err %v", cut, err)
			}
			if cut < failed.start || cut >= failed.start+failed.size {
				t.Fatalf("cut %d failed at field starting %d", cut, failed.start)
			}
			// Inside the length prefix the need is the prefix; past it, the
			// whole field.
			need := failed.size
			if failed.start >= 15 && cut-failed.start < 4 {
				need = 4 // cut inside a length prefix
			}
			if pe.Offset != failed.start || pe.Need != need || pe.Have != cut-failed.start {
				t.Fatalf("cut %d: %+v, want offset %d need %d have %d", cut, pe, failed.start, need, cut-failed.start)
			}
			if d.Offset() != failed.start {
				t.Fatalf("cut %d: offset %d", cut, d.Offset())
			}
			// Sticky: the next call repeats the error.
			if _, err2 := d.U8(); err2 != err || d.Err() != err {
				t.Fatalf("cut %d: error not sticky: %v", cut, err2)
			}
		}
	}
}

func ptr(s string) *string { return &s }

func eqPtr(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return "\"" + *s + "\""
}
