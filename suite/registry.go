// Package suite holds plugincheck's conformance specs, one or more per clause
// of the contract, and runs them against a plugin: from the plugincheck CLI
// with Run, or from a plugin author's own `go test` with Test.
//
// Specs are registered once, as data (clause, level, kind, area, text, body),
// and turned into a Ginkgo tree for each run. Every spec makes its plugin
// calls in its own worker process, so a crash or a hang fails that spec only.
package suite

import (
	"sort"

	"github.com/plugincheck/plugincheck/loader/profile"
)

// Level is a clause's RFC 2119 level.
type Level string

const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
	May    Level = "MAY"
)

// Area groups clauses for label filters.
type Area string

const (
	Lifecycle   Area = "lifecycle"
	Errno       Area = "errno"
	Wire        Area = "wire"
	Security    Area = "security"
	Robustness  Area = "robustness"
	Oracle      Area = "oracle"
	Performance Area = "performance"
	Metadata    Area = "metadata"
)

// Spec is one check of one clause.
type Spec struct {
	Clause string
	Level  Level
	// Kinds the spec applies to.
	Kinds []profile.Kind
	Area  Area
	// Text says what the spec checks, as Ginkgo shows it.
	Text string
	Body func(c *Ctx)
	// Long says what keeps the spec busy for seconds (a wait, a measuring
	// loop): a run in several processes starts these first, so that the
	// short ones fill the time around them.
	Long string
	// Sleeps is how many credential lifetimes the spec spends waiting,
	// idle: a run in several processes starts the longest sleeper first,
	// each in a process of its own beside the run's --procs, since a
	// process that sleeps leaves its CPU to the others.
	Sleeps int
	// Alone says why the spec must not overlap another spec of the same
	// run; "" when it may. Each spec has its own worker processes, so no
	// spec needs this for its plugin state or heap figures: it is for a
	// spec that measures something the whole machine shares.
	Alone string
}

var registry []*Spec

// register adds a spec at package initialisation.
func register(s Spec) { registry = append(registry, &s) }

// Specs returns every registered spec, ordered by clause then text.
func Specs() []*Spec {
	out := append([]*Spec(nil), registry...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Clause != out[j].Clause {
			return clauseOrder(out[i].Clause) < clauseOrder(out[j].Clause)
		}
		return false
	})
	return out
}

// AppliesTo reports whether the spec concerns plugins of kind k.
func (s *Spec) AppliesTo(k profile.Kind) bool {
	for _, x := range s.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// Labels are the spec's Ginkgo labels: kinds, clause, level and area.
func (s *Spec) Labels() []string {
	var l []string
	for _, k := range s.Kinds {
		l = append(l, string(k))
	}
	return append(l, s.Clause, string(s.Level), string(s.Area))
}

var (
	auth     = []profile.Kind{profile.Auth}
	cred     = []profile.Kind{profile.Cred}
	bothKind = []profile.Kind{profile.Auth, profile.Cred}
)

// clauseOrder sorts clauses as contract.md lists them.
func clauseOrder(clause string) int {
	for i, c := range Clauses {
		if c.ID == clause {
			return i
		}
	}
	return len(Clauses)
}
