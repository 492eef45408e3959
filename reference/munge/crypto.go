package munge

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"
	"os"

	"golang.org/x/crypto/blowfish"
	"golang.org/x/crypto/cast5"
	"golang.org/x/crypto/ripemd160" //nolint:staticcheck // munged still offers RIPEMD-160; the format needs it
)

// MinKeyLen is the shortest key file munged accepts (MUNGE_KEY_LEN_MIN_BYTES).
const MinKeyLen = 32

// ErrShortKey is munged's refusal of a key file under MinKeyLen bytes;
// munged refuses it even with --force.
var ErrShortKey = errors.New("Keyfile must be at least 32 bytes")

// Key holds the two subkeys munged derives from a key file.
type Key struct {
	dek [sha1.Size]byte // SHA1(keyfile || "1"): keys the per-credential DEK
	mac [sha1.Size]byte // SHA1(keyfile || "2"): keys the credential MAC
}

// NewKey derives the subkeys from the whole content of a munge.key file.
// munged hashes every byte of the file, so a trailing newline is key
// material too.
func NewKey(keyfile []byte) (*Key, error) {
	if len(keyfile) < MinKeyLen {
		return nil, fmt.Errorf("munge: key of %d bytes: %w", len(keyfile), ErrShortKey)
	}
	k := &Key{}
	h := sha1.New()
	h.Write(keyfile)
	h.Write([]byte("1"))
	h.Sum(k.dek[:0])
	h.Reset()
	h.Write(keyfile)
	h.Write([]byte("2"))
	h.Sum(k.mac[:0])
	return k, nil
}

// LoadKey reads a key file and derives its subkeys.
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return NewKey(b)
}

// blockSize is the cipher's block and IV size; 0 for none or unknown.
func (c Cipher) blockSize() int {
	switch c {
	case CipherBlowfish, CipherCAST5:
		return 8
	case CipherAES128, CipherAES256:
		return 16
	}
	return 0
}

// keySize is the cipher key length as libgcrypt reports it; 0 for none.
func (c Cipher) keySize() int {
	switch c {
	case CipherBlowfish, CipherCAST5, CipherAES128:
		return 16
	case CipherAES256:
		return 32
	}
	return 0
}

// valid reports a concrete cipher munged can use (none included).
func (c Cipher) valid() bool { return c == CipherNone || (c >= CipherBlowfish && c <= CipherAES256) }

func (c Cipher) block(key []byte) (cipher.Block, error) {
	switch c {
	case CipherBlowfish:
		return blowfish.NewCipher(key)
	case CipherCAST5:
		return cast5.NewCipher(key)
	case CipherAES128, CipherAES256:
		return aes.NewCipher(key)
	}
	return nil, fmt.Errorf("munge: no block cipher for %v", c)
}

// Size is the MAC's digest length, which is also the length of the MAC
// field in a credential; 0 for none or unknown.
func (m MAC) Size() int {
	switch m {
	case MACMD5:
		return md5.Size
	case MACSHA1, MACRIPEMD160:
		return 20
	case MACSHA256:
		return sha256.Size
	case MACSHA512:
		return sha512.Size
	}
	return 0
}

func (m MAC) valid() bool { return m >= MACMD5 && m <= MACSHA512 }

func (m MAC) hash() func() hash.Hash {
	switch m {
	case MACMD5:
		return md5.New
	case MACSHA1:
		return sha1.New
	case MACRIPEMD160:
		return ripemd160.New
	case MACSHA256:
		return sha256.New
	case MACSHA512:
		return sha512.New
	}
	return nil
}

// hmacOf is HMAC_m(key, parts...).
func (m MAC) hmacOf(key []byte, parts ...[]byte) []byte {
	h := hmac.New(m.hash(), key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// dek is the per-credential cipher key: HMAC(dek subkey, MAC) cut to the
// cipher's key size. A digest shorter than the key (only reachable in raw
// encoding; munged refuses the pair) is zero-extended.
func (k *Key) dekFor(c Cipher, m MAC, credMAC []byte) []byte {
	d := m.hmacOf(k.dek[:], credMAC)
	out := make([]byte, c.keySize())
	copy(out, d)
	return out
}

// encryptCBC pads with PKCS#5 and encrypts in CBC mode.
func encryptCBC(b cipher.Block, iv, plain []byte) []byte {
	bs := b.BlockSize()
	pad := bs - len(plain)%bs
	buf := make([]byte, len(plain)+pad)
	copy(buf, plain)
	for i := len(plain); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(b, iv).CryptBlocks(buf, buf)
	return buf
}

// decryptCBC decrypts and strips PKCS#5 padding. munged defers any failure
// here to its MAC check and reports both as CredInvalid, so ok is all the
// caller needs.
func decryptCBC(b cipher.Block, iv, ct []byte) (plain []byte, ok bool) {
	bs := b.BlockSize()
	if len(ct) == 0 || len(ct)%bs != 0 {
		return nil, false
	}
	buf := make([]byte, len(ct))
	cipher.NewCBCDecrypter(b, iv).CryptBlocks(buf, ct)
	pad := int(buf[len(buf)-1])
	if pad == 0 || pad > bs {
		return nil, false
	}
	for _, c := range buf[len(buf)-pad:] {
		if int(c) != pad {
			return nil, false
		}
	}
	return buf[:len(buf)-pad], true
}
