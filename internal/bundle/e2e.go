package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugincheck/plugincheck/internal/e2e"
	"github.com/plugincheck/plugincheck/suite"
)

// E2EJSON is the end-to-end part of a certification: the E2E clauses
// checked in real Slurm daemons of the plugin's release, or why they were
// left out. Bundles of format 2 on hold it; format 1 predates it.
const E2EJSON = "e2e.json"

// formatE2E is the first bundle format with e2e.json.
const formatE2E = 2

// E2ERecord is e2e.json.
type E2ERecord struct {
	// Ran says whether `plugincheck e2e` ran on the plugin; Report holds
	// its verdicts then.
	Ran bool `json:"ran"`
	// LeftOut says why it did not: "--no-e2e", or what was missing (not
	// root, no daemons of the plugin's release). A bundle without the E2E
	// clauses certifies the unit clauses only, and says so.
	LeftOut string `json:"left_out,omitempty"`
	// Command is the e2e run certify made.
	Command []string    `json:"command,omitempty"`
	Report  *e2e.Report `json:"report,omitempty"`
}

// readE2E reads and checks e2e.json: either left out with a reason, or a
// report of the certified plugin with every E2E clause once. It returns
// nil for a bundle of a format before e2e.json.
func readE2E(dir string, rep *Report) (*E2ERecord, error) {
	if _, err := os.Lstat(filepath.Join(dir, E2EJSON)); err != nil {
		if rep.Env.BundleFormat >= formatE2E {
			return nil, invalid(E2EJSON, "missing: certify records the E2E clauses, or why they were left out")
		}
		return nil, nil
	}
	rec := &E2ERecord{}
	if err := readJSON(dir, E2EJSON, rec); err != nil {
		return nil, err
	}
	switch {
	case !rec.Ran && rec.LeftOut == "":
		return nil, invalid(E2EJSON, "neither a report nor why the E2E clauses were left out")
	case !rec.Ran && rec.Report != nil:
		return nil, invalid(E2EJSON, "a report, yet left out (%s)", rec.LeftOut)
	case !rec.Ran:
		return rec, nil
	case rec.Report == nil:
		return nil, invalid(E2EJSON, "ran, but holds no report")
	case rec.Report.Type != rep.Summary.PluginType:
		return nil, invalid(E2EJSON, "plugin_type %q differs from summary.json's %q", rec.Report.Type, rep.Summary.PluginType)
	case filepath.Base(rec.Report.Plugin) != rep.Plugin.File:
		return nil, invalid(E2EJSON, "plugin %q is not the certified file %q", filepath.Base(rec.Report.Plugin), rep.Plugin.File)
	}
	seen := map[string]bool{}
	for _, r := range rec.Report.Results {
		if seen[r.ID] {
			return nil, invalid(E2EJSON, "clause %s listed twice", r.ID)
		}
		seen[r.ID] = true
		switch r.Status {
		case e2e.Passed, e2e.Failed, e2e.NotTested:
		default:
			return nil, invalid(E2EJSON, "clause %s has an unknown result %q", r.ID, r.Status)
		}
	}
	for _, c := range e2e.Clauses {
		if !seen[c.ID] {
			return nil, invalid(E2EJSON, "clause %s is missing: an e2e run reports every E2E clause", c.ID)
		}
	}
	return rec, nil
}

// e2eFailures are the MUST E2E clauses that did not pass: failed, or not
// tested (never counted as passed).
func e2eFailures(rec *E2ERecord) []Failure {
	if rec == nil || !rec.Ran {
		return nil
	}
	must := map[string]bool{}
	for _, c := range e2e.Clauses {
		must[c.ID] = c.Level == "MUST"
	}
	var out []Failure
	for _, r := range rec.Report.Results {
		if (must[r.ID] || r.Level == "MUST") && r.Status != e2e.Passed {
			out = append(out, Failure{Clause: r.ID, Result: suite.Result(r.Status), Reason: firstLine(r.Detail)})
		}
	}
	return out
}

// E2EScope says in one line what the bundle holds of the E2E clauses.
func (r *Report) E2EScope() string {
	rec := r.E2E
	switch {
	case rec == nil:
		return fmt.Sprintf("not recorded (bundle format %d, made before certify ran the E2E clauses)", r.Env.BundleFormat)
	case !rec.Ran:
		return "left out: " + rec.LeftOut + " (the bundle certifies the unit clauses only)"
	}
	counts := map[e2e.Status]int{}
	for _, x := range rec.Report.Results {
		counts[x.Status]++
	}
	var parts []string
	for _, s := range []e2e.Status{e2e.Passed, e2e.Failed, e2e.NotTested} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return fmt.Sprintf("%d clauses in the Slurm %s daemons, %d node(s): %s", len(rec.Report.Results),
		rec.Report.Release, rec.Report.Nodes, strings.Join(parts, ", "))
}
