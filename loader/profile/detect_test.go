package profile

import (
	"strings"
	"testing"
)

func set(p *Profile, drop []string, add ...string) map[string]bool {
	m := map[string]bool{}
	for _, s := range p.Symbols() {
		m[s] = true
	}
	for _, s := range drop {
		delete(m, s)
	}
	for _, s := range add {
		m[s] = true
	}
	return m
}

func ver(s string) *Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return &v
}

func TestDetect(t *testing.T) {
	cases := []struct {
		name    string
		kind    Kind
		symbols map[string]bool
		version *Version
		want    *Profile
		exact   bool
		agree   bool
		note    string
	}{
		{"every auth generation by its own symbols and version", Auth, set(Gen2205, nil), ver("22.05.8"), Gen2205, true, true, ""},
		{"destroy's return type is not in the symbols: version decides", Auth, set(Gen2302, nil), ver("23.02.7"), Gen2302, true, true, ""},
		{"Debian 20.11.4 with the 20.11.9 backport", Auth, set(Gen2011, nil), ver("20.11.4"), Gen2011, true, false, "backport within the 20.11 series"},
		{"symbols of one series, version of another", Auth, set(Gen2311, nil), ver("22.05.8"), Gen2311, true, false, "belongs to 22.05"},
		{"no plugin_version", Auth, set(Gen1905, []string{"plugin_version"}), nil, Gen1905, true, false, "symbols alone"},
		{"a missing function", Auth, set(Gen2605, []string{"auth_p_get_time"}), ver("26.05.5"), Gen2605, false, false, "missing auth_p_get_time"},
		{"a foreign function", Auth, set(Gen2411, nil, "auth_p_get_uid"), ver("24.11.5"), Gen2411, false, false, "not in that generation: auth_p_get_uid"},
		{"cred replay form by version", Cred, set(GenCredKey, nil), ver("22.05.11"), GenCredKeyReplay, true, true, ""},
		{"cred key form", Cred, set(GenCredKey, nil), ver("22.05.8"), GenCredKey, true, true, ""},
		{"cred 23.11 API", Cred, set(GenCred2311, nil), ver("24.11.5"), GenCred2311, true, true, ""},
		{"cred 26.05.5 sbcast_p_unpack by version", Cred, set(GenCred2311, nil), ver("26.05.5"), GenCred2311SO, true, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Detect(c.kind, c.symbols, c.version)
			if d.Profile != c.want || d.Exact() != c.exact || d.Agree() != c.agree {
				t.Errorf("got %s exact=%v agree=%v (%s); want %s exact=%v agree=%v",
					d.Profile, d.Exact(), d.Agree(), d.Note, c.want, c.exact, c.agree)
			}
			if !strings.Contains(d.Note, c.note) {
				t.Errorf("note %q does not say %q", d.Note, c.note)
			}
		})
	}
}

// Every non-seed generation is told apart from all others by symbols, or,
// where the symbols are equal, by the release ranges.
func TestGenerationsAreDistinguishable(t *testing.T) {
	for _, kind := range []Kind{Auth, Cred} {
		for _, p := range All(kind) {
			if p.Seed {
				continue
			}
			for _, r := range p.Releases {
				d := Detect(kind, set(p, nil), &r.From)
				if d.Profile != p || !d.Agree() {
					t.Errorf("%s at %s detected as %s (%s)", p.Name, r.From, d.Profile, d.Note)
				}
			}
		}
	}
}

func TestVersion(t *testing.T) {
	v := VersionFromNumber(0x160508)
	if v.String() != "22.05.8" || v.Number() != 0x160508 || v.Series() != "22.05" {
		t.Errorf("0x160508 → %v", v)
	}
	if w, err := ParseVersion("20.11.7-2"); err != nil || w != (Version{20, 11, 7}) {
		t.Errorf("ParseVersion = %v, %v", w, err)
	}
	if s := SeriesOf(Version{22, 5, 8}); s == nil || s.Protocol != 0x2600 || len(s.ProtocolVersions()) != 3 {
		t.Errorf("22.05 series: %+v", s)
	}
}
