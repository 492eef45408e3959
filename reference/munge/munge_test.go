package munge

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

var root = Client{UID: 0, GID: 0}

func testKey(t testing.TB) *Key {
	t.Helper()
	k, err := NewKey([]byte("0123456789ABCDEF0123456789ABCDEF-plugincheck"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func wantCode(t *testing.T, what string, err error, code Code, detail string) {
	t.Helper()
	if CodeOf(err) != code {
		t.Fatalf("%s: got %v (code %d), want code %d (%v)", what, err, CodeOf(err), code, code)
	}
	if err == nil {
		return
	}
	want := detail
	if want == "" {
		want = code.String()
	}
	if err.Error() != want {
		t.Fatalf("%s: message %q, want %q", what, err.Error(), want)
	}
}

// MUNGE's own crypto-portability vector (testdata/README.md): a credential
// from another host decodes to the metadata unmunge printed for it.
func TestGoldenVector(t *testing.T) {
	key, err := LoadKey("testdata/0099-credential-decode.key")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("testdata/0099-credential-decode.cred")
	if err != nil {
		t.Fatal(err)
	}
	outText, err := os.ReadFile("testdata/0099-credential-decode.out")
	if err != nil {
		t.Fatal(err)
	}
	head, payload, _ := strings.Cut(string(outText), "\n\n")
	meta := map[string]uint64{}
	var host string
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		if k == "ENCODE_HOST" {
			host = v
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			t.Fatalf(".out line %q", line)
		}
		meta[k] = n
	}
	c, err := Decode(key, string(text), time.Now(), root)
	wantCode(t, "golden decode now", err, Code(meta["STATUS"]), "")
	if c == nil {
		t.Fatal("no metadata with an expired credential")
	}
	got := map[string]uint64{
		"STATUS": uint64(CodeOf(err)), "ENCODE_TIME": uint64(c.EncodeTime), "TTL": uint64(c.TTL),
		"CIPHER": uint64(c.Cipher), "MAC": uint64(c.MAC), "ZIP": uint64(c.Zip),
		"UID": uint64(c.UID), "GID": uint64(c.GID), "LENGTH": uint64(len(c.Payload)),
	}
	for k, v := range meta {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
	if ip := ipString(c.Addr); ip != host {
		t.Errorf("addr %s, want %s", ip, host)
	}
	// unmunge ends the payload with a newline of its own.
	if string(c.Payload)+"\n" != payload {
		t.Errorf("payload %q, want %q", c.Payload, payload)
	}
	// At its encode time the same credential is valid.
	if _, err := Decode(key, string(text), time.Unix(int64(meta["ENCODE_TIME"]), 0), root); err != nil {
		t.Errorf("at encode time: %v", err)
	}
}

func ipString(b []byte) string {
	var s []string
	for _, x := range b {
		s = append(s, strconv.Itoa(int(x)))
	}
	return strings.Join(s, ".")
}

func TestKey(t *testing.T) {
	if _, err := NewKey(make([]byte, 31)); !errors.Is(err, ErrShortKey) {
		t.Errorf("31-byte key: %v", err)
	}
	kf := bytes.Repeat([]byte{7}, 32)
	k, err := NewKey(kf)
	if err != nil {
		t.Fatal(err)
	}
	if k.dek != sha1.Sum(append(kf[:32:32], '1')) || k.mac != sha1.Sum(append(kf[:32:32], '2')) {
		t.Error("subkeys are not SHA1(key||\"1\"), SHA1(key||\"2\")")
	}
}

var (
	ciphers = []Cipher{CipherNone, CipherBlowfish, CipherCAST5, CipherAES128, CipherAES256}
	macs    = []MAC{MACMD5, MACSHA1, MACRIPEMD160, MACSHA256, MACSHA512}
)

// Every combination Go can encode decodes back to the same credential;
// compression is kept only when it shrinks INNER.
func TestRoundTrip(t *testing.T) {
	key := testKey(t)
	now := time.Unix(1700000000, 0)
	payloads := map[string][]byte{
		"empty":        nil,
		"short":        []byte("hi"),
		"compressible": bytes.Repeat([]byte("plugincheck "), 40),
	}
	for _, ci := range ciphers {
		for _, m := range macs {
			for _, z := range []Zip{ZipNone, ZipZlib} {
				for pname, p := range payloads {
					c := NewCred(1234, 5678, p)
					c.Cipher, c.MAC, c.Zip = ci, m, z
					c.EncodeTime = uint32(now.Unix())
					text, enc, err := EncodeCred(key, c, nil)
					if m.Size() < ci.keySize() {
						wantCode(t, "encode", err, BadMAC, "Invalid MAC type "+strconv.Itoa(int(m))+" with cipher type "+strconv.Itoa(int(ci)))
						continue
					}
					if err != nil {
						t.Fatalf("%v/%v/%v: %v", ci, m, z, err)
					}
					wantZip := z
					if pname != "compressible" {
						wantZip = ZipNone
					}
					if enc.Zip != wantZip {
						t.Errorf("%v/%v/%v %s: zip %v, want %v", ci, m, z, pname, enc.Zip, wantZip)
					}
					got, err := Decode(key, text, now, root)
					if err != nil {
						t.Fatalf("%v/%v/%v %s: decode: %v", ci, m, z, pname, err)
					}
					if !credEqual(got, enc) {
						t.Fatalf("%v/%v/%v %s: decoded %+v, encoded %+v", ci, m, z, pname, got, enc)
					}
				}
			}
		}
	}
}

func credEqual(a, b *Cred) bool {
	return a.Cipher == b.Cipher && a.MAC == b.MAC && a.Zip == b.Zip && a.Realm == b.Realm &&
		bytes.Equal(a.IV, b.IV) && bytes.Equal(a.Salt, b.Salt) && bytes.Equal(a.Addr, b.Addr) &&
		a.EncodeTime == b.EncodeTime && a.TTL == b.TTL && a.UID == b.UID && a.GID == b.GID &&
		a.RestrictUID == b.RestrictUID && a.RestrictGID == b.RestrictGID && bytes.Equal(a.Payload, b.Payload)
}

func TestEncodeDefaultsAndRefusals(t *testing.T) {
	key := testKey(t)
	c := NewCred(1, 2, []byte("x"))
	c.Cipher, c.MAC, c.Zip, c.TTL = CipherDefault, MACDefault, ZipDefault, 0
	_, enc, err := EncodeCred(key, c, nil)
	if err != nil || enc.Cipher != CipherAES128 || enc.MAC != MACSHA256 || enc.Zip != ZipNone || enc.TTL != DefaultTTL {
		t.Fatalf("defaults: %+v %v", enc, err)
	}
	c.TTL = 7200
	if _, enc, _ = EncodeCred(key, c, nil); enc.TTL != MaxTTL {
		t.Errorf("ttl 7200 encoded as %d", enc.TTL)
	}
	c.MAC = MACSHA256
	if _, enc, err = EncodeCred(key, c, &Options{Raw: true, MaxTTL: 10}); err != nil || enc.TTL != 7200 || enc.Cipher != CipherDefault {
		t.Errorf("raw ttl 7200: %+v %v", enc, err)
	}
	cases := []struct {
		ci   Cipher
		m    MAC
		z    Zip
		code Code
		msg  string
	}{
		{9, MACSHA256, ZipNone, BadCipher, "Invalid cipher type 9"},
		{CipherAES128, MACNone, ZipNone, BadMAC, "Invalid MAC type 0"},
		{CipherAES128, 7, ZipNone, BadMAC, "Invalid MAC type 7"},
		{CipherAES256, MACSHA1, ZipNone, BadMAC, "Invalid MAC type 3 with cipher type 5"},
		{CipherAES256, MACRIPEMD160, ZipNone, BadMAC, "Invalid MAC type 4 with cipher type 5"},
		{CipherAES128, MACSHA256, 4, BadZip, "Invalid compression type 4"},
	}
	for _, cs := range cases {
		c := NewCred(1, 2, []byte("x"))
		c.Cipher, c.MAC, c.Zip = cs.ci, cs.m, cs.z
		_, err := Encode(key, c, nil)
		wantCode(t, "encode refusal", err, cs.code, cs.msg)
	}
	c = NewCred(1, 2, bytes.Repeat([]byte("a"), 100))
	c.Zip = ZipBzlib
	if _, err := Encode(key, c, nil); !errors.Is(err, ErrBzlibEncode) {
		t.Errorf("bzlib encode: %v", err)
	}
	c.Payload = nil // munged drops compression for an empty payload first
	if _, err := Encode(key, c, nil); err != nil {
		t.Errorf("bzlib with empty payload: %v", err)
	}
}

// forge builds a credential from hand-made OUTER and INNER fields, MACed
// and encrypted with key, for inputs Encode will not produce.
func forge(key *Key, ci Cipher, m MAC, z Zip, iv, inner []byte) string {
	outer := append([]byte{Version, byte(ci), byte(m), byte(z), 0}, iv...)
	mac := m.hmacOf(key.mac[:], outer, inner)
	if bs := ci.blockSize(); bs > 0 {
		blk, _ := ci.block(key.dekFor(ci, m, mac))
		inner = encryptCBC(blk, iv, inner)
	}
	return Armor(append(append(append([]byte(nil), outer...), mac...), inner...))
}

func innerBytes(c *Cred) []byte { return packInner(c) }

type decodeCase struct {
	name   string
	text   string
	code   Code
	detail string
}

// decodeCases are malformed, tampered and forged credentials (MAC-valid
// under key where the name says so) with munged's verdict at time now.
func decodeCases(t testing.TB, key *Key, now time.Time) []decodeCase {
	base := NewCred(1000, 1000, []byte("payload"))
	base.EncodeTime = uint32(now.Unix())
	base.Salt = []byte("saltsalt")
	good, err := Encode(key, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := Unarmor(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) string { return Armor(f(append([]byte(nil), raw...))) }
	iv := make([]byte, 16)
	in := innerBytes(base)
	zhdr := func(magic, n uint32) []byte {
		return []byte{byte(magic >> 24), byte(magic >> 16), byte(magic >> 8), byte(magic), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	zl, _ := compress(ZipZlib, in)
	return []decodeCase{
		{"empty", "", BadArg, "No credential specified"},
		{"blank", " \n\t", BadArg, "No credential specified"},
		{"NUL first", "\x00MUNGE:", BadArg, "No credential specified"},
		{"prefix", "MUNGX:AAAA:", BadCred, "Failed to match armor prefix"},
		{"short prefix", "MUNG", BadCred, "Failed to match armor prefix"},
		{"suffix", "MUNGE:AAAA", BadCred, "Failed to match armor suffix"},
		{"suffix after NUL", "MUNGE:AAAA\x00:", BadCred, "Failed to match armor suffix"},
		{"base64 char", "MUNGE:AA*A:", BadCred, "Failed to base64-decode credential"},
		{"base64 length", "MUNGE:AAA:", BadCred, "Failed to base64-decode credential"},
		{"base64 3 pads", "MUNGE:A===:", BadCred, "Failed to base64-decode credential"},
		{"base64 after pad", "MUNGE:AA==AA==:", BadCred, "Failed to base64-decode credential"},
		{"empty body", "MUNGE::", BadCred, "Truncated credential version"},
		{"version", "MUNGE:AAAA:", BadVersion, "Invalid credential version 0"},
		{"cipher trunc", "MUNGE:Aw==:", BadCred, "Truncated cipher type"},
		{"cipher default", "MUNGE:AwE=:", BadCipher, "Invalid cipher type 1"},
		{"cipher 6", "MUNGE:AwY=:", BadCipher, "Invalid cipher type 6"},
		{"mac trunc", "MUNGE:AwQ=:", BadCred, "Truncated MAC type"},
		{"mac none", "MUNGE:AwQA:", BadMAC, "Invalid MAC type 0"},
		{"mac default", "MUNGE:AwQB:", BadMAC, "Invalid MAC type 1"},
		{"mac/cipher", "MUNGE:AwUCAA==:", BadMAC, "Invalid MAC type 2 with cipher type 5"},
		{"zip trunc", "MUNGE:AwQC:", BadCred, "Truncated compression type"},
		{"zip default", "MUNGE:AwQFAQ==:", BadZip, "Invalid compression type 1"},
		{"realm len trunc", "MUNGE:AwQFAA==:", BadCred, "Truncated security realm length"},
		{"realm trunc", "MUNGE:AwQFAAE=:", BadCred, "Truncated security realm string"},
		{"iv trunc", "MUNGE:AwQFAAA=:", BadCred, "Truncated cipher IV"},
		{"mac field trunc", Armor(raw[:5+16+31]), BadCred, "Truncated MAC"},
		{"no inner", Armor(raw[:5+16+32]), CredInvalid, ""},
		{"ragged inner", Armor(raw[:len(raw)-1]), CredInvalid, ""},
		{"mac flipped", edit(func(b []byte) []byte { b[5+16] ^= 1; return b }), CredInvalid, ""},
		{"ciphertext flipped", edit(func(b []byte) []byte { b[len(b)-20] ^= 1; return b }), CredInvalid, ""},
		{"iv flipped", edit(func(b []byte) []byte { b[6] ^= 1; return b }), CredInvalid, ""},
		{"zip byte changed", edit(func(b []byte) []byte { b[3] = byte(ZipZlib); return b }), CredInvalid, ""},
		{"realm added", edit(func(b []byte) []byte {
			return append([]byte{3, 4, 5, 0, 1, 'r'}, b[5:]...)
		}), CredInvalid, ""},
		{"salt trunc", forge(key, CipherAES128, MACSHA256, ZipNone, iv, in[:7]), BadCred, "Truncated salt"},
		{"addr len trunc", forge(key, CipherAES128, MACSHA256, ZipNone, iv, in[:8]), BadCred, "Truncated origin IP addr length"},
		{"addr trunc", forge(key, CipherAES128, MACSHA256, ZipNone, iv, in[:11]), BadCred, "Truncated origin IP addr"},
		{"addr len 5", forge(key, CipherNone, MACSHA256, ZipNone, nil, append(append(append([]byte{}, in[:8]...), 5), in[9:]...)), BadCred, "Invalid origin IP addr length"},
		{"time trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:15]), BadCred, "Truncated encode time"},
		{"ttl trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:19]), BadCred, "Truncated time-to-live"},
		{"uid trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:23]), BadCred, "Truncated UID"},
		{"gid trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:27]), BadCred, "Truncated GID"},
		{"ruid trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:31]), BadCred, "Truncated UID restriction"},
		{"rgid trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:35]), BadCred, "Truncated GID restriction"},
		{"len trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:39]), BadCred, "Truncated data length"},
		{"data trunc", forge(key, CipherNone, MACMD5, ZipNone, nil, in[:len(in)-1]), BadCred, "Truncated data"},
		{"trailing bytes", forge(key, CipherNone, MACMD5, ZipNone, nil, append(append([]byte{}, in...), 1, 2, 3)), Success, ""},
		{"zip no header", forge(key, CipherNone, MACSHA256, ZipZlib, nil, in[:4]), Snafu, "Failed to decompress credential"},
		{"zip bad magic", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACB, uint32(len(in))), zl[8:]...)), Snafu, "Failed to decompress credential"},
		{"zip length 0", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACA, 0), zl[8:]...)), Snafu, "Failed to decompress credential"},
		{"zip length negative", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACA, 0x80000000), zl[8:]...)), Snafu, "Failed to decompress credential"},
		{"zip too small", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACA, uint32(len(in)-1)), zl[8:]...)), CredInvalid, ""},
		{"zip larger bound", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACA, uint32(len(in)+100)), zl[8:]...)), Success, ""},
		{"zip corrupt", forge(key, CipherNone, MACSHA256, ZipZlib, nil, append(zhdr(0xCACACACA, uint32(len(in))), zl[8:len(zl)-1]...)), CredInvalid, ""},
		{"bzip2 garbage", forge(key, CipherNone, MACSHA256, ZipBzlib, nil, append(zhdr(0xCACACACA, uint32(len(in))), zl[8:]...)), CredInvalid, ""},
		{"ok", good, Success, ""},
		{"ok with space and tail", " \n" + good + "\ntrailing", Success, ""},
		{"ok with inner space", good[:20] + "\n \t" + good[20:], Success, ""},
	}
}

func TestDecodeErrors(t *testing.T) {
	key := testKey(t)
	now := time.Unix(1700000000, 0)
	for _, c := range decodeCases(t, key, now) {
		got, err := Decode(key, c.text, now, root)
		wantCode(t, c.name, err, c.code, c.detail)
		if (got != nil) != (c.code == Success) {
			t.Errorf("%s: metadata %v with code %d", c.name, got != nil, c.code)
		}
	}
	// The wrong key is a bad MAC.
	other, _ := NewKey(bytes.Repeat([]byte{1}, 32))
	good, _ := Encode(key, NewCred(1, 1, nil), nil)
	_, err := Decode(other, good, now, root)
	wantCode(t, "other key", err, CredInvalid, "")
}

func TestDecodeAuthTimeReplay(t *testing.T) {
	key := testKey(t)
	t0 := uint32(1700000000)
	at := func(d int64) time.Time { return time.Unix(int64(t0)+d, 0) }
	mk := func(f func(*Cred)) string {
		c := NewCred(1234, 5678, []byte("p"))
		c.EncodeTime, c.TTL = t0, 5
		if f != nil {
			f(c)
		}
		s, err := Encode(key, c, &Options{Raw: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	user := Client{UID: 1000, GID: 100, Groups: []uint32{10, 20}}
	cases := []struct {
		name string
		text string
		now  time.Time
		cl   Client
		dec  Decoder
		code Code
	}{
		{"fresh", mk(nil), at(0), user, Decoder{}, Success},
		// munged tolerates a credential up to its TTL in the future.
		{"ttl early is tolerated", mk(nil), at(-5), user, Decoder{}, Success},
		{"beyond ttl early is rewound", mk(nil), at(-6), user, Decoder{}, CredRewound},
		{"ttl 0: 1 s early is rewound", mk(func(c *Cred) { c.TTL = 0 }), at(-1), user, Decoder{}, CredRewound},
		{"strict: 1 s early is forgiven", mk(nil), at(-1), user, Decoder{StrictClock: true}, Success},
		{"strict: 2 s early is rewound", mk(nil), at(-2), user, Decoder{StrictClock: true}, CredRewound},
		{"at expiry", mk(nil), at(5), user, Decoder{}, Success},
		{"after expiry", mk(nil), at(6), user, Decoder{}, CredExpired},
		{"ttl 0 valid at t0", mk(func(c *Cred) { c.TTL = 0 }), at(0), user, Decoder{}, Success},
		{"ttl 0 expired at t0+1", mk(func(c *Cred) { c.TTL = 0 }), at(1), user, Decoder{}, CredExpired},
		{"ttl clamped to 3600", mk(func(c *Cred) { c.TTL = 7200 }), at(3601), user, Decoder{}, CredExpired},
		{"ttl clamped to max-ttl", mk(func(c *Cred) { c.TTL = 7200 }), at(11), user, Decoder{MaxTTL: 10}, CredExpired},
		{"time 0 wraps to rewound", mk(func(c *Cred) { c.EncodeTime = 0 }), at(0), user, Decoder{}, CredRewound},
		{"uid restricted to client", mk(func(c *Cred) { c.RestrictUID = 1000 }), at(0), user, Decoder{}, Success},
		{"uid restricted to other", mk(func(c *Cred) { c.RestrictUID = 1001 }), at(0), user, Decoder{}, CredUnauthorized},
		{"root not exempt", mk(func(c *Cred) { c.RestrictUID = 1001 }), at(0), root, Decoder{}, CredUnauthorized},
		{"root allowed when built so", mk(func(c *Cred) { c.RestrictUID = 1001 }), at(0), root, Decoder{RootAllow: true}, Success},
		{"gid primary", mk(func(c *Cred) { c.RestrictGID = 100 }), at(0), user, Decoder{}, Success},
		{"gid supplementary", mk(func(c *Cred) { c.RestrictGID = 20 }), at(0), user, Decoder{}, Success},
		{"gid other", mk(func(c *Cred) { c.RestrictGID = 30 }), at(0), user, Decoder{}, CredUnauthorized},
		// Authorization is checked before time, so an expired credential
		// for someone else is unauthorized, not expired.
		{"unauthorized before expired", mk(func(c *Cred) { c.RestrictUID = 1 }), at(100), user, Decoder{}, CredUnauthorized},
	}
	for _, c := range cases {
		d := c.dec
		d.Key = key
		got, err := d.Decode(c.text, c.now, c.cl)
		msg := ""
		if c.code == CredUnauthorized {
			msg = "Unauthorized credential for client UID=" + strconv.Itoa(int(c.cl.UID)) + " GID=" + strconv.Itoa(int(c.cl.GID))
		}
		wantCode(t, c.name, err, c.code, msg)
		withMeta := c.code == Success || c.code == CredExpired || c.code == CredRewound
		if (got != nil) != withMeta {
			t.Errorf("%s: metadata returned %v", c.name, got != nil)
		}
		if got != nil && (got.UID != 1234 || got.GID != 5678 || string(got.Payload) != "p") {
			t.Errorf("%s: metadata %+v", c.name, got)
		}
		if c.name == "ttl clamped to 3600" && got.TTL != 3600 {
			t.Errorf("ttl reported %d", got.TTL)
		}
	}

	// Replay: once per credential until it expires; a different
	// credential is unaffected; expired entries are dropped.
	d := Decoder{Key: key, Replay: NewReplayCache()}
	a, b := mk(nil), mk(nil)
	if _, err := d.Decode(a, at(0), user); err != nil {
		t.Fatal(err)
	}
	got, err := d.Decode(a, at(1), user)
	wantCode(t, "replay", err, CredReplayed, "")
	if got == nil || got.UID != 1234 {
		t.Errorf("replay metadata %+v", got)
	}
	if _, err := d.Decode(b, at(1), user); err != nil {
		t.Errorf("second credential: %v", err)
	}
	// Whitespace or a tail does not make a different credential.
	_, err = d.Decode(" "+a+"\n", at(2), user)
	wantCode(t, "replay respelled", err, CredReplayed, "")
	_, err = d.Decode(a, at(6), user)
	wantCode(t, "expired, not replayed", err, CredExpired, "")
	if d.Replay.Len() != 2 {
		t.Errorf("cache holds %d", d.Replay.Len())
	}
	if _, err := d.Decode(mk(func(c *Cred) { c.EncodeTime = t0 + 100 }), at(100), user); err != nil || d.Replay.Len() != 1 {
		t.Errorf("purge: %v, %d entries", err, d.Replay.Len())
	}
	// A failed check does not enter the cache.
	_, err = d.Decode(mk(func(c *Cred) { c.RestrictUID = 1 }), at(0), user)
	wantCode(t, "unauthorized", err, CredUnauthorized, "Unauthorized credential for client UID=1000 GID=100")
}

// munged's base64 reader against encoding/base64 on canonical input, and
// its own tolerances.
func TestBase64(t *testing.T) {
	for n := 0; n < 40; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		s := base64.StdEncoding.EncodeToString(b)
		got, ok := decodeBase64(s)
		if !ok || !bytes.Equal(got, b) {
			t.Fatalf("len %d: %x %v", n, got, ok)
		}
		spaced := strings.Join(strings.Split(s, ""), " \n")
		if got, ok := decodeBase64(spaced); !ok || !bytes.Equal(got, b) {
			t.Fatalf("spaced len %d", n)
		}
	}
	for s, want := range map[string]bool{
		"QQ==": true, "QR==": true /* unused bits are not checked */, "QQ=": false, "QQ": false,
		"QUI=": true, "QUI": false, "Q===": false, "QQ==QQ==": false, "QQ= =": true, "====": false, "": true,
	} {
		if _, ok := decodeBase64(s); ok != want {
			t.Errorf("%q: ok=%v", s, ok)
		}
	}
}
