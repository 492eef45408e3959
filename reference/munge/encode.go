package munge

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"time"
)

// Cred is everything a MUNGE v3 credential carries. Decode fills every
// field; Encode writes them (see Options for which it resolves first).
//
// The zero value is not a harmless credential: RestrictUID 0 restricts
// decoding to root. Start from NewCred for munged's defaults.
type Cred struct {
	Cipher Cipher
	MAC    MAC
	Zip    Zip
	Realm  string // unterminated in OUTER; munged 0.5.x never sets one

	IV   []byte // cipher block size (AES 16, Blowfish/CAST5 8); empty for none
	Salt []byte // 8 random bytes
	Addr []byte // origin IPv4 address (4 bytes), or empty

	EncodeTime  uint32 // time_t of encoding, truncated to 32 bits
	TTL         uint32 // seconds; Decode reports it clamped to the max TTL
	UID, GID    uint32 // identity of the client that asked for the credential
	RestrictUID uint32 // only this uid may decode; UIDAny for anyone
	RestrictGID uint32 // only members of this gid may decode; GIDAny for any

	Payload []byte
}

// NewCred returns a credential as munged would issue it by default to
// uid/gid from 127.0.0.1: aes128, sha256, no compression, TTL 300, no
// decode restriction, encode time now.
func NewCred(uid, gid uint32, payload []byte) *Cred {
	return &Cred{
		Cipher: DefaultCipher, MAC: DefaultMAC, Zip: DefaultZip,
		Addr:       []byte{127, 0, 0, 1},
		EncodeTime: uint32(time.Now().Unix()), TTL: DefaultTTL,
		UID: uid, GID: gid, RestrictUID: UIDAny, RestrictGID: GIDAny,
		Payload: payload,
	}
}

// Options tune Encode. A nil *Options means the zero value.
type Options struct {
	// Rand supplies salt and IV when the Cred leaves them empty;
	// crypto/rand when nil.
	Rand io.Reader
	// MaxTTL is munged's --max-ttl; 0 means MaxTTL (3600).
	MaxTTL uint32
	// Raw writes the Cred as given, for credentials munged would never
	// issue: no default substitution (a cipher or zip type without an
	// algorithm, Default included, is written as is and INNER is left
	// unencrypted or uncompressed), TTL 0 or above MaxTTL kept,
	// compression kept even when it does not shrink INNER or the payload
	// is empty, encode time 0 kept, a MAC shorter than the cipher key
	// allowed (the key is zero-extended), any Addr length up to 255. The
	// MAC type must still name a hash: there is no MAC without one. To
	// forge other header bytes, edit the output of Unarmor and re-Armor it.
	Raw bool
}

// Encode builds the armored credential text exactly as munged does:
//
//  1. resolve defaults and refuse what munged refuses (BadCipher, BadMAC,
//     BadZip with munged's messages), unless opts.Raw;
//  2. pack OUTER and INNER; compress INNER (munged keeps compression only
//     when it makes INNER smaller, and never compresses an empty payload);
//  3. MAC = HMAC(mac subkey, OUTER || INNER);
//  4. encrypt INNER in CBC mode under HMAC(dek subkey, MAC);
//  5. armor OUTER || MAC || INNER.
//
// c is not modified.
func Encode(key *Key, c *Cred, opts *Options) (string, error) {
	s, _, err := EncodeCred(key, c, opts)
	return s, err
}

// EncodeCred is Encode that also returns the credential as written, with
// defaults resolved and the generated salt and IV filled in.
func EncodeCred(key *Key, in *Cred, opts *Options) (string, *Cred, error) {
	if opts == nil {
		opts = &Options{}
	}
	c := *in
	maxTTL := opts.MaxTTL
	if maxTTL == 0 {
		maxTTL = MaxTTL
	}
	if !opts.Raw {
		// munged's enc_validate_msg, in its order.
		switch {
		case c.Cipher == CipherDefault:
			c.Cipher = DefaultCipher
		case !c.Cipher.valid():
			return "", nil, mkerr(BadCipher, "Invalid cipher type %d", c.Cipher)
		}
		switch {
		case c.MAC == MACDefault:
			c.MAC = DefaultMAC
		case !c.MAC.valid():
			return "", nil, mkerr(BadMAC, "Invalid MAC type %d", c.MAC)
		}
		if c.MAC.Size() < c.Cipher.keySize() {
			return "", nil, mkerr(BadMAC, "Invalid MAC type %d with cipher type %d", c.MAC, c.Cipher)
		}
		switch {
		case c.Zip == ZipDefault:
			c.Zip = DefaultZip
		case c.Zip != ZipNone && c.Zip != ZipZlib && c.Zip != ZipBzlib:
			return "", nil, mkerr(BadZip, "Invalid compression type %d", c.Zip)
		}
		if len(c.Payload) == 0 {
			c.Zip = ZipNone
		}
		if c.TTL == 0 {
			c.TTL = DefaultTTL
		} else if c.TTL > maxTTL {
			c.TTL = maxTTL
		}
		if c.EncodeTime == 0 {
			c.EncodeTime = uint32(time.Now().Unix())
		}
		if len(c.Addr) != 0 && len(c.Addr) != 4 {
			return "", nil, fmt.Errorf("munge: origin address of %d bytes (want 0 or 4)", len(c.Addr))
		}
	}
	if len(c.Realm) > 255 || len(c.Addr) > 255 {
		return "", nil, fmt.Errorf("munge: realm or address longer than 255 bytes")
	}
	if c.MAC.hash() == nil {
		// Only in raw mode: without a hash there is no MAC to compute.
		return "", nil, fmt.Errorf("munge: cannot MAC with MAC type %d", c.MAC)
	}
	rnd := opts.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	bs := c.Cipher.blockSize()
	if len(c.Salt) == 0 {
		c.Salt = make([]byte, SaltLen)
		if _, err := io.ReadFull(rnd, c.Salt); err != nil {
			return "", nil, err
		}
	} else if len(c.Salt) != SaltLen {
		return "", nil, fmt.Errorf("munge: salt of %d bytes (want %d)", len(c.Salt), SaltLen)
	}
	if len(c.IV) == 0 && bs > 0 {
		c.IV = make([]byte, bs)
		if _, err := io.ReadFull(rnd, c.IV); err != nil {
			return "", nil, err
		}
	} else if len(c.IV) != bs {
		return "", nil, fmt.Errorf("munge: IV of %d bytes for cipher %v (want %d)", len(c.IV), c.Cipher, bs)
	}

	inner := packInner(&c)
	if c.Zip == ZipZlib || c.Zip == ZipBzlib {
		z, err := compress(c.Zip, inner)
		if err != nil {
			return "", nil, err
		}
		if len(z) < len(inner) || opts.Raw {
			inner = z
		} else {
			c.Zip = ZipNone
		}
	}
	outer := packOuter(&c)
	mac := c.MAC.hmacOf(key.mac[:], outer, inner)
	if bs > 0 {
		blk, err := c.Cipher.block(key.dekFor(c.Cipher, c.MAC, mac))
		if err != nil {
			return "", nil, err
		}
		inner = encryptCBC(blk, c.IV, inner)
	}
	raw := make([]byte, 0, len(outer)+len(mac)+len(inner))
	raw = append(append(append(raw, outer...), mac...), inner...)
	return Armor(raw), &c, nil
}

func packOuter(c *Cred) []byte {
	b := []byte{Version, byte(c.Cipher), byte(c.MAC), byte(c.Zip), byte(len(c.Realm))}
	b = append(b, c.Realm...)
	return append(b, c.IV...)
}

func packInner(c *Cred) []byte {
	b := make([]byte, 0, SaltLen+1+len(c.Addr)+28+len(c.Payload))
	b = append(b, c.Salt...)
	b = append(b, byte(len(c.Addr)))
	b = append(b, c.Addr...)
	for _, v := range []uint32{c.EncodeTime, c.TTL, c.UID, c.GID, c.RestrictUID, c.RestrictGID, uint32(len(c.Payload))} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, c.Payload...)
}
