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

// Every clause in the registry carries its full text and source, which
// docs/clauses.md gives users (the contract lives in the project).
func TestEveryClauseHasItsText(t *testing.T) {
	for _, c := range Clauses {
		if ct, ok := Contract[c.ID]; !ok || ct.Text == "" || ct.Source == "" {
			t.Errorf("clause %s has no text or source in Contract", c.ID)
		}
	}
	for id, ct := range Contract {
		if strings.Contains(ct.Text, "shared/") {
			t.Errorf("clause %s points users at material they do not have: %s", id, ct.Text)
		}
	}
}
