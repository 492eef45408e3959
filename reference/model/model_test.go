package model

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/reference/munge"
)

var (
	r1905 = Release{19, 5}
	r2011 = Release{20, 11}
	r2205 = Release{22, 5}
	r2411 = Release{24, 11}
)

func str(s string) *string { return &s }

// The example of slurm-abi.md §4.3: root on host "vm", identical in 19.05,
// 22.05 and 25.11.
func TestAuthNoneBody(t *testing.T) {
	root := NoneCred{Host: str("vm")}
	want, _ := hex.DecodeString("00000000" + "00000000" + "00000003766d00")
	for _, r := range []Release{r1905, r2205, {25, 11}} {
		if got := (AuthNone{r}).Body(root, 0x2600); !bytes.Equal(got, want) {
			t.Errorf("%v: % x, want % x", r, got, want)
		}
	}
	// 19.05 and 20.02 leave the host out for peers older than 19.05; 20.11
	// never does.
	old := AuthNone{Release{20, 2}}.Body(root, 0x2100)
	if len(old) != 8 {
		t.Errorf("20.02 at protocol 0x2100: % x, want uid and gid only", old)
	}
	if n := len(AuthNone{r2011}.Body(root, 0x2200)); n != len(want) {
		t.Errorf("20.11 at its minimum protocol: %d bytes, want %d", n, len(want))
	}
	// A NULL host (gethostname failed) is a zero length.
	if got := (AuthNone{r2205}).Body(NoneCred{}, 0x2600); !bytes.Equal(got, make([]byte, 12)) {
		t.Errorf("NULL host: % x", got)
	}
}

func TestAuthNoneUnpackAndCheck(t *testing.T) {
	m := AuthNone{r2205}
	c := NoneCred{Identity: Identity{65534, 65533}, Host: str("vm")}
	body := m.Body(c, 0x2600)
	got, n, err := m.Unpack(append(bytes.Clone(body), 0xff), 0x2600)
	if err != nil || n != len(body) || got.UID != 65534 || got.GID != 65533 || *got.Host != "vm" {
		t.Fatalf("unpack: %+v %d %v", got, n, err)
	}
	if err := m.Check(body, c, 0x2600); err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Clone(body)
	wrong[3]++
	if err := m.Check(wrong, c, 0x2600); err == nil || !strings.Contains(err.Error(), "uid 65535") {
		t.Errorf("changed uid: %v", err)
	}
	if err := m.Check(append(bytes.Clone(body), 0), c, 0x2600); err == nil || !strings.Contains(err.Error(), "after the fields") {
		t.Errorf("trailing byte: %v", err)
	}
	// 23.02+ refuses a host string without its NUL; 22.05 takes it.
	noNUL := bytes.Clone(body)
	noNUL[len(noNUL)-1] = 'x'
	if _, _, err := (AuthNone{r2411}).Unpack(noNUL, 0x2a00); err == nil {
		t.Error("24.11 unpacked a host without NUL")
	}
	if _, _, err := m.Unpack(noNUL, 0x2600); err != nil {
		t.Errorf("22.05: %v", err)
	}
}

func testKey(t *testing.T, seed string) *munge.Key {
	k, err := munge.NewKey(bytes.Repeat([]byte(seed), 64/len(seed)+1))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthMungeBody(t *testing.T) {
	key := testKey(t, "model test key ")
	now := time.Now()
	c := munge.NewCred(1000, 1001, []byte("payload"))
	c.TTL = 2
	c.RestrictUID = 42
	text, err := munge.Encode(key, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := AuthMunge{Release: r2205}
	body := m.Body(text)
	want := MungeExpect{Identity: Identity{1000, 1001}, TTL: 2, Payload: []byte("payload"), RestrictUID: 42, RestrictGID: munge.GIDAny}
	if err := m.CheckBody(body, key, want, now); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckBody(body, nil, MungeExpect{}, now); err != nil {
		t.Fatalf("structure only: %v", err)
	}
	for _, tc := range []struct {
		what string
		edit func(*MungeExpect)
		err  string
	}{
		{"uid", func(w *MungeExpect) { w.UID = 7 }, "uid 1000 gid 1001 (want 7 1001)"},
		{"ttl", func(w *MungeExpect) { w.TTL = 300 }, "TTL 2 (want 300)"},
		{"payload", func(w *MungeExpect) { w.Payload = nil }, "a payload of 7 bytes"},
		{"restriction", func(w *MungeExpect) { w.RestrictUID = munge.UIDAny }, "does not decode"},
	} {
		w := want
		tc.edit(&w)
		if err := m.CheckBody(body, key, w, now); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.what, err, tc.err)
		}
	}
	if err := m.CheckBody(body, testKey(t, "another key ....."), want, now); err == nil {
		t.Error("decoded with the wrong key")
	}
	if err := m.CheckBody(body[:len(body)-1], nil, want, now); err == nil {
		t.Error("a body cut short passed")
	}
	if err := m.CheckBody(append(bytes.Clone(body), 0), nil, want, now); err == nil {
		t.Error("a trailing byte passed")
	}
	bad := m.Body("MUNGE:not base64!:")
	if err := m.CheckBody(bad, nil, want, now); err == nil {
		t.Error("not base64 passed")
	}
}

func TestAuthMungeVerify(t *testing.T) {
	key := testKey(t, "verify key ")
	now := time.Now()
	client := munge.Client{UID: 1000, GID: 1001}
	enc := func(c *munge.Cred) string {
		s, err := munge.Encode(key, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := enc(munge.NewCred(1000, 1001, nil))
	nobody := enc(munge.NewCred(Nobody, Nobody, nil))
	expired := munge.NewCred(1000, 1001, nil)
	expired.EncodeTime = uint32(now.Unix()) - 400
	for _, tc := range []struct {
		m    AuthMunge
		text string
		want bool
	}{
		{AuthMunge{Release: r2205}, good, true},
		{AuthMunge{Release: r2205}, nobody, true},
		{AuthMunge{Release: r2411}, nobody, false},
		{AuthMunge{Release: r2205}, enc(expired), false},
	} {
		if v := tc.m.Verify(&munge.Decoder{Key: key}, tc.text, now, client); v.OK != tc.want {
			t.Errorf("%v: %+v, want ok=%v", tc.m.Release, v, tc.want)
		}
	}
	// Replays: refused, unless MULTIPLE_SLURMD.
	for _, multi := range []bool{false, true} {
		m := AuthMunge{Release: r2205, MultipleSlurmd: multi}
		dec := &munge.Decoder{Key: key, Replay: munge.NewReplayCache()}
		text := enc(munge.NewCred(1000, 1001, nil))
		if v := m.Verify(dec, text, now, client); !v.OK {
			t.Fatalf("first: %+v", v)
		}
		if v := m.Verify(dec, text, now, client); v.OK != multi || v.Code != munge.CredReplayed {
			t.Errorf("replay, MULTIPLE_SLURMD %v: %+v", multi, v)
		}
	}
}

func TestCredMunge(t *testing.T) {
	key := testKey(t, "cred key ")
	now := time.Now()
	buf := []byte("the signed buffer")
	m := CredMunge{Release: r2205, SlurmUser: 500}
	sign := func(uid uint32, payload []byte) string {
		c := munge.NewCred(uid, 500, payload)
		c.RestrictUID = 500
		s, err := munge.Encode(key, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	text := sign(500, buf)
	want := MungeExpect{Identity: Identity{500, 500}, TTL: munge.DefaultTTL, Payload: buf, RestrictUID: 500, RestrictGID: munge.GIDAny}
	if err := m.CheckSignature(append([]byte(text), 0), key, want, now); err != nil {
		t.Fatal(err)
	}
	if err := m.CheckSignature([]byte(text), key, want, now); err == nil {
		t.Error("a signature without its NUL passed")
	}
	if err := m.CheckSignature(append([]byte(text), 0, 0), key, want, now); err == nil {
		t.Error("a signature with bytes after its NUL passed")
	}
	client := munge.Client{UID: 500, GID: 500}
	dec := func() *munge.Decoder { return &munge.Decoder{Key: key, Replay: munge.NewReplayCache()} }
	for _, tc := range []struct {
		what string
		text string
		buf  []byte
		want int
	}{
		{"good", text, buf, 0},
		{"root", sign(0, buf), buf, 0},
		{"other signer", sign(1234, buf), buf, ESigBadUserID},
		{"other data", text, bytes.ToUpper(buf), ESigBufDataMismatch},
		{"shorter data", text, buf[1:], ESigBufSizeMismatch},
		{"garbage", "MUNGE:AAAA:", buf, int(munge.BadVersion)},
	} {
		if got, why := m.Verify(dec(), tc.buf, tc.text, now, client); got != tc.want {
			t.Errorf("%s: %d (%s), want %d", tc.what, got, why, tc.want)
		}
	}
	d := dec()
	m.Verify(d, buf, text, now, client)
	if got, _ := m.Verify(d, buf, text, now, client); got != ESigCredReplayed {
		t.Errorf("replay: %d", got)
	}
	m.ReplayAllowed = true
	if got, _ := m.Verify(d, buf, text, now, client); got != 0 {
		t.Errorf("replay allowed: %d", got)
	}
}

func TestCredNone(t *testing.T) {
	var m CredNone
	sig := m.Signature()
	if string(sig) != "fake signature" || len(sig) != 14 {
		t.Fatalf("signature %q", sig)
	}
	for _, tc := range []struct {
		sig  string
		want int
	}{
		{"fake signature", 0},
		{"fake", 0}, // only sig_size bytes are compared
		{"", 0},
		{"fake signature\x00junk", 0},
		{"fake signaturX", ESigInvalid},
		{"fake signatureX", ESigInvalid},
		{"MUNGE:abc:", ESigInvalid},
	} {
		if got := m.Verify([]byte("any data"), []byte(tc.sig)); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.sig, got, tc.want)
		}
	}
}

func TestAuthJWT(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_800_000_000, 0)
	tok := MintHS256(key, Claims{Exp: now.Unix() + 60, Iat: now.Unix(), Sun: "root"})
	c, err := ParseHS256(tok, key, now)
	if err != nil || c.User() != "root" {
		t.Fatalf("%+v %v", c, err)
	}
	for _, tc := range []struct {
		what string
		tok  string
		key  []byte
		err  error
	}{
		{"wrong key", tok, []byte("another key"), ErrJWTMAC},
		{"expired", MintHS256(key, Claims{Exp: now.Unix() - 1, Sun: "root"}), key, ErrJWTExpired},
		{"no exp", MintHS256(key, Claims{Sun: "root"}), key, ErrJWTExpired},
		{"no user", MintHS256(key, Claims{Exp: now.Unix() + 60}), key, ErrJWTNoUser},
		{"garbage", "a.b", key, ErrJWTFormat},
		{"alg none", "eyJhbGciOiJub25lIn0." + strings.Split(tok, ".")[1] + ".", key, ErrJWTAlg},
	} {
		if _, err := ParseHS256(tc.tok, tc.key, now); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.what, err, tc.err)
		}
	}
	if c, err := ParseHS256(MintHS256(key, Claims{Exp: now.Unix() + 1, Username: "nobody"}), key, now); err != nil || c.User() != "nobody" {
		t.Errorf("username claim: %+v %v", c, err)
	}
	m := AuthJWT{r2205}
	body := m.Body(&tok, nil)
	gt, gu, n, err := m.Unpack(body)
	if err != nil || n != len(body) || *gt != tok || gu != nil {
		t.Fatalf("unpack: %v %v %d %v", gt, gu, n, err)
	}
	if len(body) != 4+len(tok)+1+4 {
		t.Errorf("body of %d bytes", len(body))
	}
}
