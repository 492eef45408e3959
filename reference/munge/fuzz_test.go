package munge

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fuzzNow is the decode time of the fuzz target; seeds are made at it.
var fuzzNow = time.Unix(1700000000, 0)

// FuzzDecode feeds arbitrary text to the decoder. It must never panic, must
// return only munge error numbers a decode can produce, metadata exactly
// with success and errors 15–17, and a credential that decodes must
// re-encode (same salt and IV) to one that decodes identically.
func FuzzDecode(f *testing.F) {
	key := testKey(f)
	det := bytes.NewReader(bytes.Repeat([]byte{0x5a}, 1<<16))
	for _, ci := range ciphers {
		for _, m := range []MAC{MACSHA256, MACSHA512, MACMD5} {
			for _, z := range []Zip{ZipNone, ZipZlib} {
				c := NewCred(1234, 5678, bytes.Repeat([]byte("seed "), 9))
				c.Cipher, c.MAC, c.Zip, c.EncodeTime = ci, m, z, uint32(fuzzNow.Unix())
				if s, err := Encode(key, c, &Options{Rand: det}); err == nil {
					f.Add(s)
				}
			}
		}
	}
	for _, c := range decodeCases(f, key, fuzzNow) {
		f.Add(c.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Decode(key, text, fuzzNow, root)
		code := CodeOf(err)
		switch code {
		case Success, CredExpired, CredRewound:
			if c == nil {
				t.Fatalf("code %d without metadata", code)
			}
		case Snafu, BadArg, BadCred, BadVersion, BadCipher, BadMAC, BadZip, CredInvalid, CredUnauthorized:
			if c != nil {
				t.Fatalf("code %d with metadata", code)
			}
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %T", err)
			}
			return
		default:
			t.Fatalf("unexpected code %d: %v", code, err)
		}
		if c.Zip == ZipBzlib {
			c.Zip = ZipNone // Go cannot write bzip2; the rest must still hold
		}
		again, enc, err := EncodeCred(key, c, &Options{Raw: true})
		if err != nil {
			t.Fatalf("re-encode %+v: %v", c, err)
		}
		c2, err2 := Decode(key, again, fuzzNow, root)
		if CodeOf(err2) != code || !credEqual(c2, enc) {
			t.Fatalf("re-encoded credential decodes to %+v (%v), want %+v (%v)", c2, err2, enc, err)
		}
		if !strings.HasPrefix(again, Prefix) {
			t.Fatal("armor")
		}
	})
}
