package suite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
)

// SummarySchema is the version of the summary JSON; it changes when a field
// changes meaning or goes away (docs/summary-schema.md).
const SummarySchema = 1

// Result is the outcome of a spec or a clause.
type Result string

const (
	Passed        Result = "passed"
	Failed        Result = "FAILED"
	Warning       Result = "warning"
	NotTested     Result = "not tested"
	NotApplicable Result = "not applicable"
)

// SpecResult is one spec's outcome.
type SpecResult struct {
	Text     string        `json:"text"`
	Level    Level         `json:"level"`
	Result   Result        `json:"result"`
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration_ns"`
	// Output is the tail of what the plugin printed (its workers' stderr,
	// then stdout) in a spec that failed or warned: often the plugin's own
	// account of what went wrong.
	Output string `json:"plugin_output,omitempty"`
}

// ClauseResult is one clause's outcome: the worst of its specs.
type ClauseResult struct {
	ID     string       `json:"id"`
	Level  Level        `json:"level"`
	Result Result       `json:"result"`
	Reason string       `json:"reason,omitempty"`
	Specs  []SpecResult `json:"specs"`
}

// Counts tallies clauses by result.
type Counts struct {
	Passed        int `json:"passed"`
	Failed        int `json:"failed"`
	Warnings      int `json:"warnings"`
	NotTested     int `json:"not_tested"`
	NotApplicable int `json:"not_applicable"`
}

// Summary is a run's verdict, for people and for `--summary-json`.
type Summary struct {
	Schema      int            `json:"schema_version"`
	Plugin      string         `json:"plugin"`
	PluginType  string         `json:"plugin_type"`
	Kind        string         `json:"kind"`
	Version     string         `json:"plugin_version,omitempty"`
	Generation  string         `json:"generation"`
	HostVersion string         `json:"host_version,omitempty"`
	Seed        int64          `json:"seed"`
	Clauses     []ClauseResult `json:"clauses"`
	Counts      Counts         `json:"counts"`
	// Complete: every applicable MUST clause was tested.
	Complete bool `json:"complete"`
	// Conformant: complete, no MUST clause failed, not interrupted, and
	// not a partial run: conformance is claimed only by a whole run.
	Conformant bool `json:"conformant"`
	// Partial: the run's filters (--focus, --skip, --label-filter) left
	// out Omitted clauses of the plugin's kind, which Clauses does not list.
	Partial bool `json:"partial,omitempty"`
	Omitted int  `json:"omitted_clauses,omitempty"`
	// Interrupted: a signal stopped the run; the summary is no verdict
	// (Conformant is false, specs cut short are "not run (interrupted)").
	Interrupted bool `json:"interrupted"`
	// Signal names the signal that interrupted the run ("SIGINT").
	Signal string `json:"signal,omitempty"`
	// Diagnosis is one line that comes first when most clauses fail the
	// same way: the common reason and what the plugin was given.
	Diagnosis string `json:"diagnosis,omitempty"`
	Verdict   string `json:"verdict"`

	signal syscall.Signal
	report types.Report
}

// Exit statuses of a run, the worst of its plugins'; 128+N for a run
// stopped by signal N.
const (
	ExitConformant = 0 // conformant; or a partial run whose selected MUST clauses all passed
	ExitFailed     = 1 // a MUST clause failed
	ExitSetup      = 2 // bad input or setup: no verdict
	ExitIncomplete = 3 // no MUST clause failed, but an applicable one was not tested
)

// ExitCode is plugincheck's exit status for the summary.
func (s *Summary) ExitCode() int {
	switch {
	case s.Interrupted:
		return cleanup.ExitCode(s.signal)
	case s.mustFailed():
		return ExitFailed
	case s.Conformant || s.Partial:
		return ExitConformant
	default:
		return ExitIncomplete
	}
}

func (s *Summary) mustFailed() bool {
	for _, c := range s.Clauses {
		if c.Level == Must && c.Result == Failed {
			return true
		}
	}
	return false
}

// filteredReason is why a spec the run's filters left out did not run.
const filteredReason = "skipped by the run's filters"

// notRunInterrupted is the reason of a spec an interrupt cut short or kept
// from running.
const notRunInterrupted = "not run (interrupted)"

// cutShort reports whether r had not ended when the run was interrupted:
// whatever it says was caused by the interrupt, not by the plugin. Ginkgo
// catches the signal too, and its handler may end the spec ("Interrupted
// by User") a moment before ours records the time: that spec's state says
// it was cut short.
func (rs *runState) cutShort(r types.SpecReport) bool {
	if rs.interrupt == 0 {
		return false
	}
	return r.State == types.SpecStateInterrupted || r.EndTime.IsZero() || !r.EndTime.Before(rs.interruptAt)
}

// WriteGinkgoReports writes Ginkgo's JUnit and JSON reports of the run
// (an empty path writes none).
func (s *Summary) WriteGinkgoReports(junit, jsonReport string) error {
	if junit != "" {
		if err := viaTemp(func(p string) error { return reporters.GenerateJUnitReport(s.report, p) }, junit); err != nil {
			return &loader.InputError{Msg: "--junit-report " + junit + ": " + unwrapPath(err)}
		}
	}
	if jsonReport != "" {
		if err := viaTemp(func(p string) error { return reporters.GenerateJSONReport(s.report, p) }, jsonReport); err != nil {
			return &loader.InputError{Msg: "--json-report " + jsonReport + ": " + unwrapPath(err)}
		}
	}
	return nil
}

// viaTemp has gen write a report into a temporary file, then copies it to
// dst checking every write: Ginkgo's JUnit writer ignores write errors.
// It works after an interrupt too: an interrupted run's reports are
// written.
func viaTemp(gen func(path string) error, dst string) error {
	dir, err := os.MkdirTemp("", cleanup.TempPattern("report"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "report")
	if err := gen(tmp); err != nil {
		return err
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

func specResult(r types.SpecReport) SpecResult {
	sr := SpecResult{Text: r.LeafNodeText, Duration: r.RunTime, Level: May}
	for _, e := range r.ReportEntries {
		if strings.HasSuffix(e.Name, " stderr") || strings.HasSuffix(e.Name, " stdout") {
			sr.Output = strings.TrimSpace(sr.Output + "\n" + e.StringRepresentation())
		}
	}
	for _, l := range r.Labels() {
		if l == string(Must) || l == string(Should) {
			sr.Level = Level(l)
		}
	}
	switch {
	case r.State == types.SpecStatePassed:
		sr.Result = Passed
		for _, e := range r.ReportEntries {
			if e.Name == warningEntry {
				sr.Result, sr.Reason = Warning, reasonOf(e.StringRepresentation())
			}
		}
	case r.State == types.SpecStateSkipped:
		msg := r.Failure.Message
		switch {
		case strings.HasPrefix(msg, notApplicablePrefix):
			sr.Result, sr.Reason = NotApplicable, strings.TrimPrefix(msg, notApplicablePrefix)
		case strings.HasPrefix(msg, notTestedPrefix):
			sr.Result, sr.Reason = NotTested, strings.TrimPrefix(msg, notTestedPrefix)
		default:
			sr.Result, sr.Reason = NotTested, filteredReason
			if msg != "" {
				sr.Reason = msg
			}
		}
	case r.State == types.SpecStatePending:
		sr.Result, sr.Reason = NotTested, "pending"
	default:
		sr.Result, sr.Reason = Failed, reasonOf(r.Failure.Message)
	}
	return sr
}

// reasonOf is the line of a failure message that says what went wrong.
// Gomega's HaveOccurred without an annotation starts with "Unexpected
// error:" and the error's type; the error's text follows.
func reasonOf(msg string) string {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	for i, l := range lines {
		switch strings.TrimSpace(l) {
		case "Unexpected error:", "Expected success, but got an error:":
			errText := errorTextAfter(lines[i+1:])
			switch {
			case errText == "":
				// Nothing after the heading: say what was expected, never
				// end on a colon.
				return strings.TrimSuffix(strings.TrimSpace(lines[0]), ":") + " (no error text)"
			case i == 0:
				return errText
			}
			return strings.TrimSpace(lines[0]) + ": " + errText
		}
	}
	return strings.TrimSpace(lines[0])
}

// errorTextAfter finds the error's own text in what Gomega prints after
// its heading: "<*type | 0x…>: " and then the text, on the same line or
// the next.
func errorTextAfter(lines []string) string {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "<") {
			if i := strings.Index(l, ">:"); i >= 0 {
				l = strings.TrimSpace(l[i+2:])
			}
		}
		if l != "" && l != "{" {
			return l
		}
	}
	return ""
}

// rank orders spec results from best to worst for a clause's aggregate. A
// MUST spec not tested outranks a SHOULD spec's warning: a clause with one
// is incomplete, whatever else it found.
func rank(sr SpecResult) int {
	switch {
	case sr.Result == Failed:
		return 5
	case sr.Result == NotTested && sr.Level == Must:
		return 4
	case sr.Result == Warning:
		return 3
	case sr.Result == NotTested:
		return 2
	case sr.Result == Passed:
		return 1
	}
	return 0
}

func summarize(rs *runState) *Summary {
	t := rs.target
	s := &Summary{
		Schema: SummarySchema, Plugin: t.Plugin.Path, PluginType: t.Plugin.Type,
		Kind: string(t.Plugin.Kind()), Generation: generationOf(t), Seed: rs.report.SuiteConfig.RandomSeed,
	}
	if t.Plugin.Version != nil {
		s.Version = t.Plugin.Version.String()
	}
	if t.Host.Version != nil {
		s.HostVersion = t.Host.Version.String()
	}
	byClause := map[string]*ClauseResult{}
	s.report = rs.report
	if rs.interrupt != 0 {
		s.Interrupted, s.Signal, s.signal = true, cleanup.Name(rs.interrupt), rs.interrupt
	}
	for _, r := range rs.report.SpecReports {
		if r.LeafNodeType != types.NodeTypeIt {
			continue
		}
		id := r.ContainerHierarchyTexts[0]
		cr := byClause[id]
		if cr == nil {
			cr = &ClauseResult{ID: id, Level: levelOf(id)}
			byClause[id] = cr
		}
		sr := specResult(r)
		if rs.cutShort(r) {
			sr.Result, sr.Reason = NotTested, notRunInterrupted
		}
		cr.Specs = append(cr.Specs, sr)
	}
	s.Complete = true
	for _, c := range Clauses {
		cr := byClause[c.ID]
		if cr == nil {
			continue // another kind's clause
		}
		if filteredOut(cr) {
			s.Partial = true
			s.Omitted++
			continue
		}
		sort.Slice(cr.Specs, func(i, j int) bool { return cr.Specs[i].Text < cr.Specs[j].Text })
		aggregate(cr)
		s.Clauses = append(s.Clauses, *cr)
		switch cr.Result {
		case Passed:
			s.Counts.Passed++
		case Failed:
			s.Counts.Failed++
		case Warning:
			s.Counts.Warnings++
		case NotTested:
			s.Counts.NotTested++
			if cr.Level == Must {
				s.Complete = false
			}
		case NotApplicable:
			s.Counts.NotApplicable++
		}
	}
	mustFailed := s.mustFailed()
	s.Conformant = s.Complete && !mustFailed && !s.Partial && !s.Interrupted
	switch {
	case s.Interrupted:
		s.Verdict = "interrupted by " + s.Signal + ", no verdict"
	case s.Partial && mustFailed:
		s.Verdict = fmt.Sprintf("partial run (%d of %d clauses): a selected MUST clause FAILED", len(s.Clauses), len(s.Clauses)+s.Omitted)
	case s.Partial:
		s.Verdict = fmt.Sprintf("partial run (%d of %d clauses): no selected MUST clause failed; conformance is claimed only by a whole run", len(s.Clauses), len(s.Clauses)+s.Omitted)
	case s.Conformant:
		s.Verdict = "conformant"
	case mustFailed:
		s.Verdict = "NOT conformant"
	default:
		s.Verdict = "incomplete: " + untested(s)
	}
	host := "unknown host"
	if s.HostVersion != "" {
		host = "host Slurm " + s.HostVersion
	}
	s.Verdict = fmt.Sprintf("%s: %s for generation %s on %s — %d passed, %d failed, %d warnings, %d not tested, %d not applicable",
		t.Plugin.Type, s.Verdict, t.Profile.Name, host, s.Counts.Passed, s.Counts.Failed, s.Counts.Warnings, s.Counts.NotTested, s.Counts.NotApplicable)
	return s
}

// filteredOut reports a clause none of whose specs the run's filters
// selected.
func filteredOut(cr *ClauseResult) bool {
	for _, sp := range cr.Specs {
		if sp.Reason != filteredReason {
			return false
		}
	}
	return true
}

// untested names the first applicable MUST clause that was not tested, and
// why (the reason names the flag that enables it).
func untested(s *Summary) string {
	for _, c := range s.Clauses {
		if c.Level == Must && c.Result == NotTested {
			return fmt.Sprintf("MUST clause %s was not tested (%s)", c.ID, c.Reason)
		}
	}
	return "a MUST clause was not tested"
}

// aggregate gives a clause the worst result among its specs, passed
// winning over not-tested only when some spec did pass.
func aggregate(cr *ClauseResult) {
	cr.Result = NotApplicable
	worst := 0
	for _, sp := range cr.Specs {
		if r := rank(sp); r > worst {
			worst, cr.Result, cr.Reason = r, sp.Result, sp.Reason
		}
	}
	if cr.Result == NotTested {
		for _, sp := range cr.Specs {
			if sp.Result == Passed {
				cr.Result, cr.Reason = Passed, "some specs not tested: "+cr.Reason
				break
			}
		}
	}
}

func levelOf(id string) Level {
	for _, c := range Clauses {
		if c.ID == id {
			return c.Level
		}
	}
	return May
}

// WriteTable prints the summary as a table and the verdict line.
func (s *Summary) WriteTable(w io.Writer) {
	if s.Diagnosis != "" {
		fmt.Fprintf(w, "\ndiagnosis: %s\n", s.Diagnosis)
	}
	fmt.Fprintf(w, "\n%-18s %-7s %-15s %s\n", "CLAUSE", "LEVEL", "RESULT", "DETAIL")
	for _, c := range s.Clauses {
		detail := clipWords(c.Reason, 100)
		fmt.Fprintf(w, "%-18s %-7s %-15s %s\n", c.ID, c.Level, c.Result, detail)
	}
	fmt.Fprintf(w, "\n%s\n", s.Verdict)
}

// clipWords shortens s to at most n bytes at a word boundary, marking the
// cut: a detail is never cut in the middle of a word or a UTF-8 sequence.
func clipWords(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexByte(s[:n-len(" …")+1], ' ')
	if cut <= 0 {
		cut = n - len(" …")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimRight(s[:cut], " ,;:") + " …"
}
