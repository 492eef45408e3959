package munge

import (
	"crypto/hmac"
	"encoding/binary"
	"slices"
	"sync"
	"time"
)

// Client is who asks munged to decode: munged learns uid and gid from the
// socket peer; Groups are that user's supplementary groups, which munged
// looks up in the group database for a restrict-gid check.
type Client struct {
	UID, GID uint32
	Groups   []uint32
}

// Decoder holds what a munged instance brings to decoding beyond the key.
// The zero value (with Key set) is munged 0.5.15 with default options and
// no replay memory.
type Decoder struct {
	Key *Key
	// MaxTTL is --max-ttl; 0 means MaxTTL (3600). A credential's TTL is
	// clamped to it before the expiry check.
	MaxTTL uint32
	// StrictClock allows a credential to be only 1 s in the future
	// instead of up to its TTL. munged's dec_validate_time has both modes,
	// but every release hard-wires the tolerant one (got_clock_skew = 1
	// in conf.c), so a credential encoded up to TTL seconds ahead decodes.
	StrictClock bool
	// RootAllow stands for MUNGE_AUTH_ROOT_ALLOW_FLAG (off in 0.5.15):
	// root may then decode a credential restricted to another uid.
	RootAllow bool
	// Replay, when set, remembers decoded credentials as munged's replay
	// hash does; without it no credential is ever "replayed".
	Replay *ReplayCache
}

// Decode is (&Decoder{Key: key}).Decode: munged's checks with no replay
// memory.
func Decode(key *Key, text string, now time.Time, client Client) (*Cred, error) {
	return (&Decoder{Key: key}).Decode(text, now, client)
}

// Decode checks a credential as munged's dec_process_msg does, in its
// order, stopping at the first failure:
//
//	unarmor                     BadArg, BadCred
//	version, cipher, MAC, zip   BadCred (truncated), BadVersion, BadCipher, BadMAC, BadZip
//	realm, IV, MAC field        BadCred (truncated)
//	decrypt, MAC compare        CredInvalid (a padding error too, as munged defers it)
//	decompress                  Snafu (bad header), CredInvalid (bad stream)
//	unpack INNER                BadCred
//	restrict uid/gid            CredUnauthorized
//	time                        CredRewound, CredExpired
//	replay                      CredReplayed
//
// Failures are *Error. As munged does, the decoded credential is returned
// with CredExpired, CredRewound and CredReplayed, and nil with every other
// error.
//
// now is the decode time. The credential is rewound if now < time - ttl
// (see StrictClock) and expired if now > time + ttl, with ttl first clamped
// to MaxTTL; munged computes these bounds in unsigned 32-bit arithmetic,
// wrap-around included, so an encode time below the TTL counts as rewound.
func (d *Decoder) Decode(text string, now time.Time, client Client) (*Cred, error) {
	if d.Key == nil {
		return nil, mkerr(Snafu, "munge: Decoder has no key")
	}
	raw, err := Unarmor(text)
	if err != nil {
		return nil, err
	}
	c, mac, e := d.open(raw)
	if e != nil {
		return nil, e
	}
	if e := d.authorize(c, client); e != nil {
		return nil, e
	}
	maxTTL := d.MaxTTL
	if maxTTL == 0 {
		maxTTL = MaxTTL
	}
	if c.TTL > maxTTL {
		c.TTL = maxTTL
	}
	skew := c.TTL
	if d.StrictClock {
		skew = 1 // even strict, munged forgives a second for NTP's sake
	}
	t1 := uint32(now.Unix())
	if t1 < c.EncodeTime-skew {
		return c, mkerr(CredRewound, "")
	}
	if t1 > c.EncodeTime+c.TTL {
		return c, mkerr(CredExpired, "")
	}
	if d.Replay != nil && !d.Replay.insert(mac, c.EncodeTime+c.TTL, now) {
		return c, mkerr(CredReplayed, "")
	}
	return c, nil
}

// open parses OUTER, decrypts and verifies INNER, and unpacks it. It
// returns the MAC too, for the replay check.
func (d *Decoder) open(raw []byte) (*Cred, []byte, *Error) {
	cur := &cursor{raw}
	next := cur.next
	c := &Cred{}
	b, ok := next(1)
	if !ok {
		return nil, nil, mkerr(BadCred, "Truncated credential version")
	}
	if b[0] != Version {
		return nil, nil, mkerr(BadVersion, "Invalid credential version %d", b[0])
	}
	if b, ok = next(1); !ok {
		return nil, nil, mkerr(BadCred, "Truncated cipher type")
	}
	c.Cipher = Cipher(b[0])
	if !c.Cipher.valid() {
		return nil, nil, mkerr(BadCipher, "Invalid cipher type %d", c.Cipher)
	}
	if b, ok = next(1); !ok {
		return nil, nil, mkerr(BadCred, "Truncated MAC type")
	}
	c.MAC = MAC(b[0])
	if !c.MAC.valid() {
		return nil, nil, mkerr(BadMAC, "Invalid MAC type %d", c.MAC)
	}
	if c.MAC.Size() < c.Cipher.keySize() {
		return nil, nil, mkerr(BadMAC, "Invalid MAC type %d with cipher type %d", c.MAC, c.Cipher)
	}
	if b, ok = next(1); !ok {
		return nil, nil, mkerr(BadCred, "Truncated compression type")
	}
	c.Zip = Zip(b[0])
	if c.Zip != ZipNone && c.Zip != ZipZlib && c.Zip != ZipBzlib {
		return nil, nil, mkerr(BadZip, "Invalid compression type %d", c.Zip)
	}
	if b, ok = next(1); !ok {
		return nil, nil, mkerr(BadCred, "Truncated security realm length")
	}
	if b, ok = next(int(b[0])); !ok {
		return nil, nil, mkerr(BadCred, "Truncated security realm string")
	}
	c.Realm = string(b)
	if b, ok = next(c.Cipher.blockSize()); !ok {
		return nil, nil, mkerr(BadCred, "Truncated cipher IV")
	}
	if len(b) > 0 {
		c.IV = slices.Clone(b)
	}
	outer := raw[:len(raw)-len(cur.p)]
	mac, ok := next(c.MAC.Size())
	if !ok {
		return nil, nil, mkerr(BadCred, "Truncated MAC")
	}
	inner := cur.p
	if bs := c.Cipher.blockSize(); bs > 0 {
		blk, err := c.Cipher.block(d.Key.dekFor(c.Cipher, c.MAC, mac))
		if err != nil {
			return nil, nil, mkerr(Snafu, "Failed to decrypt credential")
		}
		if inner, ok = decryptCBC(blk, c.IV, inner); !ok {
			// munged defers this to the MAC check, which fails with it.
			return nil, nil, mkerr(CredInvalid, "")
		}
	}
	if !hmac.Equal(c.MAC.hmacOf(d.Key.mac[:], outer, inner), mac) {
		return nil, nil, mkerr(CredInvalid, "")
	}
	if c.Zip != ZipNone {
		var e *Error
		if inner, e = decompress(c.Zip, inner); e != nil {
			return nil, nil, e
		}
	}
	if e := unpackInner(c, inner); e != nil {
		return nil, nil, e
	}
	return c, mac, nil
}

// unpackInner reads INNER as munged 0.5.15 does. Bytes after the payload
// are ignored: munged only asserts their absence, and Debian builds it
// without asserts.
func unpackInner(c *Cred, p []byte) *Error {
	cur := &cursor{p}
	next := cur.next
	b, ok := next(SaltLen)
	if !ok {
		return mkerr(BadCred, "Truncated salt")
	}
	c.Salt = slices.Clone(b)
	if b, ok = next(1); !ok {
		return mkerr(BadCred, "Truncated origin IP addr length")
	}
	n := int(b[0])
	if n > len(cur.p) {
		return mkerr(BadCred, "Truncated origin IP addr")
	}
	if n != 0 && n != 4 {
		return mkerr(BadCred, "Invalid origin IP addr length")
	}
	if b, _ = next(n); n > 0 {
		c.Addr = slices.Clone(b)
	}
	fields := []struct {
		v    *uint32
		what string
	}{
		{&c.EncodeTime, "Truncated encode time"},
		{&c.TTL, "Truncated time-to-live"},
		{&c.UID, "Truncated UID"},
		{&c.GID, "Truncated GID"},
		{&c.RestrictUID, "Truncated UID restriction"},
		{&c.RestrictGID, "Truncated GID restriction"},
	}
	for _, f := range fields {
		if b, ok = next(4); !ok {
			return mkerr(BadCred, "%s", f.what)
		}
		*f.v = binary.BigEndian.Uint32(b)
	}
	if b, ok = next(4); !ok {
		return mkerr(BadCred, "Truncated data length")
	}
	size := binary.BigEndian.Uint32(b)
	if uint64(size) > uint64(len(cur.p)) {
		return mkerr(BadCred, "Truncated data")
	}
	if size > 0 {
		c.Payload = slices.Clone(cur.p[:size])
	}
	return nil
}

// authorize is munged's dec_validate_auth.
func (d *Decoder) authorize(c *Cred, cl Client) *Error {
	if c.RestrictUID != UIDAny && c.RestrictUID != cl.UID && !(d.RootAllow && cl.UID == 0) {
		return unauthorized(cl)
	}
	if c.RestrictGID == GIDAny || c.RestrictGID == cl.GID || slices.Contains(cl.Groups, c.RestrictGID) {
		return nil
	}
	return unauthorized(cl)
}

func unauthorized(cl Client) *Error {
	return mkerr(CredUnauthorized, "Unauthorized credential for client UID=%d GID=%d", cl.UID, cl.GID)
}

// ReplayCache is munged's replay hash: a credential decodes successfully
// once until it expires. Entries are keyed as munged keys them, by the
// first 16 bytes of the MAC and the expiry time0+ttl, and dropped once
// expired (munged purges every 60 s, but an expired credential is refused
// before the replay check, so the difference cannot be observed).
// It is safe for concurrent use. The zero value is ready to use.
type ReplayCache struct {
	mu      sync.Mutex
	entries map[replayKey]struct{}
}

type replayKey struct {
	mac     [16]byte
	expires uint32
}

// NewReplayCache returns an empty cache.
func NewReplayCache() *ReplayCache { return &ReplayCache{} }

// insert records a credential and reports whether it was new.
func (r *ReplayCache) insert(mac []byte, expires uint32, now time.Time) bool {
	var k replayKey
	copy(k.mac[:], mac)
	k.expires = expires
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries == nil {
		r.entries = make(map[replayKey]struct{})
	}
	t := now.Unix()
	for e := range r.entries {
		if int64(e.expires) < t {
			delete(r.entries, e)
		}
	}
	if _, seen := r.entries[k]; seen {
		return false
	}
	r.entries[k] = struct{}{}
	return true
}

// Len is the number of remembered credentials.
func (r *ReplayCache) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// cursor hands out consecutive fields of a byte string.
type cursor struct{ p []byte }

// next returns the next n bytes, or false when fewer remain.
func (c *cursor) next(n int) ([]byte, bool) {
	if n > len(c.p) {
		return nil, false
	}
	b := c.p[:n:n]
	c.p = c.p[n:]
	return b, true
}
