package model

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/plugincheck/plugincheck/reference/munge"
	"github.com/plugincheck/plugincheck/reference/pack"
)

// MungeExpect is what a MUNGE credential made by a plugin must carry.
type MungeExpect struct {
	Identity
	// TTL is the lifetime the plugin asked munged for: AuthInfo's ttl=, or
	// munged's default (munge.DefaultTTL) when there is none.
	TTL     uint32
	Payload []byte
	// RestrictUID and RestrictGID are the decode restrictions (munge.UIDAny
	// and munge.GIDAny for none).
	RestrictUID, RestrictGID uint32
}

// checkText checks a MUNGE credential string: its armor and header always,
// and with a key every field against want. now is when it was made.
func checkText(text string, key *munge.Key, want MungeExpect, now time.Time) error {
	if !strings.HasPrefix(text, munge.Prefix) || !strings.HasSuffix(text, munge.Suffix) || len(text) < len(munge.Prefix)+len(munge.Suffix) {
		return fmt.Errorf("%.40q… is not a MUNGE credential (\"MUNGE:<base64>:\")", text)
	}
	raw, err := munge.Unarmor(text)
	if err != nil {
		return fmt.Errorf("MUNGE credential does not unarmor: %w", err)
	}
	if len(raw) < 5 || raw[0] != munge.Version {
		return fmt.Errorf("MUNGE credential header % x is not version %d", raw[:min(len(raw), 5)], munge.Version)
	}
	if key == nil {
		return nil
	}
	client := munge.Client{UID: want.UID, GID: want.GID}
	if want.RestrictUID != munge.UIDAny {
		client.UID = want.RestrictUID
	}
	if want.RestrictGID != munge.GIDAny {
		client.GID = want.RestrictGID
	}
	c, err := munge.Decode(key, text, now, client)
	if err != nil {
		return fmt.Errorf("the MUNGE credential does not decode with the munge key: %w", err)
	}
	var diffs []string
	if c.UID != want.UID || c.GID != want.GID {
		diffs = append(diffs, fmt.Sprintf("uid %d gid %d (want %d %d)", c.UID, c.GID, want.UID, want.GID))
	}
	if c.TTL != min(want.TTL, munge.MaxTTL) {
		diffs = append(diffs, fmt.Sprintf("TTL %d (want %d)", c.TTL, want.TTL))
	}
	if !bytes.Equal(c.Payload, want.Payload) {
		diffs = append(diffs, fmt.Sprintf("a payload of %d bytes %.32q (want %d bytes %.32q)", len(c.Payload), c.Payload, len(want.Payload), want.Payload))
	}
	if c.RestrictUID != want.RestrictUID {
		diffs = append(diffs, fmt.Sprintf("restrict uid %s (want %s)", restriction(c.RestrictUID), restriction(want.RestrictUID)))
	}
	if c.RestrictGID != want.RestrictGID {
		diffs = append(diffs, fmt.Sprintf("restrict gid %s (want %s)", restriction(c.RestrictGID), restriction(want.RestrictGID)))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the MUNGE credential carries %s", strings.Join(diffs, ", "))
	}
	return nil
}

func restriction(id uint32) string {
	if id == munge.UIDAny {
		return "any"
	}
	return fmt.Sprint(id)
}

// AuthMunge is auth/munge (plugin_id 101) of one release.
type AuthMunge struct {
	Release Release
	// MultipleSlurmd: the plugin was built with MULTIPLE_SLURMD, as
	// Debian's is, and verify accepts a credential munged reports as
	// replayed.
	MultipleSlurmd bool
}

// Body is what auth_p_pack writes: packstr of the credential string.
func (m AuthMunge) Body(text string) []byte {
	var e pack.Encoder
	e.Str(text)
	return e.Bytes()
}

// Unpack reads a body as auth_p_unpack does: safe_unpackstr_malloc up to
// 22.05 (bounded by MAX_ARRAY_LEN_SMALL until 21.08.5, no NUL check), a
// NUL-checked string from 23.02. It returns the credential string and the
// bytes consumed.
func (m AuthMunge) Unpack(body []byte) (string, int, error) {
	d := pack.NewDecoder(body, m.Release.Rules())
	var s *string
	var err error
	if m.Release.AtLeast(23, 2) {
		s, err = d.Str()
	} else {
		s, err = d.StrMalloc()
	}
	if err != nil {
		return "", 0, err
	}
	if s == nil {
		return "", d.Offset(), fmt.Errorf("auth/munge body carries a NULL credential string")
	}
	return *s, d.Offset(), nil
}

// CheckBody checks a packed body: one packstr (length including the NUL,
// the NUL written, nothing after it) of a MUNGE credential; with the munge
// key, a credential carrying want. Without the key only the structure is
// checked.
func (m AuthMunge) CheckBody(body []byte, key *munge.Key, want MungeExpect, now time.Time) error {
	text, n, err := m.Unpack(body)
	switch {
	case err != nil:
		return fmt.Errorf("auth/munge body is not one packstr: %w", err)
	case n != len(body):
		return fmt.Errorf("auth/munge body has %d bytes after its packstr", len(body)-n)
	case body[len(body)-1] != 0 || len(text)+5 != len(body):
		return fmt.Errorf("auth/munge body's string is not NUL-terminated exactly at its end (packstr writes strlen+1 bytes)")
	}
	return checkText(text, key, want, now)
}

// Verdict is what a munge plugin's verify decides about one credential.
type Verdict struct {
	OK bool
	// Cred is what munged decoded; nil when it refused the credential
	// outright (munged returns it with expired, rewound and replayed).
	Cred *munge.Cred
	// Code is munged's answer.
	Code munge.Code
	Why  string
}

// Verify predicts auth_p_verify for a credential string: munged's decode
// (dec carries the key and the replay memory of the plugin's munged), the
// replay exception of MULTIPLE_SLURMD builds, and from 23.02 the refusal
// of uid or gid SLURM_AUTH_NOBODY. client is the verifying process.
func (m AuthMunge) Verify(dec *munge.Decoder, text string, now time.Time, client munge.Client) Verdict {
	c, err := dec.Decode(text, now, client)
	v := Verdict{Cred: c, Code: munge.CodeOf(err)}
	switch {
	case v.Code == munge.CredReplayed && m.MultipleSlurmd:
		v.OK, v.Why = true, "replayed, which a MULTIPLE_SLURMD build accepts"
	case v.Code != munge.Success:
		v.Why = "munged: " + err.Error()
	case m.Release.AtLeast(23, 2) && (c.UID == Nobody || c.GID == Nobody):
		v.Why = "uid or gid is SLURM_AUTH_NOBODY, which verify refuses from 23.02"
	default:
		v.OK, v.Why = true, "munged decodes it"
	}
	return v
}

// cred/munge's own error codes (cred_munge.c, ESIG_*).
const (
	ESigBufDataMismatch = 5000
	ESigBufSizeMismatch = 5001
	ESigBadUserID       = 5002
	ESigCredReplayed    = 5003
)

// CredMunge is cred/munge of the key API (19.05 to 23.02).
type CredMunge struct {
	Release Release
	// SlurmUser is slurm.conf's SlurmUser: with root, the only uid whose
	// signatures verify_sign accepts.
	SlurmUser uint32
	// ReplayAllowed: a replayed signature verifies (MULTIPLE_SLURMD builds
	// such as Debian's, or replay_okay where verify_sign has it).
	ReplayAllowed bool
}

// SignatureText returns the credential string of a signature as sign makes
// it: the string and its NUL, sig_size = strlen + 1.
func (m CredMunge) SignatureText(sig []byte) (string, error) {
	i := bytes.IndexByte(sig, 0)
	switch {
	case i < 0:
		return "", fmt.Errorf("signature of %d bytes has no NUL: verify_sign hands it to munge_decode as a C string", len(sig))
	case i != len(sig)-1:
		return "", fmt.Errorf("signature of %d bytes has its NUL at %d, not at its end (sig_size is strlen + 1)", len(sig), i)
	}
	return string(sig[:i]), nil
}

// CheckSignature checks a signature sign made for buf: the string and its
// NUL; with the munge key a credential from want's identity whose payload
// is buf, restricted to want's uid (SlurmdUser).
func (m CredMunge) CheckSignature(sig []byte, key *munge.Key, want MungeExpect, now time.Time) error {
	text, err := m.SignatureText(sig)
	if err != nil {
		return err
	}
	return checkText(text, key, want, now)
}

// Verify predicts cred_p_verify_sign: 0 when it accepts, else the code it
// returns: munged's error number, or an ESIG_* code for a replay (when not
// allowed), a signer other than SlurmUser or root, or a payload that is not
// buf.
func (m CredMunge) Verify(dec *munge.Decoder, buf []byte, text string, now time.Time, client munge.Client) (int, string) {
	c, err := dec.Decode(text, now, client)
	switch code := munge.CodeOf(err); {
	case code == munge.CredReplayed && !m.ReplayAllowed:
		return ESigCredReplayed, "replayed"
	case code != munge.Success && code != munge.CredReplayed:
		return int(code), "munged: " + err.Error()
	}
	switch {
	case c.UID != m.SlurmUser && c.UID != 0:
		return ESigBadUserID, fmt.Sprintf("signed by uid %d, neither SlurmUser (%d) nor root", c.UID, m.SlurmUser)
	case len(c.Payload) != len(buf):
		return ESigBufSizeMismatch, fmt.Sprintf("payload of %d bytes for a %d-byte buffer", len(c.Payload), len(buf))
	case !bytes.Equal(c.Payload, buf):
		return ESigBufDataMismatch, "payload differs from the buffer"
	}
	return 0, "munged decodes it, from an allowed signer, for this buffer"
}

// CredNone is cred/none of the key API: the signature is a constant.
type CredNone struct{}

// FakeSignature is cred/none's signature: sig_size is its strlen, 14, and
// no NUL is part of it.
const FakeSignature = "fake signature"

// ESigInvalid is cred/none's rejection ("Invalid signature").
const ESigInvalid = 5000

// Signature is what sign returns for any buffer.
func (CredNone) Signature() []byte { return []byte(FakeSignature) }

// Verify predicts cred_p_verify_sign: xstrncmp(signature, "fake
// signature", sig_size). The buffer is never looked at; only the first
// sig_size bytes of the signature are compared, so an empty signature
// passes.
func (CredNone) Verify(buf, sig []byte) int {
	_ = buf
	const s = FakeSignature + "\x00"
	for i := 0; i < len(sig); i++ {
		var want byte
		if i < len(s) {
			want = s[i]
		}
		if sig[i] != want {
			return ESigInvalid
		}
		if want == 0 {
			break
		}
	}
	return 0
}
