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
	worst := 0
	var summaries []*suite.Summary
	var e2eFailed []string
	for _, p := range paths {
		c := cfg
		c.Plugin = p
		o := opts
		if len(paths) > 1 {
			o.JUnitReport, o.JSONReport = suffixed(o.JUnitReport, p), suffixed(o.JSONReport, p)
		}
		sum, err := suite.Run(c, o)
		if err != nil {
			return err
		}
		sum.WriteTable(stdout)
		summaries = append(summaries, sum)
		worst = max(worst, sum.ExitCode())
		if *withE2E {
			ef.authInfo, ef.confLines = cfg.AuthInfo, cfg.ConfLines
			rep, err := runE2E(p, &ef, stdout, os.Stderr)
			if err != nil {
				return err
			}
			if rep.Failed() {
				worst = max(worst, 1)
				e2eFailed = append(e2eFailed, rep.Type)
			}
		}
	}
	if *summaryJSON != "" {
		var v any = summaries[0]
		if len(summaries) > 1 {
			v = summaries
		}
		data, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(*summaryJSON, append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if worst != 0 && summaries[len(summaries)-1].ExitCode() == 0 && len(e2eFailed) > 0 {
		return &exitStatus{code: worst, err: fmt.Errorf("%s: a MUST clause of the end-to-end check failed", strings.Join(e2eFailed, ", "))}
	}
	if worst != 0 {
		return &exitStatus{code: worst, err: errors.New(summaries[len(summaries)-1].Verdict)}
	}
	return nil
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
