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
