// Package profile describes the Slurm auth and cred plugin APIs as data: one
// Profile per API generation, with the symbols the framework of that generation
// looks up, the C signature of each function, and the release facts (protocol
// versions, errno handling, buf_t and xfree forms) that a loader needs.
//
// Nothing in here calls plugin code. The tables follow
// shared/research/slurm-abi.md §1–§7; specs and facades read them instead of
// testing release numbers themselves.
package profile

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Slurm release, major.minor.micro, as encoded in
// SLURM_VERSION_NUMBER and in a plugin's plugin_version symbol.
type Version struct{ Major, Minor, Micro uint8 }

// VersionFromNumber decodes a SLURM_VERSION_NUMBER ((major<<16)|(minor<<8)|micro).
func VersionFromNumber(n uint32) Version {
	return Version{uint8(n >> 16), uint8(n >> 8), uint8(n)}
}

// ParseVersion reads "22.05.8" (a trailing "-1" or other suffix after the
// micro number is ignored).
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q is not major.minor.micro", s)
	}
	micro := parts[2]
	if i := strings.IndexFunc(micro, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		micro = micro[:i]
	}
	var v [3]uint8
	for i, p := range []string{parts[0], parts[1], micro} {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return Version{}, fmt.Errorf("version %q: %w", s, err)
		}
		v[i] = uint8(n)
	}
	return Version{v[0], v[1], v[2]}, nil
}

// Number is the SLURM_VERSION_NUMBER encoding of v.
func (v Version) Number() uint32 {
	return uint32(v.Major)<<16 | uint32(v.Minor)<<8 | uint32(v.Micro)
}

func (v Version) String() string { return fmt.Sprintf("%02d.%02d.%d", v.Major, v.Minor, v.Micro) }

// Series is the release series (major.minor) of v, e.g. "22.05".
func (v Version) Series() string { return fmt.Sprintf("%02d.%02d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(w Version) bool { return v.Number() < w.Number() }

// Range is an inclusive range of releases. A zero To means "and every later
// release".
type Range struct{ From, To Version }

// Contains reports whether v lies in r.
func (r Range) Contains(v Version) bool {
	if v.Less(r.From) {
		return false
	}
	return r.To == (Version{}) || !r.To.Less(v)
}

func (r Range) String() string {
	to := r.To.String()
	if r.To.Micro == last {
		to = r.To.Series() + ".x"
	}
	switch {
	case r.To == (Version{}):
		return r.From.String() + "+"
	case r.From == r.To:
		return r.From.String()
	case r.From.Micro == 0 && r.To.Micro == last && r.From.Series() == r.To.Series():
		return to
	default:
		return r.From.String() + "–" + to
	}
}

func v(major, minor, micro uint8) Version { return Version{major, minor, micro} }

// last is the highest micro release a range may name; series end there.
const last = 255
