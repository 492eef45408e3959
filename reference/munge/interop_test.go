package munge

// Interoperability with a real munged, started privately by each test with
// a fresh key (loader/munged). These tests are what makes the model a
// reference: munged's output decodes here, this package's output decodes
// in munged, and both reject the same bad credentials with the same code.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/loader/munged"
)

// daemon starts munged, or skips (fails under PLUGINCHECK_REQUIRE_REAL)
// when munged or its client tools are missing.
func daemon(t *testing.T) (*munged.Daemon, *Key) {
	t.Helper()
	missing := func(what string) {
		msg := what + " not installed (Debian package: munge); interop with a real munged not checked"
		if os.Getenv("PLUGINCHECK_REQUIRE_REAL") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, tool := range []string{"munge", "unmunge"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := munged.Start(ctx)
	if errors.Is(err, munged.ErrNotInstalled) {
		missing("munged")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	key, err := NewKey(d.Key)
	if err != nil {
		t.Fatal(err)
	}
	return d, key
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// unmungeResult is what unmunge reports for one credential.
type unmungeResult struct {
	status  int               // exit status = munge error number
	message string            // its "Error:" text, if any
	meta    map[string]string // numeric metadata (-N), present with 0 and 15–17
	payload []byte
}

func unmunge(t *testing.T, d *munged.Daemon, text string) unmungeResult {
	t.Helper()
	dir := t.TempDir()
	metaPath, payloadPath := filepath.Join(dir, "meta"), filepath.Join(dir, "payload")
	cmd := exec.Command("unmunge", "-S", d.Socket, "-N", "-m", metaPath, "-o", payloadPath)
	cmd.Stdin = strings.NewReader(text)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	r := unmungeResult{status: exitCode(err), meta: map[string]string{}}
	if r.status < 0 {
		t.Fatalf("unmunge: %v", err)
	}
	r.message = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "unmunge: Error: "))
	if b, err := os.ReadFile(metaPath); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				r.meta[k] = strings.TrimSpace(v)
			}
		}
	}
	r.payload, _ = os.ReadFile(payloadPath)
	return r
}

func u32(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

// checkMeta compares unmunge's metadata with a credential decoded in Go.
func checkMeta(t *testing.T, what string, r unmungeResult, c *Cred) {
	t.Helper()
	want := map[string]uint32{
		"ENCODE_TIME": c.EncodeTime, "TTL": c.TTL, "CIPHER": uint32(c.Cipher), "MAC": uint32(c.MAC),
		"ZIP": uint32(c.Zip), "UID": c.UID, "GID": c.GID, "LENGTH": uint32(len(c.Payload)),
	}
	for k, v := range want {
		if got, ok := r.meta[k]; !ok || u32(got) != v {
			t.Errorf("%s: unmunge %s=%q, Go %d", what, k, got, v)
		}
	}
	if !bytes.Equal(r.payload, c.Payload) {
		t.Errorf("%s: unmunge payload %q, Go %q", what, r.payload, c.Payload)
	}
}

var me = Client{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}

// (a) Every cipher × MAC × zip that munge accepts yields a credential the Go
// decoder reads correctly; every one it refuses, Encode refuses with the
// same message.
func TestInteropMungeToGo(t *testing.T) {
	d, key := daemon(t)
	payload := strings.Repeat("plugincheck payload ", 24)
	var accepted, refused []string
	for _, ci := range cipherNames {
		for _, m := range macNames[1:] { // "none" is not a MAC munge offers
			for _, z := range zipNames {
				combo := ci + "/" + m + "/" + z
				cmd := exec.Command("munge", "-S", d.Socket, "-c", ci, "-m", m, "-z", z, "-t", "123", "-s", payload)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				cc, _ := ParseCipher(ci)
				mm, _ := ParseMAC(m)
				zz, _ := ParseZip(z)
				goCred := NewCred(1, 1, []byte(payload))
				goCred.Cipher, goCred.MAC, goCred.Zip = cc, mm, zz
				_, goErr := Encode(key, goCred, nil)
				if err != nil {
					refused = append(refused, combo)
					msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.String()), "munge: Error: "))
					if goErr == nil || goErr.Error() != msg {
						t.Errorf("%s: munge refused (%q, exit %d) but Go Encode says %v", combo, msg, exitCode(err), goErr)
					}
					continue
				}
				accepted = append(accepted, combo)
				if goErr != nil && !(zz == ZipBzlib && errors.Is(goErr, ErrBzlibEncode)) {
					t.Errorf("%s: munge accepted, Go Encode refused: %v", combo, goErr)
				}
				c, err := Decode(key, strings.TrimSpace(string(out)), time.Now(), me)
				if err != nil {
					t.Errorf("%s: Go decode: %v", combo, err)
					continue
				}
				wantC, wantM, wantZ := cc, mm, zz
				if wantC == CipherDefault {
					wantC = DefaultCipher
				}
				if wantM == MACDefault {
					wantM = DefaultMAC
				}
				if wantZ == ZipDefault {
					wantZ = DefaultZip
				}
				if c.Cipher != wantC || c.MAC != wantM || c.Zip != wantZ || c.UID != me.UID || c.GID != me.GID ||
					c.TTL != 123 || string(c.Payload) != payload || len(c.Addr) != 4 ||
					c.RestrictUID != UIDAny || c.RestrictGID != GIDAny || len(c.IV) != wantC.blockSize() {
					t.Errorf("%s: decoded %v/%v/%v uid=%d gid=%d ttl=%d addr=%v ruid=%#x rgid=%#x len=%d",
						combo, c.Cipher, c.MAC, c.Zip, c.UID, c.GID, c.TTL, c.Addr, c.RestrictUID, c.RestrictGID, len(c.Payload))
				}
			}
		}
	}
	t.Logf("munge accepted %d of %d cipher×MAC×zip combinations; refused: %s",
		len(accepted), len(accepted)+len(refused), strings.Join(refused, " "))

	// Decode restrictions, an empty payload and a long TTL come through too.
	out, err := exec.Command("munge", "-S", d.Socket, "-n", "-u", fmt.Sprint(me.UID), "-g", fmt.Sprint(me.GID), "-t", "-1", "-z", "zlib").Output()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(key, string(out), time.Now(), me)
	if err != nil || c.RestrictUID != me.UID || c.RestrictGID != me.GID || c.TTL != MaxTTL || c.Payload != nil || c.Zip != ZipNone {
		t.Errorf("restricted empty credential: %+v, %v", c, err)
	}
}

// (b) Credentials made in Go, with a forged identity, are accepted by
// munged with exactly that identity and payload.
func TestInteropGoToUnmunge(t *testing.T) {
	d, key := daemon(t)
	n := 0
	for _, ci := range ciphers {
		for _, m := range macs {
			if m.Size() < ci.keySize() {
				continue
			}
			for _, z := range []Zip{ZipNone, ZipZlib} {
				for _, p := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte("slurm "), 50)} {
					c := NewCred(1234, 5678, p)
					c.Cipher, c.MAC, c.Zip, c.TTL = ci, m, z, 77
					c.Addr = []byte{10, 1, 2, 3}
					text, enc, err := EncodeCred(key, c, nil)
					if err != nil {
						t.Fatal(err)
					}
					what := fmt.Sprintf("%v/%v/%v len %d", ci, m, enc.Zip, len(p))
					r := unmunge(t, d, text)
					if r.status != 0 {
						t.Errorf("%s: unmunge exit %d %q", what, r.status, r.message)
						continue
					}
					checkMeta(t, what, r, enc)
					if r.meta["ENCODE_HOST"] != "10.1.2.3" {
						t.Errorf("%s: ENCODE_HOST %q", what, r.meta["ENCODE_HOST"])
					}
					n++
				}
			}
		}
	}
	t.Logf("unmunge accepted all %d Go-encoded credentials (uid 1234, gid 5678)", n)

	// Fields munged never writes but reads: no origin address, a TTL above
	// the maximum (reported clamped), a restriction to this client.
	c := NewCred(1234, 5678, []byte("x"))
	c.Addr, c.TTL, c.RestrictUID, c.RestrictGID = nil, 7200, me.UID, me.GID
	text, enc, err := EncodeCred(key, c, &Options{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	r := unmunge(t, d, text)
	got, goErr := Decode(key, text, time.Now(), me)
	if r.status != 0 || goErr != nil || r.meta["TTL"] != "3600" || got.TTL != 3600 || got.Addr != nil || enc.TTL != 7200 {
		t.Errorf("raw credential: unmunge %d %v, Go %v %+v", r.status, r.meta, goErr, got)
	}
	t.Logf("no-address credential: unmunge ENCODE_HOST=%q", r.meta["ENCODE_HOST"])
}

// (c) Bad credentials: unmunge and the Go decoder (with a replay cache, fed
// the same sequence) give the same error number, the same message, and the
// same metadata where munged returns it.
func TestInteropRejections(t *testing.T) {
	d, key := daemon(t)
	dec := &Decoder{Key: key, Replay: NewReplayCache()}
	compare := func(what, text string) Code {
		t.Helper()
		r := unmunge(t, d, text)
		c, err := dec.Decode(text, time.Now(), me)
		code := CodeOf(err)
		if r.status != int(code) {
			t.Errorf("%s: unmunge %d (%q), Go %d (%v)", what, r.status, r.message, code, err)
			return code
		}
		if code == CredExpired || code == CredRewound || code == CredReplayed || code == Success {
			if c == nil {
				t.Errorf("%s: Go returned no metadata with %v", what, err)
			} else {
				checkMeta(t, what, r, c)
			}
		} else if r.message != err.Error() {
			t.Errorf("%s: unmunge says %q, Go %q", what, r.message, err.Error())
		}
		return code
	}
	now := uint32(time.Now().Unix())
	mk := func(f func(*Cred)) string {
		c := NewCred(1234, 5678, []byte("payload"))
		c.EncodeTime = now
		if f != nil {
			f(c)
		}
		s, err := Encode(key, c, &Options{Raw: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := NewKey(bytes.Repeat([]byte("k"), 64))
	wrongKey, _ := Encode(other, NewCred(1, 1, nil), nil)
	fixed := []struct {
		name string
		text string
		want Code
	}{
		{"expired (time -10 s, ttl 5)", mk(func(c *Cred) { c.EncodeTime, c.TTL = now-10, 5 }), CredExpired},
		{"rewound (time +10 s, ttl 5)", mk(func(c *Cred) { c.EncodeTime, c.TTL = now+10, 5 }), CredRewound},
		{"rewound (time +1000 s, ttl 300)", mk(func(c *Cred) { c.EncodeTime = now + 1000 }), CredRewound},
		// munged forgives a credential from up to its TTL in the future,
		// not just one second.
		{"time +10 s, ttl 300 is tolerated", mk(func(c *Cred) { c.EncodeTime = now + 10 }), Success},
		{"time +5 s, ttl 5 is tolerated", mk(func(c *Cred) { c.EncodeTime, c.TTL = now+5, 5 }), Success},
		{"ttl 0, time +2 s", mk(func(c *Cred) { c.EncodeTime, c.TTL = now+2, 0 }), CredRewound},
		{"time 0 wraps to rewound", mk(func(c *Cred) { c.EncodeTime = 0 }), CredRewound},
		{"wrong key", wrongKey, CredInvalid},
		{"restricted to another uid", mk(func(c *Cred) { c.RestrictUID = me.UID + 4321 }), CredUnauthorized},
		{"restricted to another gid", mk(func(c *Cred) { c.RestrictGID = me.GID + 4321 }), CredUnauthorized},
		{"restricted to this client", mk(func(c *Cred) { c.RestrictUID, c.RestrictGID = me.UID, me.GID }), Success},
	}
	for _, f := range fixed {
		if got := compare(f.name, f.text); got != f.want {
			t.Errorf("%s: code %d, want %d", f.name, got, f.want)
		}
	}
	replayed := mk(nil)
	if compare("first use", replayed) != Success || compare("replayed", replayed) != CredReplayed {
		t.Error("replay not detected by both")
	}

	// The unit-test table, with this daemon's key: munged must agree with
	// every verdict, forged MAC-valid oddities included.
	cases := decodeCases(t, key, time.Now())
	seen := map[Code]int{}
	for _, c := range cases {
		seen[compare("case "+c.name, c.text)]++
	}
	t.Logf("%d table cases, unmunge and Go agreeing on each: %v", len(cases), seen)

	// One base64 character flipped, at every position, two ways. Some flips
	// only touch unused bits and decode to an already-seen credential:
	// those must be "replayed" for both.
	text := mk(func(c *Cred) { c.Zip, c.Payload = ZipZlib, bytes.Repeat([]byte("abc"), 30) })
	counts := map[Code]int{}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := len(Prefix); i < len(text)-len(Suffix); i++ {
		v := strings.IndexByte(alphabet, text[i])
		if v < 0 {
			continue // padding
		}
		for _, x := range []int{1, 0x20} {
			b := []byte(text)
			b[i] = alphabet[v^x]
			counts[compare(fmt.Sprintf("flip %d^%#x", i, x), string(b))]++
		}
	}
	t.Logf("bit flips: %v (code: count), unmunge and Go agreeing on each", counts)
}
