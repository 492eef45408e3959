package suite_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

var update = flag.Bool("update", false, "rewrite the expected-findings files from this run")

// logFindings puts a run's clauses that did not pass, with their reasons,
// in the test's log: a finding that differs from the pins says why.
func logFindings(t *testing.T, s *suite.Summary) {
	for _, c := range s.Clauses {
		if c.Result != suite.Passed {
			t.Logf("%s %s: %s", c.ID, c.Result, c.Reason)
		}
	}
}

// findings lists a summary's clauses that did not pass, one line each:
// "<name> <CLAUSE> <result>", then the verdict line.
func findings(name string, s *suite.Summary) []string {
	var out []string
	for _, c := range s.Clauses {
		if c.Result != suite.Passed {
			out = append(out, fmt.Sprintf("%s %s %s", name, c.ID, strings.ReplaceAll(string(c.Result), " ", "-")))
		}
	}
	verdict := "conformant"
	if !s.Conformant {
		verdict = "not-conformant"
		if s.Complete {
			verdict += " complete"
		}
	}
	return append(out, fmt.Sprintf("%s verdict %s", name, verdict))
}

// compareFindings checks got against the lines for these names in an
// expected file (one finding a line, # comments), or rewrites them with
// -update. Names of real plugins ("24.11.5/cred_none") are pinned to the
// Debian build they were recorded on (a "pin" line); see pinPolicy.
func compareFindings(t *testing.T, file string, names []string, got []string) {
	t.Helper()
	path := filepath.Join("testdata", file)
	exp := readFindings(t, path)
	policy := pinPolicy{version: func(name string) string { return buildOf(t, name) }, require: testenv.RequirePins()}
	if *update {
		writeFindings(t, path, exp.update(names, got, policy.version))
		return
	}
	policy.check(t, path, exp, names, got)
}

// reporter is the part of testing.TB the comparison reports through, so a
// test can watch what it would report.
type reporter interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
}

// pinPolicy decides how strictly a real plugin's findings are compared.
// When the machine has the build a plugin's findings were pinned on, every
// difference fails. On another build (a clone without the snapshot, after
// Debian moved) the plugin must still have run through every clause — the
// caller checked that — and the differences are printed with both builds;
// they fail only when require is set (PLUGINCHECK_REQUIRE_PINS=1, as CI
// runs, always on the snapshot).
type pinPolicy struct {
	version func(name string) string // the build this machine has; "" for fixtures
	require bool
}

func (p pinPolicy) check(r reporter, path string, exp expectedFindings, names, got []string) {
	r.Helper()
	gotBy, wantBy := byName(got), byName(exp.lines)
	for _, name := range names {
		have, pinned := p.version(name), exp.pins[name]
		var diffs []string
		wantSet, gotSet := set(wantBy[name]), set(gotBy[name])
		for _, l := range gotBy[name] {
			if !wantSet[l] {
				diffs = append(diffs, "new finding (not in "+path+"): "+l)
			}
		}
		for _, l := range wantBy[name] {
			if !gotSet[l] {
				diffs = append(diffs, "finding vanished (pinned in "+path+"): "+l)
			}
		}
		switch {
		case len(diffs) == 0:
		case have == pinned:
			for _, d := range diffs {
				r.Errorf("%s", d)
			}
		case incomplete(diffs) != "":
			// Whatever build it is, the tool must get through every clause.
			r.Errorf("%s (Debian build %s, pinned on %s): a clause the tool did not complete: %s", name, orNone(have), orNone(pinned), incomplete(diffs))
		case p.require:
			r.Errorf("%s: this machine has Debian build %s, the findings were pinned on %s; PLUGINCHECK_REQUIRE_PINS is set, so these differences fail:\n  %s\n"+
				"Re-pin with `go test ./suite -run TestReal -update`, then check each change against the plugin's source and explain it in docs/real-plugins.md.",
				name, orNone(have), orNone(pinned), strings.Join(diffs, "\n  "))
		default:
			r.Logf("%s: this machine has Debian build %s, the findings were pinned on %s; %d difference(s), not failing (set PLUGINCHECK_REQUIRE_PINS=1 to fail):\n  %s",
				name, orNone(have), orNone(pinned), len(diffs), strings.Join(diffs, "\n  "))
		}
	}
}

// incomplete returns the first new "not-tested" finding among diffs: a
// clause the tool could not complete on this build.
func incomplete(diffs []string) string {
	for _, d := range diffs {
		if strings.HasPrefix(d, "new finding") && strings.HasSuffix(d, " not-tested") {
			return d
		}
	}
	return ""
}

func orNone(v string) string {
	if v == "" {
		return "(none recorded)"
	}
	return v
}

// buildOf is the Debian build of a real plugin's release ("24.11.5/cred_none"
// → "24.11.5-4+deb13u1"), or "" for a fixture.
func buildOf(t testing.TB, name string) string {
	release, _, ok := strings.Cut(name, "/")
	if !ok {
		return ""
	}
	return testenv.PackageVersion(t, release, testenv.BasePackage)
}

// expectedFindings is an expected-findings file: finding lines, the pin of
// each real plugin ("pin 24.11.5/cred_none 24.11.5-4+deb13u1") and comments.
type expectedFindings struct {
	lines    []string
	pins     map[string]string
	comments []string
}

// update replaces the findings and pins of names by got and the builds they
// were found on.
func (e expectedFindings) update(names, got []string, version func(string) string) expectedFindings {
	own := set(names)
	out := expectedFindings{pins: map[string]string{}, comments: e.comments}
	for _, l := range e.lines {
		if !own[strings.Fields(l)[0]] {
			out.lines = append(out.lines, l)
		}
	}
	out.lines = append(out.lines, got...)
	for n, v := range e.pins {
		out.pins[n] = v
	}
	for _, n := range names {
		if v := version(n); v != "" {
			out.pins[n] = v
		} else {
			delete(out.pins, n)
		}
	}
	return out
}

func byName(lines []string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lines {
		n := strings.Fields(l)[0]
		m[n] = append(m[n], l)
	}
	return m
}

func set(lines []string) map[string]bool {
	m := map[string]bool{}
	for _, l := range lines {
		m[l] = true
	}
	return m
}

func readFindings(t *testing.T, path string) expectedFindings {
	e := expectedFindings{pins: map[string]string{}}
	f, err := os.Open(path)
	if os.IsNotExist(err) && *update {
		e.comments = []string{"# Generated by go test -update; every line is explained in docs/real-plugins.md."}
		return e
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch f := strings.Fields(line); {
		case line == "":
		case strings.HasPrefix(line, "#"):
			e.comments = append(e.comments, line)
		case f[0] == "pin" && len(f) == 3:
			e.pins[f[1]] = f[2]
		default:
			e.lines = append(e.lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// writeFindings writes the pins first, then the findings, each sorted.
func writeFindings(t *testing.T, path string, e expectedFindings) {
	var pins []string
	for n, v := range e.pins {
		pins = append(pins, "pin "+n+" "+v)
	}
	sort.Strings(pins)
	sort.Strings(e.lines)
	var b strings.Builder
	for _, part := range [][]string{e.comments, pins, e.lines} {
		for _, l := range part {
			b.WriteString(l + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
