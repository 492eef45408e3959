package suite_test

import (
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// TestErrnosDescribed: an errno in a finding is given with its name and
// the host's own description, not as a bare number.
func TestErrnosDescribed(t *testing.T) {
	t.Parallel()
	cfg := suite.Config{
		Plugin: testenv.Fixture(t, "auth_bad_errno0.so"),
		Loader: loader.Options{HostOptions: loader.HostOptions{SlurmLib: testenv.Plugin(t, "22.05", "libslurmfull.so")}},
	}
	s, err := suite.Run(cfg, suite.RunOptions{NoColor: true, Quiet: true, Focus: []string{"LIFE-ERRNO0"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Clauses {
		if c.ID == "LIFE-ERRNO0" {
			if want := `errno 2 ENOENT "No such file or directory"`; !strings.Contains(c.Reason, want) {
				t.Errorf("LIFE-ERRNO0's reason %q does not say %s", c.Reason, want)
			}
			return
		}
	}
	t.Errorf("no LIFE-ERRNO0 in %+v", s.Clauses)
}

// TestPluginOutputKept: a spec that fails or warns keeps the tail of what
// its worker printed (here Debian 22.05 cred/munge's crash in sign with a
// NULL key, a CRED-NULL warning).
func TestPluginOutputKept(t *testing.T) {
	t.Parallel()
	s, err := suite.Run(suite.Config{Plugin: testenv.Plugin(t, "22.05", "cred_munge.so")},
		suite.RunOptions{NoColor: true, Quiet: true, Focus: []string{"CRED-NULL"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Clauses {
		for _, sp := range c.Specs {
			if sp.Result == suite.Warning || sp.Result == suite.Failed {
				if strings.TrimSpace(sp.Output) == "" {
					t.Errorf("%s %q: %s with no plugin output kept", c.ID, sp.Text, sp.Result)
				}
				return
			}
		}
	}
	t.Errorf("no spec warned or failed: %+v", s.Clauses)
}
