package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ReadPrivateKey reads an ed25519 private key: a raw 32-byte seed or 64-byte
// private key (what GenerateKey writes), the same base64-encoded, or a PKCS#8
// PEM file (openssl genpkey -algorithm ed25519).
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if priv, ok := k.(ed25519.PrivateKey); ok {
			return priv, nil
		}
		return nil, fmt.Errorf("%s: a %T, not an ed25519 private key", path, k)
	}
	raw := rawOrBase64(data, ed25519.SeedSize, ed25519.PrivateKeySize)
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.PrivateKey(raw)
		// The second half must be the public key of the first.
		if !bytes.Equal(ed25519.NewKeyFromSeed(raw[:32]).Public().(ed25519.PublicKey), raw[32:]) {
			return nil, fmt.Errorf("%s: not an ed25519 private key (its public half does not match)", path)
		}
		return priv, nil
	}
	return nil, fmt.Errorf("%s: not an ed25519 private key (want 32 or 64 raw bytes, their base64, or PKCS#8 PEM; got %d bytes)", path, len(data))
}

// ReadPublicKey reads an ed25519 public key: 32 raw bytes (what GenerateKey
// writes), their base64, or a PKIX PEM file (openssl pkey -pubout).
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if pub, ok := k.(ed25519.PublicKey); ok {
			return pub, nil
		}
		return nil, fmt.Errorf("%s: a %T, not an ed25519 public key", path, k)
	}
	if raw := rawOrBase64(data, ed25519.PublicKeySize); len(raw) == ed25519.PublicKeySize {
		return ed25519.PublicKey(raw), nil
	}
	return nil, fmt.Errorf("%s: not an ed25519 public key (want 32 raw bytes, their base64, or PEM; got %d bytes)", path, len(data))
}

// rawOrBase64 returns data when its length is one of sizes, else its
// base64 decoding when that has one of sizes, else nil.
func rawOrBase64(data []byte, sizes ...int) []byte {
	for _, n := range sizes {
		if len(data) == n {
			return data
		}
	}
	dec, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil
	}
	for _, n := range sizes {
		if len(dec) == n {
			return dec
		}
	}
	return nil
}

// GenerateKey writes a new key pair: path (the 64-byte private key, mode
// 0600) and path.pub (the 32-byte public key). It refuses to overwrite
// either file.
func GenerateKey(path string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{path, path + ".pub"} {
		if _, err := os.Lstat(p); err == nil {
			return nil, fmt.Errorf("%s exists; not overwriting a key", p)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path+".pub", pub, 0o644); err != nil {
		return nil, err
	}
	return pub, nil
}

// KeyID names a public key: "SHA256:" and the unpadded base64 of the
// SHA-256 of its 32 bytes, as ssh-keygen -l prints fingerprints.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Sign writes dir/MANIFEST.sig: the base64 ed25519 signature of MANIFEST.
func Sign(dir string, key ed25519.PrivateKey) error {
	manifest, err := os.ReadFile(filepath.Join(dir, Manifest))
	if err != nil {
		return err
	}
	sig := ed25519.Sign(key, manifest)
	return os.WriteFile(filepath.Join(dir, Signature), []byte(base64.StdEncoding.EncodeToString(sig)+"\n"), 0o644)
}

// checkSignature verifies MANIFEST.sig against MANIFEST with pub.
func checkSignature(dir string, manifest []byte, pub ed25519.PublicKey) error {
	data, err := os.ReadFile(filepath.Join(dir, Signature))
	if errors.Is(err, os.ErrNotExist) {
		return invalid(Signature, "missing: the bundle is not signed, and --pubkey requires a signature")
	}
	if err != nil {
		return invalid(Signature, "cannot read: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return invalid(Signature, "not a base64 ed25519 signature")
	}
	if !ed25519.Verify(pub, manifest, sig) {
		return invalid(Signature, "signature of MANIFEST does not verify with key %s (MANIFEST or MANIFEST.sig was changed, or another key signed it)", KeyID(pub))
	}
	return nil
}
