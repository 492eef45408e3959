package contract

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/reference/model"
)

// fakeClock advances a millisecond on every reading, as a real run does
// between calls, and jumps on Sleep.
type fakeClock struct{ t time.Time }

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *fakeClock) Sleep(d time.Duration) { c.t = c.t.Add(d) }

// bugs of the fake plugin, one per defect class the model must catch.
type bugs struct {
	lastData  bool // get_data returns the data of the credential verified last
	wireUID   bool // pack writes uid+1, MAC and all
	nobody    bool // ids readable before verify
	noReplay  bool // no replay cache
	noExpiry  bool // verify ignores the lifetime
	crashIDs  bool // ids of a failed credential "crash"
	createdNo bool // a credential that was never packed does not verify
}

type fakeCred struct {
	uid, gid, ctime, ttl uint32
	data, nonce, mac     []byte
	verified, failed     bool
	created              bool
}

// fake is an HMAC-protected plugin with a replay cache, in Go, with
// optional bugs.
type fake struct {
	clock    *fakeClock
	bugs     bugs
	creds    map[Handle]*fakeCred
	next     Handle
	seen     map[string]bool
	lastData []byte
	nonces   int
}

var fakeKey = []byte("fake plugin key")

const fakeUID, fakeGID, fakeTTL = 1000, 1001, 1

func newFake(clock *fakeClock, b bugs) *fake {
	return &fake{clock: clock, bugs: b, creds: map[Handle]*fakeCred{}, seen: map[string]bool{}}
}

func (f *fake) mac(c *fakeCred) []byte {
	h := hmac.New(sha256.New, fakeKey)
	h.Write(f.fields(c))
	return h.Sum(nil)
}

func (f *fake) fields(c *fakeCred) []byte {
	var b []byte
	for _, v := range []uint32{c.uid, c.gid, c.ctime, c.ttl, uint32(len(c.data))} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	b = append(b, c.data...)
	return append(b, c.nonce...)
}

func (f *fake) add(c *fakeCred) Handle {
	f.next++
	f.creds[f.next] = c
	return f.next
}

func (f *fake) Create(data []byte) (Handle, error) {
	f.nonces++
	c := &fakeCred{uid: fakeUID, gid: fakeGID, ctime: uint32(f.clock.Now().Unix()), ttl: fakeTTL,
		data: bytes.Clone(data), nonce: binary.BigEndian.AppendUint64(nil, uint64(f.nonces))}
	c.mac = f.mac(c)
	c.created = true
	return f.add(c), nil
}

func (f *fake) Pack(h Handle) ([]byte, int32, error) {
	c := *f.creds[h]
	if f.bugs.wireUID {
		c.uid++
		c.mac = f.mac(&c)
	}
	return append(f.fields(&c), c.mac...), 0, nil
}

func (f *fake) Unpack(b []byte) (Handle, int, error) {
	if len(b) < 20 {
		return 0, 0, nil
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(b[4*i:]) }
	n := int(u(4))
	if n > len(b)-20-8-32 {
		return 0, 0, nil
	}
	c := &fakeCred{uid: u(0), gid: u(1), ctime: u(2), ttl: u(3), data: bytes.Clone(b[20 : 20+n]),
		nonce: bytes.Clone(b[20+n : 28+n]), mac: bytes.Clone(b[28+n : 60+n])}
	return f.add(c), 60 + n, nil
}

func (f *fake) Verify(h Handle) (int32, error) {
	c := f.creds[h]
	if c.verified {
		return 0, nil
	}
	if f.bugs.createdNo && c.created {
		c.failed = true
		return -1, nil
	}
	now := uint32(f.clock.Now().Unix())
	ok := hmac.Equal(f.mac(c), c.mac) && (f.bugs.noExpiry || now <= c.ctime+c.ttl)
	if ok && !f.bugs.noReplay {
		ok = !f.seen[string(c.nonce)]
		f.seen[string(c.nonce)] = true
	}
	if !ok {
		c.failed = true
		return -1, nil
	}
	c.verified = true
	f.lastData = c.data
	return 0, nil
}

func (f *fake) IDs(h Handle) (uint32, uint32, error) {
	c := f.creds[h]
	if f.bugs.crashIDs && c.failed {
		return 0, 0, errors.New("crashed with SIGSEGV")
	}
	if !c.verified && !f.bugs.nobody {
		return model.Nobody, model.Nobody, nil
	}
	return c.uid, c.gid, nil
}

func (f *fake) Data(h Handle) ([]byte, int32, error) {
	c := f.creds[h]
	if !c.verified {
		return nil, -1, nil
	}
	if f.bugs.lastData {
		return f.lastData, 0, nil
	}
	return c.data, 0, nil
}

func (f *fake) Host(h Handle) (string, bool, error) {
	if !f.creds[h].verified {
		return "", false, nil
	}
	return "fakehost", true, nil
}

func (f *fake) Destroy(h Handle) (int32, error) {
	delete(f.creds, h)
	return 0, nil
}

func fakeSemantics(replay bool) Semantics {
	return Contract(model.Identity{UID: fakeUID, GID: fakeGID}, replay, fakeTTL*time.Second, true, true)
}

func explore(t *testing.T, b bugs, sem Semantics, seed uint64) (*Result, Runner) {
	t.Helper()
	clock := newClock()
	r := Explore(sem, seed, 600, newFake(clock, b), clock)
	run := func(steps []Step) *Result {
		c := newClock()
		return Run(sem, steps, newFake(c, b), c)
	}
	return r, run
}

func TestCorrectPluginPasses(t *testing.T) {
	for seed := uint64(0); seed < 300; seed++ {
		if r, _ := explore(t, bugs{}, fakeSemantics(true), seed); r.Failure != nil {
			t.Fatalf("seed %d: %s\n%s", seed, r.Failure, r.Transcript())
		}
		if r, _ := explore(t, bugs{noReplay: true}, fakeSemantics(false), seed); r.Failure != nil {
			t.Fatalf("seed %d, no replay cache: %s\n%s", seed, r.Failure, r.Transcript())
		}
		if r, _ := explore(t, bugs{createdNo: true}, fakeSemantics(true), seed); r.Failure != nil {
			t.Fatalf("seed %d: %s\n%s", seed, r.Failure, r.Transcript())
		}
	}
}

// Each defect is found for every seed, with the mismatch kind expected,
// and shrinks to at most six steps.
func TestDefectsAreFoundAndShrunk(t *testing.T) {
	for _, tc := range []struct {
		name string
		bugs bugs
		sem  Semantics
		kind string
		max  int
	}{
		{"lastData", bugs{lastData: true}, fakeSemantics(true), "data", 5},
		{"wireUID", bugs{wireUID: true}, fakeSemantics(true), "ids", 5},
		{"nobody", bugs{nobody: true}, fakeSemantics(true), "ids", 5},
		{"noReplay", bugs{noReplay: true}, fakeSemantics(true), "verify accepted", 6},
		{"noExpiry", bugs{noExpiry: true}, fakeSemantics(true), "verify accepted", 3},
		{"crash", bugs{crashIDs: true}, fakeSemantics(true), "crash in ids", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(0); seed < 200; seed++ {
				r, run := explore(t, tc.bugs, tc.sem, seed)
				if r.Failure == nil {
					t.Fatalf("seed %d: not found in %d steps", seed, len(r.Entries))
				}
				if r.Failure.Kind != tc.kind {
					t.Fatalf("seed %d: kind %q, want %q\n%s", seed, r.Failure.Kind, tc.kind, r.Transcript())
				}
				sh := Shrink(r, run, Budget{Runs: 2000})
				if sh.To > tc.max || sh.Exhausted {
					t.Fatalf("seed %d: shrunk from %d to %d steps in %d runs (exhausted %v), want at most %d:\n%s",
						seed, sh.From, sh.To, sh.Runs, sh.Exhausted, tc.max, sh.Result.Transcript())
				}
				if seed == 0 {
					t.Logf("%s: %d → %d steps in %d runs:\n%s", tc.name, sh.From, sh.To, sh.Runs, sh.Result.Transcript())
				}
			}
		})
	}
}

// auth/none's semantics: a fake that authenticates nothing passes, and its
// changed credentials claim the ids their bytes say.
func TestAuthNoneSemantics(t *testing.T) {
	host := "vm"
	m := model.AuthNone{Release: model.Release{Major: 22, Minor: 5}}
	sem := AuthNone(m, model.Identity{UID: 1000, GID: 1001}, &host, 0x2600, true, true)
	for seed := uint64(0); seed < 200; seed++ {
		clock := newClock()
		r := Explore(sem, seed, 160, &noneFake{m: m, creds: map[Handle]model.NoneCred{}}, clock)
		if r.Failure != nil {
			t.Fatalf("seed %d: %s\n%s", seed, r.Failure, r.Transcript())
		}
	}
}

type noneFake struct {
	m     model.AuthNone
	creds map[Handle]model.NoneCred
	next  Handle
}

func (f *noneFake) add(c model.NoneCred) Handle {
	f.next++
	f.creds[f.next] = c
	return f.next
}
func (f *noneFake) Create([]byte) (Handle, error) {
	h := "vm"
	return f.add(model.NoneCred{Identity: model.Identity{UID: 1000, GID: 1001}, Host: &h}), nil
}
func (f *noneFake) Pack(h Handle) ([]byte, int32, error) { return f.m.Body(f.creds[h], 0x2600), 0, nil }
func (f *noneFake) Unpack(b []byte) (Handle, int, error) {
	c, n, err := f.m.Unpack(b, 0x2600)
	if err != nil {
		return 0, 0, nil
	}
	return f.add(c), n, nil
}
func (f *noneFake) Verify(Handle) (int32, error) { return 0, nil }
func (f *noneFake) IDs(h Handle) (uint32, uint32, error) {
	return f.creds[h].UID, f.creds[h].GID, nil
}
func (f *noneFake) Data(Handle) ([]byte, int32, error) { return nil, 0, nil }
func (f *noneFake) Host(h Handle) (string, bool, error) {
	if p := f.creds[h].Host; p != nil {
		return *p, true, nil
	}
	return "", false, nil
}
func (f *noneFake) Destroy(h Handle) (int32, error) { delete(f.creds, h); return 0, nil }

func TestTranscript(t *testing.T) {
	r, _ := explore(t, bugs{lastData: true}, fakeSemantics(true), 1)
	out := r.Transcript()
	if !strings.Contains(out, "✗ the model predicts") || !strings.Contains(out, "create(data #") {
		t.Errorf("transcript:\n%s", out)
	}
}

func TestPayloads(t *testing.T) {
	seen := map[string]int{}
	for i := 0; i < 64; i++ {
		p := Payload(i)
		if want := [...]int{0, 12, 40, 300}[i%4]; len(p) != want {
			t.Fatalf("payload %d has %d bytes, want %d", i, len(p), want)
		}
		if len(p) > 0 {
			if j, dup := seen[string(p)]; dup {
				t.Fatalf("payloads %d and %d are equal", i, j)
			}
			seen[string(p)] = i
		}
	}
}
