package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"github.com/onsi/ginkgo/v2/reporters"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/suite"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runCmd checks one or more plugins, at the same time unless --procs 1;
// the reports come in the order the plugins were given, and the exit
// status is the worst of them.
func runCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	var opts suite.RunOptions
	var focus, skip multiFlag
	fs.StringVar(&opts.LabelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'MUST && !wire'")
	registerProcs(fs, &opts.Procs)
	fs.Var(&focus, "focus", "run only specs matching this regular expression (repeatable)")
	fs.Var(&skip, "skip", "skip specs matching this regular expression (repeatable)")
	fs.StringVar(&opts.JUnitReport, "junit-report", "", "write a JUnit report")
	fs.StringVar(&opts.JSONReport, "json-report", "", "write Ginkgo's JSON report")
	summaryJSON := fs.String("summary-json", "", "write the summary as JSON")
	htmlReport := fs.String("html-report", "", "write a self-contained HTML report of every plugin's run")
	configFile := fs.String("config", "", "YAML file of flag values (flag name: value); command-line flags win")
	fs.BoolVar(&opts.Verbose, "v", false, "verbose Ginkgo output")
	fs.BoolVar(&opts.NoColor, "no-color", os.Getenv("NO_COLOR") != "" || !isTerminal(os.Stdout), "no colour (the default when stdout is not a terminal)")
	withE2E := fs.Bool("e2e", false, "also run each plugin inside real Slurm daemons (the E2E clauses; see plugincheck e2e)")
	var ef e2eFlags
	ef.register(fs)
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *configFile != "" {
		if err := applyConfig(fs, *configFile); err != nil {
			return err
		}
	}
	if len(paths) == 0 {
		return &usageError{"no plugin given (usage: plugincheck [run] PLUGIN... [flags])"}
	}
	cfg, err := sf.config(&hf)
	if err != nil {
		return err
	}
	opts.Focus, opts.Skip = focus, skip
	opts.Progress = os.Stderr
	// Every report the run ends by writing can be written: a lost report
	// is found now, not after the run.
	for _, o := range [][2]string{{"summary-json", *summaryJSON}, {"junit-report", opts.JUnitReport},
		{"json-report", opts.JSONReport}, {"html-report", *htmlReport}} {
		if err := checkOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	worst := 0
	var summaries []*suite.Summary
	var e2eFailed []string
	var lost error // the first report that could not be written
	// Several plugins still write one JUnit file (one <testsuite> each) and
	// one Ginkgo JSON file (one report each): each run writes its own into
	// a temporary directory, and they are joined at the end.
	var parts reportParts
	if len(paths) > 1 && (opts.JUnitReport != "" || opts.JSONReport != "") {
		if parts.dir, err = os.MkdirTemp("", cleanup.TempPattern("reports")); err != nil {
			return err
		}
		defer os.RemoveAll(parts.dir)
	}
	runs := startRuns(paths, cfg, opts, parts)
	// Whatever ends the loop, no run is left under way: each removes its
	// munged and files when it ends.
	defer func() {
		for _, r := range runs {
			if r.start == nil {
				<-r.done
			}
		}
	}()
	for i, p := range paths {
		sum, err := runs[i].wait(stdout)
		if sum == nil {
			return err
		}
		if err != nil && lost == nil {
			lost = err
		}
		sum.WriteTable(stdout)
		summaries = append(summaries, sum)
		if sum.Interrupted {
			worst = sum.ExitCode()
			break // the plugins after it are not run
		}
		worst = worseExit(worst, sum.ExitCode())
		if *withE2E {
			ef.authInfo, ef.confLines = cfg.AuthInfo, cfg.ConfLines
			rep, err := runE2E(p, &ef, stdout, os.Stderr)
			if err != nil {
				return err
			}
			if rep.Failed() {
				worst = worseExit(worst, suite.ExitFailed)
				e2eFailed = append(e2eFailed, rep.Type)
			}
		}
	}
	if *summaryJSON != "" {
		var v any = summaries[0]
		if len(paths) > 1 {
			v = summaries
		}
		data, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(*summaryJSON, append(data, '\n'), 0o644); err != nil && lost == nil {
			lost = &usageError{"--summary-json " + *summaryJSON + ": " + pathless(err)}
		}
	}
	if err := parts.join(opts.JUnitReport, opts.JSONReport, len(summaries)); err != nil && lost == nil {
		lost = err
	}
	if *htmlReport != "" {
		if err := writeHTML(*htmlReport, summaries); err != nil && lost == nil {
			lost = err
		}
	}
	last := summaries[len(summaries)-1]
	switch {
	case last.Interrupted:
		msg := last.Verdict
		if len(paths) > 1 {
			msg += fmt.Sprintf(" (plugin %d of %d)", len(summaries), len(paths))
		}
		if lost != nil {
			msg += "; and a report was lost: " + lost.Error()
		}
		return &exitStatus{code: worst, err: errors.New(msg)}
	case lost != nil:
		return lost
	case worst != 0 && last.ExitCode() == 0 && len(e2eFailed) > 0:
		return &exitStatus{code: worst, err: fmt.Errorf("%s: a MUST clause of the end-to-end check failed", strings.Join(e2eFailed, ", "))}
	case worst != 0:
		return &exitStatus{code: worst, err: errors.New(last.Verdict)}
	}
	return nil
}

// pluginRun is the suite's run on one plugin of several, under way.
type pluginRun struct {
	start  func() // runs it now, when the runs go one after another
	done   chan struct{}
	sum    *suite.Summary
	err    error
	output *bytes.Buffer // Ginkgo's report, held until the runs before it are printed; nil when it goes to stdout
}

// startRuns starts the suite on every plugin: all at once (at most --procs
// of them) when specs run in processes of their own, each with its own
// private munged; else one after another as each is waited for. The first
// plugin's Ginkgo report streams to stdout, the others' wait their turn.
func startRuns(paths []string, cfg suite.Config, opts suite.RunOptions, parts reportParts) []*pluginRun {
	runs := make([]*pluginRun, len(paths))
	together := opts.Procs != 1 && len(paths) > 1
	slots := make(chan struct{}, max(opts.Procs, 1))
	for i, p := range paths {
		c := cfg
		c.Plugin = p
		o := opts
		if parts.dir != "" {
			o.JUnitReport, o.JSONReport = parts.name(opts.JUnitReport, i, "xml"), parts.name(opts.JSONReport, i, "json")
		}
		r := &pluginRun{done: make(chan struct{})}
		runs[i] = r
		if !together {
			// Run when waited for: a setup error stops the plugins after it.
			r.start = func() { r.sum, r.err = suite.Run(c, o) }
			continue
		}
		if i > 0 {
			r.output = &bytes.Buffer{}
			o.Output = &lockedWriter{w: r.output}
		}
		go func() {
			slots <- struct{}{}
			defer func() { <-slots; close(r.done) }()
			r.sum, r.err = suite.Run(c, o)
		}()
	}
	return runs
}

// wait returns the run's summary once it has ended, after writing the
// Ginkgo report it held back.
func (r *pluginRun) wait(stdout io.Writer) (*suite.Summary, error) {
	if r.start != nil {
		r.start()
		return r.sum, r.err
	}
	<-r.done
	if r.output != nil {
		stdout.Write(r.output.Bytes())
	}
	return r.sum, r.err
}

// isTerminal reports whether f is a terminal: colour codes are for people
// at one, not for CI logs and files.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// worseExit is the worse of two runs' exit statuses: a failed MUST clause
// (1) over an incomplete run (3) over a conformant one (0).
func worseExit(a, b int) int {
	rank := map[int]int{suite.ExitConformant: 0, suite.ExitIncomplete: 1, suite.ExitFailed: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// reportParts are the per-plugin reports of a run of several plugins,
// before they are joined into the files the user named.
type reportParts struct{ dir string }

func (r reportParts) name(final string, i int, ext string) string {
	if final == "" {
		return ""
	}
	return filepath.Join(r.dir, fmt.Sprintf("%d.%s", i, ext))
}

// join writes the JUnit file as one <testsuites> holding every plugin's
// <testsuite>, and the Ginkgo JSON file as one array of every plugin's
// report.
func (r reportParts) join(junit, jsonReport string, n int) error {
	if r.dir == "" {
		return nil
	}
	if junit != "" {
		var all reporters.JUnitTestSuites
		for i := range n {
			var one reporters.JUnitTestSuites
			data, err := os.ReadFile(r.name(junit, i, "xml"))
			if err == nil {
				err = xml.Unmarshal(data, &one)
			}
			if err != nil {
				return fmt.Errorf("--junit-report: %w", err)
			}
			all.Tests, all.Disabled, all.Errors, all.Failures, all.Time = all.Tests+one.Tests, all.Disabled+one.Disabled,
				all.Errors+one.Errors, all.Failures+one.Failures, all.Time+one.Time
			all.TestSuites = append(all.TestSuites, one.TestSuites...)
		}
		data, err := xml.MarshalIndent(all, "", "  ")
		if err == nil {
			err = os.WriteFile(junit, append([]byte(xml.Header), append(data, '\n')...), 0o644)
		}
		if err != nil {
			return fmt.Errorf("--junit-report: %w", err)
		}
	}
	if jsonReport != "" {
		var all []json.RawMessage
		for i := range n {
			var one []json.RawMessage
			data, err := os.ReadFile(r.name(jsonReport, i, "json"))
			if err == nil {
				err = json.Unmarshal(data, &one)
			}
			if err != nil {
				return fmt.Errorf("--json-report: %w", err)
			}
			all = append(all, one...)
		}
		data, err := json.MarshalIndent(all, "", "  ")
		if err == nil {
			err = os.WriteFile(jsonReport, append(data, '\n'), 0o644)
		}
		if err != nil {
			return fmt.Errorf("--json-report: %w", err)
		}
	}
	return nil
}

// writeHTML writes the HTML report; a write error is the run's error, never
// a silently lost report.
func writeHTML(path string, summaries []*suite.Summary) error {
	var b bytes.Buffer
	if err := suite.WriteHTML(&b, summaries); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return &usageError{"--html-report " + path + ": " + pathless(err)}
	}
	return nil
}
