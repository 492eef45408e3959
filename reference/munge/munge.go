// Package munge is an independent model of MUNGE v3 credentials: the
// "MUNGE:…:" strings that munged (0.5.15, Debian 12) issues and that Slurm's
// auth/munge and cred/munge plugins pass around. It encodes credentials
// byte-compatible with munged, so the suite can forge any uid, gid, time or
// payload, and decodes them with munged's checks in munged's order and with
// munge's error numbers, so a plugin's verdict can be compared to what
// munged would have said.
//
// It was written from MUNGE's published format description
// (doc/credential_v3_format.txt) and checked against a real munged in both
// directions (see interop_test.go); it shares no code with MUNGE.
//
// Layout (all integers big-endian):
//
//	"MUNGE:" base64( OUTER || MAC || INNER ) ":"
//	OUTER: version(3) cipher mac zip realm_len realm IV
//	INNER: salt[8] addr_len addr time ttl uid gid restrict_uid restrict_gid len payload
//
// Keys: two subkeys are SHA-1 hashes of the whole key file, with "1" (the
// data-encryption subkey) or "2" (the MAC subkey) appended. The MAC is an HMAC
// over OUTER and the compressed, unencrypted INNER; the per-credential
// cipher key is an HMAC of that MAC under the encryption subkey, cut to the
// cipher's key size; INNER is then encrypted in CBC mode with PKCS#5
// padding. Compression (zlib or bzip2) prefixes INNER with an 8-byte header
// {0xCACACACA, original length}.
//
// Dependencies: the standard library has no Blowfish, CAST5 or RIPEMD-160,
// which munged offers when built with libgcrypt, as Debian's is; those come
// from golang.org/x/crypto. bzip2 is decode-only (compress/bzip2), so Encode
// refuses zip=bzlib with [ErrBzlibEncode].
//
// What is not modelled: munged's client socket protocol and its 1 MiB
// request limit, and group lookups (the caller supplies a client's
// supplementary groups). munged's compile-time switches (clock-skew
// tolerance, root may decode anything) are Decoder fields whose zero
// values are munged 0.5.15's settings.
package munge

import (
	"errors"
	"fmt"
	"strings"
)

// Cipher is munge_cipher_t.
type Cipher uint8

// Cipher types. Default is resolved by the encoder (aes128 in Debian's
// build) and is never valid inside a credential.
const (
	CipherNone     Cipher = 0
	CipherDefault  Cipher = 1
	CipherBlowfish Cipher = 2
	CipherCAST5    Cipher = 3
	CipherAES128   Cipher = 4
	CipherAES256   Cipher = 5
)

// MAC is munge_mac_t.
type MAC uint8

// MAC types. None is never valid; Default resolves to sha256.
const (
	MACNone      MAC = 0
	MACDefault   MAC = 1
	MACMD5       MAC = 2
	MACSHA1      MAC = 3
	MACRIPEMD160 MAC = 4
	MACSHA256    MAC = 5
	MACSHA512    MAC = 6
)

// Zip is munge_zip_t.
type Zip uint8

// Compression types. Default resolves to none (MUNGE_DEFAULT_ZIP).
const (
	ZipNone    Zip = 0
	ZipDefault Zip = 1
	ZipBzlib   Zip = 2
	ZipZlib    Zip = 3
)

// Defaults of munged 0.5.15 as Debian builds it (libgcrypt).
const (
	DefaultCipher = CipherAES128
	DefaultMAC    = MACSHA256
	DefaultZip    = ZipNone
	DefaultTTL    = 300  // MUNGE_DEFAULT_TTL
	MaxTTL        = 3600 // MUNGE_MAXIMUM_TTL, munged --max-ttl default
	Version       = 3    // MUNGE_CRED_VERSION
	SaltLen       = 8    // MUNGE_CRED_SALT_LEN
	// UIDAny and GIDAny mean "no decode restriction".
	UIDAny = 0xFFFFFFFF
	GIDAny = 0xFFFFFFFF
	// Prefix and Suffix are the armor around the base64 text.
	Prefix = "MUNGE:"
	Suffix = ":"
)

var cipherNames = []string{"none", "default", "blowfish", "cast5", "aes128", "aes256"}
var macNames = []string{"none", "default", "md5", "sha1", "ripemd160", "sha256", "sha512"}
var zipNames = []string{"none", "default", "bzlib", "zlib"}

func name(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("unknown(%d)", v)
}

func (c Cipher) String() string { return name(cipherNames, uint8(c)) }
func (m MAC) String() string    { return name(macNames, uint8(m)) }
func (z Zip) String() string    { return name(zipNames, uint8(z)) }

func parse(names []string, s string) (uint8, bool) {
	for i, n := range names {
		if strings.EqualFold(n, s) {
			return uint8(i), true
		}
	}
	return 0, false
}

// ParseCipher accepts the names munge -C lists.
func ParseCipher(s string) (Cipher, bool) { v, ok := parse(cipherNames, s); return Cipher(v), ok }

// ParseMAC accepts the names munge -M lists, plus "none".
func ParseMAC(s string) (MAC, bool) { v, ok := parse(macNames, s); return MAC(v), ok }

// ParseZip accepts the names munge -Z lists.
func ParseZip(s string) (Zip, bool) { v, ok := parse(zipNames, s); return Zip(v), ok }

// Code is munge_err_t; unmunge exits with it.
type Code int

// Error numbers of libmunge's munge.h.
const (
	Success          Code = 0
	Snafu            Code = 1
	BadArg           Code = 2
	BadLength        Code = 3
	Overflow         Code = 4
	NoMemory         Code = 5
	Socket           Code = 6
	Timeout          Code = 7
	BadCred          Code = 8
	BadVersion       Code = 9
	BadCipher        Code = 10
	BadMAC           Code = 11
	BadZip           Code = 12
	BadRealm         Code = 13
	CredInvalid      Code = 14
	CredExpired      Code = 15
	CredRewound      Code = 16
	CredReplayed     Code = 17
	CredUnauthorized Code = 18
)

var codeText = []string{
	"Success", "Internal error", "Invalid argument", "Exceeded maximum message length",
	"Buffer overflow", "Out of memory", "Socket communication error", "Socket timeout",
	"Invalid credential format", "Invalid credential version", "Invalid cipher type",
	"Invalid MAC type", "Invalid compression type", "Unrecognized security realm",
	"Invalid credential", "Expired credential", "Rewound credential",
	"Replayed credential", "Unauthorized credential",
}

// String is munge_strerror's text.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeText) {
		return codeText[c]
	}
	return "Unknown error"
}

// Error is a munge failure. Detail is the specific message munged attaches
// to some errors ("Invalid MAC type 2 with cipher type 5"); without one the
// text is munge_strerror's, as unmunge prints it.
type Error struct {
	Code   Code
	Detail string
}

func (e *Error) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Code.String()
}

// Is makes errors.Is(err, &Error{Code: c}) match any error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Detail == "" || t.Detail == e.Detail)
}

// CodeOf is the munge code of err: Success for nil, Snafu for an error that
// is not an *Error.
func CodeOf(err error) Code {
	if err == nil {
		return Success
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Snafu
}

func mkerr(c Code, format string, args ...any) *Error {
	if format == "" {
		return &Error{Code: c}
	}
	return &Error{Code: c, Detail: fmt.Sprintf(format, args...)}
}
