package loader

import (
	"fmt"
	"strings"

	"github.com/plugincheck/plugincheck/loader/profile"
)

// Options configure how a plugin is found, loaded and run.
type Options struct {
	HostOptions
	// Generation forces an API generation by name ("22.05", "seed-auth", …)
	// instead of detecting it.
	Generation string
}

// Target is a plugin under test together with the host that loads it and
// the API generation it implements, all worked out from files alone.
type Target struct {
	Plugin    *Plugin
	Host      *Host
	Detection *profile.Detection
	// Profile is the generation the facades use: the detected one unless
	// Options.Generation overrode it.
	Profile *profile.Profile
	// Series holds the release facts of plugin_version's series (or the
	// host's when the plugin has none); nil when unknown.
	Series  *profile.Series
	Linkage *Linkage
	// Forms are the argument forms the host library's code passes, where
	// it says; Profile follows them (see Host.HostForms).
	Forms profile.HostForms
	// VerifySignForm is how the host library calls a key-API cred plugin's
	// verify_sign, read from its code (nil when it has no key API or is not
	// x86-64). Where it passes replay_okay, Profile is the replay form.
	VerifySignForm *HostCallForm
}

// Open inspects the plugin at path and finds its host. It fails with an
// *InputError when the plugin cannot be tested at all.
func Open(path string, opts Options) (*Target, error) {
	p, err := InspectPlugin(path)
	if err != nil {
		return nil, err
	}
	h, err := FindHost(p, opts.HostOptions)
	if err != nil {
		return nil, err
	}
	t := &Target{Plugin: p, Host: h}
	t.Detection = profile.Detect(p.Kind(), p.Symbols(), p.Version)
	t.Detection.HostLookups(h.FrameworkLookups(p.Kind()), p.Symbols())
	t.Forms = h.HostForms()
	if p.Kind() == profile.Cred {
		// Debian's 22.05.8 carries the 22.05.11 replay_okay argument.
		if form, err := ReadVerifySignForm(h.Lib.Path); err == nil && form != nil {
			t.VerifySignForm = form
			t.Forms.VerifySignArgs = form.Args()
		}
	}
	// Call the plugin as this host calls it, not as the release's source
	// says: a distribution's backport can change an argument list.
	t.Profile = profile.ForHost(t.Detection.Profile, t.Forms)
	if t.Profile != t.Detection.Profile {
		note := fmt.Sprintf("the host library's code passes %s, so the plugin is called as %s", t.Forms, t.Profile.Name)
		if t.Detection.Note != "" {
			note = t.Detection.Note + "; " + note
		}
		t.Detection.Note = note
	}
	if opts.Generation != "" {
		if t.Profile = profile.ByName(p.Kind(), opts.Generation); t.Profile == nil {
			var names []string
			for _, q := range profile.All(p.Kind()) {
				names = append(names, q.Name)
			}
			return nil, inputErr("", "known: "+strings.Join(names, ", "), "no %s generation named %q", p.Kind(), opts.Generation)
		}
	}
	switch {
	case p.Version != nil:
		t.Series = profile.SeriesOf(*p.Version)
	case h.Version != nil:
		t.Series = profile.SeriesOf(*h.Version)
	}
	t.Linkage = h.Link(p)
	if len(t.Linkage.MissingLibs) > 0 {
		return nil, inputErr(path, "install it or add its directory with --lib-path",
			"needs %s, which is not installed (looked in %s)",
			strings.Join(t.Linkage.MissingLibs, ", "), strings.Join(h.LibraryPath, ":"))
	}
	return t, nil
}

// LoadVerdict says whether Slurm's own loader would accept the plugin on
// this host, and why not, following src/common/plugin.c: it finds the file
// by name, dlopens it, checks plugin_name, plugin_type and plugin_version,
// runs init, then looks up every symbol of its framework (fatal when one
// is missing).
func (t *Target) LoadVerdict() (ok bool, reasons []string) {
	p := t.Plugin
	if want := strings.ReplaceAll(p.Type, "/", "_") + ".so"; !strings.HasSuffix(p.Path, "/"+want) && p.Path != want {
		reasons = append(reasons, fmt.Sprintf("file name should be %s: Slurm finds plugins by file name", want))
	}
	if p.Name == "" {
		reasons = append(reasons, "plugin_name is missing or empty")
	}
	switch {
	case p.Version == nil && t.Series != nil && t.Series.PluginVersionRequired:
		reasons = append(reasons, "plugin_version is missing (required from 22.05)")
	case p.Version != nil && t.Host.Version != nil && p.VersionRaw != t.Host.Version.Number():
		reasons = append(reasons, fmt.Sprintf("plugin_version %s differs from the host's %s: Slurm refuses it", p.Version, t.Host.Version))
	}
	if len(t.Detection.Missing) > 0 {
		reasons = append(reasons, "framework symbols missing (Slurm calls fatal()): "+strings.Join(t.Detection.Missing, ", "))
	}
	if len(t.Linkage.Unresolved) > 0 {
		reasons = append(reasons, "undefined symbols resolve nowhere (a daemon would crash when it first calls them): "+
			strings.Join(t.Linkage.Unresolved, ", "))
	}
	return len(reasons) == 0, reasons
}
