package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/plugincheck/plugincheck/internal/e2e"
)

// e2eFlags are the flags of `plugincheck e2e` (and of --e2e on a run).
type e2eFlags struct {
	nodes          int
	daemons, root  string
	sbin           string
	authInfo       string
	confLines      multiFlag
	refuseAuthInfo string
	refuseEnv      multiFlag
	stableRPCs     int
	stableJobs     int
	submitter      string
	quiet          bool
}

func (f *e2eFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.nodes, "nodes", 1, "slurmd daemons of the private cluster")
	fs.StringVar(&f.daemons, "daemons", "", "directory of daemon roots, one per release (default $PLUGINCHECK_DAEMONS, else .cache/slurm-daemons)")
	fs.StringVar(&f.root, "daemon-root", "", "the daemon root to run (default: the release of the plugin's series in --daemons)")
	fs.StringVar(&f.sbin, "slurm-sbin", "", "a directory with your own build's slurmctld, slurmd and slurmstepd, used instead of Debian's")
	fs.StringVar(&f.refuseAuthInfo, "refuse-auth-info", "", "AuthInfo of a client that must be refused (E2E-REFUSE; built in for auth/munge)")
	fs.Var(&f.refuseEnv, "refuse-env", "VAR=VALUE in the environment of the client that must be refused (repeatable)")
	fs.IntVar(&f.stableRPCs, "stable-rpcs", 300, "client RPCs of E2E-STABLE")
	fs.IntVar(&f.stableJobs, "stable-jobs", 30, "jobs of E2E-STABLE")
	fs.StringVar(&f.submitter, "submitter", "nobody", "the non-root user who submits the jobs of E2E-JOB")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")
}

func (f *e2eFlags) options(plugin string, stderr io.Writer) (e2e.Options, error) {
	if f.nodes < 1 || f.nodes > 16 {
		return e2e.Options{}, &usageError{fmt.Sprintf("--nodes must be 1 to 16, not %d", f.nodes)}
	}
	if f.stableRPCs < 1 || f.stableJobs < 1 {
		return e2e.Options{}, &usageError{"--stable-rpcs and --stable-jobs must be positive"}
	}
	for _, e := range f.refuseEnv {
		if !strings.Contains(e, "=") {
			return e2e.Options{}, &usageError{fmt.Sprintf("--refuse-env %q is not VAR=VALUE", e)}
		}
	}
	cache := f.daemons
	if cache == "" {
		cache = os.Getenv("PLUGINCHECK_DAEMONS")
	}
	if cache == "" {
		cache = filepath.Join(".cache", "slurm-daemons")
	}
	o := e2e.Options{Plugin: plugin, DaemonCache: cache, Root: f.root, SlurmSbin: f.sbin, Nodes: f.nodes,
		AuthInfo: f.authInfo, ConfLines: f.confLines,
		RefuseAuthInfo: f.refuseAuthInfo, RefuseEnv: f.refuseEnv,
		StableRPCs: f.stableRPCs, StableJobs: f.stableJobs, Submitter: f.submitter}
	if !f.quiet {
		o.Progress = func(s string) { fmt.Fprintln(stderr, "e2e: "+s) }
	}
	return o, nil
}

const e2eUsage = "usage: plugincheck e2e PLUGIN... [--nodes N] [--daemons DIR] [--auth-info STR] [--conf-line LINE] [--refuse-auth-info STR] [--refuse-env VAR=VALUE]"

func e2eCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("e2e", flag.ContinueOnError)
	var f e2eFlags
	f.register(fs)
	fs.StringVar(&f.authInfo, "auth-info", "", "added to the cluster's AuthInfo")
	fs.Var(&f.confLines, "conf-line", "a line to add to the cluster's slurm.conf (repeatable)")
	summaryJSON := fs.String("summary-json", "", "write the report as JSON (an array of reports for several plugins)")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return &usageError{e2eUsage}
	}
	if err := checkOutput("summary-json", *summaryJSON); err != nil {
		return err
	}
	failed := false
	var reports []*e2e.Report
	for _, p := range paths {
		rep, err := runE2E(p, &f, stdout, stderr)
		if err != nil {
			return err
		}
		reports = append(reports, rep)
		failed = failed || rep.Failed()
	}
	if *summaryJSON != "" {
		var v any = reports[0]
		if len(reports) > 1 {
			v = reports
		}
		data, _ := json.MarshalIndent(v, "", "  ")
		if err := os.WriteFile(*summaryJSON, append(data, '\n'), 0o644); err != nil {
			return &usageError{"--summary-json " + *summaryJSON + ": " + pathless(err)}
		}
	}
	if failed {
		return &exitStatus{1, fmt.Errorf("a MUST clause of the end-to-end check failed")}
	}
	return nil
}

// runE2E runs the E2E clauses for one plugin and prints them. SIGINT and
// SIGTERM stop the cluster (every daemon, every file) before returning.
func runE2E(plugin string, f *e2eFlags, stdout, stderr io.Writer) (*e2e.Report, error) {
	o, err := f.options(plugin, stderr)
	if err != nil {
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := e2e.Run(ctx, o)
	if ctx.Err() != nil {
		return nil, &exitStatus{2, fmt.Errorf("interrupted; the cluster is stopped")}
	}
	if err != nil {
		return nil, &exitStatus{2, err}
	}
	writeE2E(stdout, rep)
	return rep, nil
}

func writeE2E(w io.Writer, rep *e2e.Report) {
	fmt.Fprintf(w, "%s (%s) in the Slurm %s daemons, %d node(s): %s\n", rep.Type, rep.Plugin, rep.Release, rep.Nodes, rep.Config)
	for _, r := range rep.Results {
		fmt.Fprintf(w, "  %-10s %-11s %-6s %s\n", r.Status, r.ID, r.Level, indent(r.Detail, 4))
		for _, e := range r.Evidence {
			fmt.Fprintf(w, "      %s\n", indent(e, 6))
		}
	}
	verdict := "passed"
	if rep.Failed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "e2e %s: %s in %.1fs\n", verdict, rep.Type, rep.Duration.Seconds())
}

func indent(s string, n int) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+strings.Repeat(" ", n))
}
