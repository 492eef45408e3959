package profile

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Detection is the outcome of matching a plugin's exported symbols and its
// plugin_version against the generations of its kind.
type Detection struct {
	// Profile is the generation the suite will use.
	Profile *Profile
	// BySymbols are the generations whose symbol set the plugin exports
	// exactly (more than one when generations differ only in signatures).
	BySymbols []*Profile
	// ByVersion is the generation plugin_version points at, nil when the
	// version is unknown or outside every generation.
	ByVersion *Profile
	// Missing lists the framework symbols of Profile the plugin lacks; Extra
	// the API symbols it exports that Profile does not have. The loader's own
	// symbols (plugin_name, plugin_type, plugin_version, init, fini) are
	// checked by the clauses about them, not here.
	Missing, Extra []string
	// Note explains any disagreement between symbols and version.
	Note string
}

// Exact reports whether the symbol set is exactly that of the chosen
// generation.
func (d *Detection) Exact() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

// Agree reports whether symbols and plugin_version point at the same
// generation.
func (d *Detection) Agree() bool { return d.Exact() && d.ByVersion == d.Profile }

// SameSeries reports whether a disagreement stays inside one release series
// (a distribution backport), which the contract notes rather than fails.
func (d *Detection) SameSeries(ver Version) bool {
	return d.Exact() && d.Profile.coversSeries(ver)
}

func (p *Profile) coversSeries(ver Version) bool {
	for _, r := range p.Releases {
		if r.From.Major == ver.Major && r.From.Minor == ver.Minor ||
			r.To.Major == ver.Major && r.To.Minor == ver.Minor {
			return true
		}
	}
	return false
}

// FrameworkFuncs are the names of the functions a framework of kind looks
// up in some generation, but the loader's own (init, fini).
func FrameworkFuncs(kind Kind) map[string]bool {
	skip := common()
	m := map[string]bool{}
	for _, p := range All(kind) {
		for _, f := range p.Funcs {
			if !f.Optional && !skip[f.Symbol] {
				m[f.Symbol] = true
			}
		}
	}
	return m
}

// HostLookups adds to d the functions the host's framework looks up
// (lookups, read from the host library) that the plugin does not export:
// the host's loader refuses it for them whatever its generation.
func (d *Detection) HostLookups(lookups []string, symbols map[string]bool) {
	var lacking []string
	for _, s := range lookups {
		if !symbols[s] && !slices.Contains(d.Missing, s) {
			lacking = append(lacking, s)
		}
	}
	if len(lacking) == 0 {
		return
	}
	d.Missing = append(d.Missing, lacking...)
	sort.Strings(d.Missing)
	note := fmt.Sprintf("the host library's framework looks up %s, which the plugin does not export: this host's daemons refuse to load it",
		strings.Join(lacking, ", "))
	if d.Note != "" {
		note = d.Note + "; " + note
	}
	d.Note = note
}

// common are the symbols every generation shares; they say nothing about
// which one a plugin implements.
func common() map[string]bool {
	m := map[string]bool{}
	for _, f := range lifecycle {
		m[f.Symbol] = true
	}
	for _, d := range loaderData {
		m[d.Symbol] = true
	}
	return m
}

func apiSet(p *Profile, skip map[string]bool) map[string]bool {
	m := map[string]bool{}
	for _, s := range p.Symbols() {
		if !skip[s] {
			m[s] = true
		}
	}
	return m
}

// Detect picks the generation of a plugin of kind that exports symbols.
// version may be nil when the plugin has no plugin_version. Seed forms are
// never detected; ask for them by name.
func Detect(kind Kind, symbols map[string]bool, version *Version) *Detection {
	skip := common()
	universe := map[string]bool{}
	var candidates []*Profile
	for _, p := range All(kind) {
		if p.Seed {
			continue
		}
		candidates = append(candidates, p)
		for s := range apiSet(p, skip) {
			universe[s] = true
		}
	}
	have := map[string]bool{}
	for s := range symbols {
		if universe[s] {
			have[s] = true
		}
	}

	d := &Detection{}
	if version != nil {
		for _, p := range candidates {
			if p.Covers(*version) {
				d.ByVersion = p
			}
		}
	}
	best, bestDist := (*Profile)(nil), 1<<30
	for _, p := range candidates {
		want := apiSet(p, skip)
		dist := 0
		for s := range want {
			if !have[s] {
				dist++
			}
		}
		for s := range have {
			if !want[s] {
				dist++
			}
		}
		if dist == 0 {
			d.BySymbols = append(d.BySymbols, p)
		}
		if dist < bestDist || dist == bestDist && p == d.ByVersion {
			best, bestDist = p, dist
		}
	}

	switch {
	case containsProfile(d.BySymbols, d.ByVersion):
		d.Profile = d.ByVersion
	case len(d.BySymbols) > 0:
		d.Profile = d.BySymbols[0]
		for _, p := range d.BySymbols {
			if version != nil && p.coversSeries(*version) {
				d.Profile = p
			}
		}
	default:
		d.Profile = best
	}
	d.Missing, d.Extra = diff(d.Profile, symbols, have, skip)
	d.Note = d.explain(version)
	return d
}

func diff(p *Profile, symbols, have, skip map[string]bool) (missing, extra []string) {
	want := apiSet(p, skip)
	for _, s := range p.Required() {
		if !symbols[s] && !skip[s] {
			missing = append(missing, s)
		}
	}
	for s := range have {
		if !want[s] {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	return missing, extra
}

func containsProfile(ps []*Profile, p *Profile) bool {
	for _, q := range ps {
		if q == p && p != nil {
			return true
		}
	}
	return false
}

func (d *Detection) explain(version *Version) string {
	var b strings.Builder
	if !d.Exact() {
		fmt.Fprintf(&b, "symbol set matches no generation exactly; nearest is %s", d.Profile.Name)
		if len(d.Missing) > 0 {
			fmt.Fprintf(&b, " (missing %s)", strings.Join(d.Missing, ", "))
		}
		if len(d.Extra) > 0 {
			fmt.Fprintf(&b, " (not in that generation: %s)", strings.Join(d.Extra, ", "))
		}
		return b.String()
	}
	switch {
	case version == nil:
		return "no plugin_version: generation from symbols alone"
	case d.ByVersion == nil:
		return fmt.Sprintf("plugin_version %s is outside every known %s generation", version, d.Profile.Kind)
	case d.ByVersion != d.Profile && d.SameSeries(*version):
		return fmt.Sprintf("symbols are the %s API although plugin_version %s alone suggests %s: a backport within the %s series",
			d.Profile.Name, version, d.ByVersion.Name, version.Series())
	case d.ByVersion != d.Profile:
		return fmt.Sprintf("symbols are the %s API but plugin_version %s belongs to %s", d.Profile.Name, version, d.ByVersion.Name)
	}
	return ""
}
