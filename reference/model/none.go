package model

import (
	"fmt"

	"github.com/plugincheck/plugincheck/reference/pack"
)

// AuthNone is auth/none (plugin_id 100) of one release. It has no security
// at all: create records geteuid, getegid and the short host name; verify
// returns success for anything; get_uid/get_gid (get_ids) return the stored
// ids without a verify; get_data returns no data; nothing expires and
// nothing is remembered.
type AuthNone struct{ Release Release }

// NoneCred is what an auth/none body carries. Host is nil for a NULL host
// name (gethostname failed) and for the host-less old-protocol form.
type NoneCred struct {
	Identity
	Host *string
}

// withHost reports whether the body carries the host at protocol pv: from
// 20.11 always, in 19.05 and 20.02 only for peers at 19.05 or later.
func (m AuthNone) withHost(pv uint16) bool {
	return m.Release.AtLeast(20, 11) || pv >= Protocol1905
}

// Body is exactly what auth_p_pack writes for c at protocol version pv
// (the framework's u32 plugin_id before it is not part of the body).
func (m AuthNone) Body(c NoneCred, pv uint16) []byte {
	var e pack.Encoder
	e.U32(c.UID)
	e.U32(c.GID)
	if m.withHost(pv) {
		e.StrPtr(c.Host)
	}
	return e.Bytes()
}

// Unpack reads a body as auth_p_unpack does at protocol version pv and
// returns the credential and the bytes it consumed.
func (m AuthNone) Unpack(body []byte, pv uint16) (NoneCred, int, error) {
	d := pack.NewDecoder(body, m.Release.Rules())
	var c NoneCred
	var err error
	if c.UID, err = d.U32(); err != nil {
		return NoneCred{}, 0, err
	}
	if c.GID, err = d.U32(); err != nil {
		return NoneCred{}, 0, err
	}
	if m.withHost(pv) {
		if c.Host, err = d.Str(); err != nil {
			return NoneCred{}, 0, err
		}
	}
	return c, d.Offset(), nil
}

// Check compares a packed body with the one auth/none would write for want
// at pv, field by field; nil when they are equal.
func (m AuthNone) Check(body []byte, want NoneCred, pv uint16) error {
	exp := m.Body(want, pv)
	if string(body) == string(exp) {
		return nil
	}
	got, n, err := m.Unpack(body, pv)
	switch {
	case err != nil:
		return fmt.Errorf("auth/none body % x does not parse as u32 uid, u32 gid, packstr(host): %w", body, err)
	case got.UID != want.UID || got.GID != want.GID:
		return fmt.Errorf("auth/none body carries uid %d gid %d; the creating process is uid %d gid %d", got.UID, got.GID, want.UID, want.GID)
	case strp(got.Host) != strp(want.Host):
		return fmt.Errorf("auth/none body carries host %s; want the short host name %s", strp(got.Host), strp(want.Host))
	case n != len(body):
		return fmt.Errorf("auth/none body has %d bytes after the fields (% x)", len(body)-n, body[n:])
	}
	return fmt.Errorf("auth/none body % x differs from the model's % x", body, exp)
}

func strp(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}
