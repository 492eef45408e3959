package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plugincheck/plugincheck/suite"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runCmd checks one or more plugins, one after another; the exit status is
// the worst of them.
func runCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	var opts suite.RunOptions
	var focus, skip multiFlag
	fs.StringVar(&opts.LabelFilter, "label-filter", "", "Ginkgo label filter, e.g. 'MUST && !wire'")
	fs.Var(&focus, "focus", "run only specs matching this regular expression (repeatable)")
	fs.Var(&skip, "skip", "skip specs matching this regular expression (repeatable)")
	fs.StringVar(&opts.JUnitReport, "junit-report", "", "write a JUnit report")
	fs.StringVar(&opts.JSONReport, "json-report", "", "write Ginkgo's JSON report")
	summaryJSON := fs.String("summary-json", "", "write the summary as JSON")
	configFile := fs.String("config", "", "YAML file of flag values (flag name: value); command-line flags win")
	fs.BoolVar(&opts.Verbose, "v", false, "verbose Ginkgo output")
	fs.BoolVar(&opts.NoColor, "no-color", os.Getenv("NO_COLOR") != "", "no colour")
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
	outputs := [][2]string{{"summary-json", *summaryJSON}}
	for _, p := range paths {
		o := reportsFor(opts, p, len(paths))
		outputs = append(outputs, [2]string{"junit-report", o.JUnitReport}, [2]string{"json-report", o.JSONReport})
	}
	for _, o := range outputs {
		if err := checkOutput(o[0], o[1]); err != nil {
			return err
		}
	}
	worst := 0
	var summaries []*suite.Summary
	var lost error // the first report that could not be written
	for _, p := range paths {
		c := cfg
		c.Plugin = p
		sum, err := suite.Run(c, reportsFor(opts, p, len(paths)))
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
		worst = max(worst, sum.ExitCode())
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
	case worst != 0:
		return &exitStatus{code: worst, err: errors.New(last.Verdict)}
	}
	return nil
}

// reportsFor gives each plugin of a multi-plugin run its own report files.
func reportsFor(opts suite.RunOptions, plugin string, plugins int) suite.RunOptions {
	if plugins > 1 {
		opts.JUnitReport, opts.JSONReport = suffixed(opts.JUnitReport, plugin), suffixed(opts.JSONReport, plugin)
	}
	return opts
}

// suffixed gives each plugin of a multi-plugin run its own report file.
func suffixed(path, plugin string) string {
	if path == "" {
		return ""
	}
	base := strings.TrimSuffix(plugin[strings.LastIndex(plugin, "/")+1:], ".so")
	if i := strings.LastIndex(path, "."); i > strings.LastIndex(path, "/") {
		return fmt.Sprintf("%s-%s%s", path[:i], base, path[i:])
	}
	return path + "-" + base
}
