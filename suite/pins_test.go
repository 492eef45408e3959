package suite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

// recorder is a reporter that keeps what it is told.
type recorder struct{ logs, errors []string }

func (r *recorder) Helper() {}
func (r *recorder) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestPinsOfAnotherBuild runs a real plugin against a pin file made on
// another Debian build of it, as a clone without the snapshot does after
// Debian moved: the differences are reported with both builds and do not
// fail, unless PLUGINCHECK_REQUIRE_PINS asks for exact pins; a pin made on
// the machine's own build fails on any difference.
func TestPinsOfAnotherBuild(t *testing.T) {
	t.Parallel()
	rel := testenv.Release(t, "22.05")
	name := rel + "/auth_none"
	cfg := suite.Config{Plugin: testenv.Need(t, "plugin", filepath.Join(testenv.PluginDir(t, rel), "auth_none.so"))}
	realAuthSetup(t, "auth_none", &cfg)
	s, err := suite.Run(cfg, suite.RunOptions{NoColor: true, Quiet: true})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	got := findings(name, s)
	have := testenv.PackageVersion(t, rel, testenv.BasePackage)
	// The other build's findings: the first of this run's is gone, and one
	// this run does not have was there.
	other := name + " AUTH-IDS FAILED"
	pinFile := func(build string) expectedFindings {
		path := filepath.Join(t.TempDir(), "pins.txt")
		text := "# a pin file of another build\npin " + name + " " + build + "\n" + strings.Join(append(got[1:], other), "\n") + "\n"
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return readFindings(t, path)
	}
	for _, c := range []struct {
		what       string
		build      string
		require    bool
		wantErrors bool
	}{
		{"another build", "22.05.8-1~older1", false, false},
		{"another build, PLUGINCHECK_REQUIRE_PINS=1", "22.05.8-1~older1", true, true},
		{"this machine's build", have, false, true},
	} {
		rec := &recorder{}
		policy := pinPolicy{version: func(string) string { return have }, require: c.require}
		policy.check(rec, "pins.txt", pinFile(c.build), []string{name}, got)
		report := strings.Join(append(rec.logs, rec.errors...), "\n")
		if (len(rec.errors) > 0) != c.wantErrors {
			t.Errorf("%s: errors %q, want errors: %v", c.what, rec.errors, c.wantErrors)
		}
		for _, want := range []string{"new finding (not in pins.txt): " + got[0], "finding vanished (pinned in pins.txt): " + other} {
			if !strings.Contains(report, want) {
				t.Errorf("%s: the report lacks %q:\n%s", c.what, want, report)
			}
		}
		if c.build != have && (!strings.Contains(report, have) || !strings.Contains(report, c.build)) {
			t.Errorf("%s: the report does not name both builds (%s, %s):\n%s", c.what, have, c.build, report)
		}
	}
}
