package suite_test

import (
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

// TestProcsSameResults: the self-validation matrix gives the same results
// with the specs spread over processes (the default) as one after another
// in one process (--procs 1): every clause's and every spec's result and
// reason, the counts and the verdict. The plugins are a fixture whose
// defect only the seeded ORACLE-MODEL finds (the seed must reach the
// spec's process), a cred fixture that warns, and Debian's 22.05
// auth/munge, whose oracle specs need the key of the run's munged.
func TestProcsSameResults(t *testing.T) {
	names := []string{"auth_bad_order.so", "cred_bad_replay.so", "22.05/auth_munge.so"}
	var spread, serial []*pendingRun
	for _, name := range names {
		var cfg suite.Config
		if series, plugin, real := strings.Cut(name, "/"); real {
			cfg = suite.Config{Plugin: testenv.Plugin(t, series, plugin), AuthTTL: 1}
		} else {
			cfg = fixtureConfig(t, name)
		}
		cfg.Seed = 18
		one := quiet
		one.Procs = 1
		spread = append(spread, startRun(cfg, quiet))
		serial = append(serial, startRun(cfg, one))
	}
	t.Parallel()
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			a, b := serial[i].wait(t), spread[i].wait(t)
			if a.Verdict != b.Verdict || a.Counts != b.Counts || a.Seed != b.Seed {
				t.Errorf("--procs 1: %s (seed %d)\ndefault: %s (seed %d)", a.Verdict, a.Seed, b.Verdict, b.Seed)
			}
			if len(a.Clauses) != len(b.Clauses) {
				t.Fatalf("--procs 1 lists %d clauses, the default %d", len(a.Clauses), len(b.Clauses))
			}
			for j, ca := range a.Clauses {
				cb := b.Clauses[j]
				if ca.ID != cb.ID || ca.Result != cb.Result || ca.Reason != cb.Reason || len(ca.Specs) != len(cb.Specs) {
					t.Errorf("--procs 1: %s %s (%s); default: %s %s (%s)", ca.ID, ca.Result, ca.Reason, cb.ID, cb.Result, cb.Reason)
					continue
				}
				for k, sa := range ca.Specs {
					sb := cb.Specs[k]
					if sa.Text != sb.Text || sa.Result != sb.Result || sa.Reason != sb.Reason || (sa.Output == "") != (sb.Output == "") {
						t.Errorf("%s %q: --procs 1 %s (%s), default %s (%s)", ca.ID, sa.Text, sa.Result, sa.Reason, sb.Result, sb.Reason)
					}
				}
			}
			if a.Counts.Failed+a.Counts.Warnings == 0 {
				t.Errorf("%s: nothing failed or warned, so the comparison shows little: %s", name, a.Verdict)
			}
		})
	}
}
