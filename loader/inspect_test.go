package loader_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/loader"
)

// wantGeneration is what the real Debian plugins implement. Debian's 20.11.4
// carries the CVE-2022-29500 backport: its auth plugins have the 20.11.9 API.
// Debian's 22.05.8-4+deb12u3 carries the CVE-2023-49938 backport: its host
// library passes replay_okay to verify_sign, so its cred plugins are called
// in the replay form (loader.ReadVerifySignForm).
var wantGeneration = map[string]map[string]string{
	"20.11": {"auth": "20.11.9", "cred": "cred-key"},
	"22.05": {"auth": "22.05", "cred": "cred-key-replay"},
	"24.11": {"auth": "24.11", "cred": "cred-23.11-so"},
	"26.05": {"auth": "26.05", "cred": "cred-23.11-so"},
}

// knownUnresolved are true findings about real plugins: Debian's 20.11
// auth_jwt imports validate_slurm_user, which only the slurmctld and
// slurmdbd executables define, so it resolves in no other process.
var knownUnresolved = map[string]string{
	"20.11/auth_jwt.so": "validate_slurm_user",
}

func TestOpenRealPlugins(t *testing.T) {
	if g := generations(t); len(g) != 4 {
		t.Errorf("Slurm cache has %v, want the four Debian generations", g)
	}
	seen := 0
	for _, rel := range generations(t) {
		series := rel[:5]
		plugins, _ := filepath.Glob(filepath.Join(pluginDir(t, rel), "*_*.so"))
		for _, path := range plugins {
			base := filepath.Base(path)
			if !strings.HasPrefix(base, "auth_") && !strings.HasPrefix(base, "cred_") {
				continue
			}
			seen++
			t.Run(rel+"/"+base, func(t *testing.T) {
				tg, err := loader.Open(path, loader.Options{})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				kind := string(tg.Plugin.Kind())
				if got, want := tg.Profile.Name, wantGeneration[series][kind]; got != want {
					t.Errorf("generation %s, want %s (%s)", got, want, tg.Detection.Note)
				}
				if tg.Plugin.Version == nil || tg.Plugin.Version.String() != rel {
					t.Errorf("plugin_version %v, want %s", tg.Plugin.Version, rel)
				}
				if tg.Host.Version == nil || tg.Host.Version.String() != rel {
					t.Errorf("host version %v, want %s", tg.Host.Version, rel)
				}
				unresolved := strings.Join(tg.Linkage.Unresolved, " ")
				if len(tg.Detection.Missing) > 0 || unresolved != knownUnresolved[series+"/"+base] {
					t.Errorf("missing %v, unresolved %q, want %q", tg.Detection.Missing, unresolved, knownUnresolved[series+"/"+base])
				}
				if ok, why := tg.LoadVerdict(); ok != (unresolved == "") {
					t.Errorf("would load: %v %v", ok, why)
				}
				if series == "20.11" && kind == "auth" && !strings.Contains(tg.Detection.Note, "backport") {
					t.Errorf("20.11.4 auth plugin: note %q does not report the backport", tg.Detection.Note)
				}
				needsSysroot := series >= "24.11"
				if (tg.Host.Sysroot != nil) != needsSysroot {
					t.Errorf("sysroot %v, want one: %v", tg.Host.Sysroot, needsSysroot)
				}
			})
		}
	}
	if seen < 20 {
		t.Errorf("only %d real auth/cred plugins in the cache, want 20 or more", seen)
	}
}
