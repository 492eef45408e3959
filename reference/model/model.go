// Package model holds reference models of Slurm's built-in auth and cred
// plugins: what each one writes on the wire, per release where it matters,
// and what each one accepts. The suite compares real plugins with them
// (AUTH-WIRE, ORACLE-MUNGE), and the contract state machine
// (reference/contract) takes the plugins' documented semantics from here.
//
//   - auth/none: body u32 uid, u32 gid, packstr(short host name); 19.05 and
//     20.02 leave the host out at protocol versions before 19.05's.
//   - auth/munge: body packstr(MUNGE credential) whose payload is create's
//     data, restricted to r_uid, with the AuthInfo TTL; verify accepts what
//     munged accepts (replays too in MULTIPLE_SLURMD builds such as
//     Debian's), and from 23.02 refuses uid or gid SLURM_AUTH_NOBODY.
//   - auth/jwt: body packstr(token) packstr(username), the token an HS256
//     JWT with exp, iat and sun (or username) claims.
//   - cred/none: the signature is the 14 bytes "fake signature", no NUL;
//     verify compares only the signature, never the data.
//   - cred/munge: the signature is a MUNGE credential plus its NUL whose
//     payload is the signed buffer, restricted to SlurmdUser; verify
//     accepts it from SlurmUser or root with the same buffer.
//
// Sources: shared/research/slurm-abi.md §4 and §5, munge-and-loader.md §3
// to §5, each checked against the Debian builds (see real_test.go).
package model

import "github.com/plugincheck/plugincheck/reference/pack"

// Release is a Slurm release series, e.g. {22, 5}.
type Release struct{ Major, Minor int }

// AtLeast reports whether r is major.minor or later.
func (r Release) AtLeast(major, minor int) bool {
	return r.Major > major || r.Major == major && r.Minor >= minor
}

// Rules are the unpack rules of the series' maintained releases.
func (r Release) Rules() pack.Rules { return pack.RulesFor(r.Major, r.Minor) }

// Protocol1905 is SLURM_19_05_PROTOCOL_VERSION: 19.05 and 20.02 pack the
// auth/none host name only for peers at this version or later.
const Protocol1905 = 0x2200

// Nobody is SLURM_AUTH_NOBODY, the uid and gid of an unverified credential.
const Nobody = 99

// Identity is who a credential says created it.
type Identity struct{ UID, GID uint32 }
