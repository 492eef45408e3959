package suite_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/suite"
)

// clause returns one clause's result from a summary.
func clause(t *testing.T, s *suite.Summary, id string) suite.ClauseResult {
	t.Helper()
	for _, c := range s.Clauses {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no clause %s in the summary", id)
	return suite.ClauseResult{}
}

func runOracle(t *testing.T, cfg suite.Config, filter string) *suite.Summary {
	t.Helper()
	s, err := suite.Run(cfg, suite.RunOptions{LabelFilter: filter, NoColor: true, Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var shrunk = regexp.MustCompile(`a sequence of (\d+) steps, shrunk to (\d+) in (\d+) runs`)

// ORACLE-MODEL finds auth_bad_order's defect, which no other spec sees,
// and shrinks it to at most six steps whatever the seed; the same seed
// gives the same sequence.
func TestOracleModelShrinksBadOrder(t *testing.T) {
	lib := testenv.Plugin(t, "22.05", "libslurmfull.so")
	plugin := testenv.Fixture(t, "auth_bad_order.so")
	seeds := []int64{1, 2, 3, 1}
	var runs []*pendingRun
	for _, seed := range seeds {
		runs = append(runs, startRun(suite.Config{Plugin: plugin, AuthTTL: 1, Seed: seed,
			Loader: loader.Options{HostOptions: loader.HostOptions{SlurmLib: lib}}},
			suite.RunOptions{LabelFilter: "ORACLE-MODEL", NoColor: true, Quiet: true}))
	}
	t.Parallel()
	var first string
	for i, seed := range seeds {
		c := clause(t, runs[i].wait(t), "ORACLE-MODEL")
		if c.Result != suite.Failed {
			t.Fatalf("seed %d: ORACLE-MODEL %s, want FAILED", seed, c.Result)
		}
		m := shrunk.FindStringSubmatch(c.Reason)
		if m == nil || !strings.HasPrefix(c.Reason, "data:") {
			t.Fatalf("seed %d: reason %q", seed, c.Reason)
		}
		if n, _ := strconv.Atoi(m[2]); n > 6 {
			t.Errorf("seed %d: shrunk to %d steps, want at most 6: %s", seed, n, c.Reason)
		}
		t.Logf("seed %d: %s", seed, c.Reason)
		if seed == 1 {
			if first != "" && c.Reason != first {
				t.Errorf("seed 1 twice:\n%s\n%s", first, c.Reason)
			}
			first = c.Reason
		}
	}
}

// The real 22.05 auth/munge and cred/munge agree with their models
// (AUTH-WIRE decodes the credential with the private munged's key), and
// without the key ORACLE-MUNGE is not tested.
func TestOracleRealMunge(t *testing.T) {
	t.Parallel()
	for _, plugin := range []string{"auth_munge.so", "cred_munge.so"} {
		path := testenv.Plugin(t, "22.05", plugin)
		s := runOracle(t, suite.Config{Plugin: path, AuthTTL: 1}, "ORACLE-MODEL || ORACLE-MUNGE || AUTH-WIRE")
		for _, id := range []string{"ORACLE-MUNGE", "ORACLE-MODEL", "AUTH-WIRE"} {
			if strings.HasPrefix(plugin, "cred") && id != "ORACLE-MUNGE" {
				continue
			}
			if c := clause(t, s, id); c.Result != suite.Passed {
				t.Errorf("%s %s: %s (%s)", plugin, id, c.Result, c.Reason)
			}
		}
		// A munged the suite did not start: its key is unknown to the suite.
		d, err := munged.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		s = runOracle(t, suite.Config{Plugin: path, Munged: d.Socket}, "ORACLE-MUNGE")
		d.Stop()
		if c := clause(t, s, "ORACLE-MUNGE"); c.Result != suite.NotTested || !strings.Contains(c.Reason, "munge key is unknown") {
			t.Errorf("%s with --munged SOCKET: ORACLE-MUNGE %s (%s), want not tested", plugin, c.Result, c.Reason)
		}
	}
}
