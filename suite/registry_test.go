package suite

import (
	"strings"
	"testing"
)

// Every clause of the contract this suite covers has at least one spec, and
// every spec names a known clause with its labels.
func TestEveryClauseHasASpec(t *testing.T) {
	have := map[string]int{}
	for _, s := range Specs() {
		have[s.Clause]++
		if clauseOrder(s.Clause) == len(Clauses) {
			t.Errorf("spec %q names unknown clause %s", s.Text, s.Clause)
		}
		labels := strings.Join(s.Labels(), ",")
		if !strings.Contains(labels, s.Clause) || !strings.Contains(labels, string(s.Level)) || len(s.Kinds) == 0 {
			t.Errorf("spec %q has labels %s", s.Text, labels)
		}
	}
	for _, c := range Clauses {
		if have[c.ID] == 0 {
			t.Errorf("clause %s has no spec", c.ID)
		}
	}
}
