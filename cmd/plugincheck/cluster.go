package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/internal/cluster"
	"github.com/plugincheck/plugincheck/internal/e2e"
)

const clusterUsage = "usage: plugincheck cluster PLUGIN [--virtual N | --nodes N --partition P] [--refuse-auth-info STR] [--refuse-env VAR=VALUE] [--summary-json FILE] [run's suite flags: --auth-ttl N, --env VAR=VALUE, …]"

// agentFlags are what `plugincheck cluster` hands to every agent: the
// host's and the unit suite's flags, registered as `run` registers them so
// that each node's unit run is `plugincheck run` with them, and how to
// configure the plugin with another key (CLUSTER-REFUSE).
type agentFlags struct {
	hf             hostFlags
	sf             suiteFlags
	procs          int
	refuseAuthInfo string
	refuseEnv      multiFlag
}

func (f *agentFlags) register(fs *flag.FlagSet) {
	f.hf.register(fs)
	f.sf.register(fs)
	registerProcs(fs, &f.procs)
	fs.StringVar(&f.refuseAuthInfo, "refuse-auth-info", "", "AuthInfo that configures the plugin with another key (CLUSTER-REFUSE; built in for auth/munge and auth/none); "+cluster.KeyPlaceholder+" is a fresh key file on each node")
	fs.Var(&f.refuseEnv, "refuse-env", "VAR=VALUE that configures the plugin with another key (repeatable; "+cluster.KeyPlaceholder+" as above)")
}

// agentFlagNames are the flags of agentFlags, passed on as they were given.
var agentFlagNames = append(append([]string(nil), runFlags...), "procs", "refuse-auth-info", "refuse-env")

// args are the agent's command-line flags: those set on fs.
func (f *agentFlags) args(fs *flag.FlagSet) []string {
	return passOn(fs, agentFlagNames, map[string][]string{"conf-line": f.sf.confLines, "env": f.sf.env, "refuse-env": f.refuseEnv})
}

func clusterCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	var af agentFlags
	af.register(fs)
	virtual := fs.Int("virtual", 0, "build an N-node cluster on this machine (the plugin's release's daemons) and run in it")
	nodes := fs.Int("nodes", 0, "nodes to run on (default: every node of the allocation); outside an allocation srun asks for them")
	partition := fs.String("partition", "", "partition srun asks for nodes in, outside an allocation")
	bcast := fs.String("bcast", "", "copy the agent binary to this path on each node with srun --bcast (no shared filesystem)")
	nodeTimeout := fs.Duration("node-timeout", 2*time.Minute, "a node that does not answer a step within this is a finding")
	unitTimeout := fs.Duration("unit-timeout", 15*time.Minute, "deadline of the unit suite on each node")
	unit := fs.Bool("unit", true, "run the unit suite on every node (CLUSTER-UNIT)")
	summaryJSON := fs.String("summary-json", "", "write the report as JSON (nodes, clauses, matrices, each node's unit summary)")
	htmlReport := fs.String("html-report", "", "write the report as a self-contained HTML page")
	var ef e2eFlags // --daemons, --daemon-root, --slurm-sbin of the virtual cluster
	vfs := flag.NewFlagSet("", flag.ContinueOnError)
	ef.register(vfs)
	for _, name := range []string{"daemons", "daemon-root", "slurm-sbin", "quiet"} {
		fl := vfs.Lookup(name)
		fs.Var(fl.Value, name, fl.Usage)
	}
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return &usageError{clusterUsage}
	}
	for _, e := range af.refuseEnv {
		if !strings.Contains(e, "=") {
			return &usageError{fmt.Sprintf("--refuse-env %q is not VAR=VALUE", e)}
		}
	}
	cfg, err := af.sf.config(&af.hf)
	if err != nil {
		return err
	}
	if (cfg.PrivateKey == "") != (cfg.PublicKey == "") {
		return &usageError{"--private-key and --public-key go together"}
	}
	if *virtual < 0 || *virtual > 16 || *nodes < 0 {
		return &usageError{"--virtual must be 1 to 16 and --nodes positive"}
	}
	for _, o := range [][2]string{{"summary-json", *summaryJSON}, {"html-report", *htmlReport}} {
		if o[1] != "" {
			if err := checkOutput(o[0], o[1]); err != nil {
				return err
			}
		}
	}
	plugin, err := filepath.Abs(paths[0])
	if err != nil {
		return err
	}
	if _, err := os.Stat(plugin); err != nil {
		return &usageError{pathless(err)}
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// With --bcast, srun copies the program it starts (this binary) to
	// that path on each node and runs the copy.
	agent := append(append([]string{exe, "cluster-agent"}, af.args(fs)...), plugin)
	progress := func(s string) { fmt.Fprintln(stderr, "cluster: "+s) }
	if ef.quiet {
		progress = nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := cluster.Options{NodeTimeout: *nodeTimeout, UnitTimeout: *unitTimeout, Unit: *unit, Seed: cfg.Seed, Progress: progress}
	var rep *cluster.Report
	if *virtual > 0 {
		eo, err := ef.options(plugin, stderr)
		if err != nil {
			return err
		}
		eo.Nodes, eo.AuthInfo, eo.ConfLines = *virtual, cfg.AuthInfo, cfg.ConfLines
		if progress != nil {
			progress(fmt.Sprintf("starting a virtual cluster of %d node(s)", *virtual))
		}
		v, err := e2e.StartVirtual(ctx, eo)
		if err != nil {
			if ctx.Err() != nil {
				return &exitStatus{2, fmt.Errorf("interrupted; the cluster is stopped")}
			}
			return &exitStatus{2, err}
		}
		forget := cleanup.Add(v.Stop)
		o.Tasks = *virtual
		o.Launch = v.Command(nil, cluster.SrunArgs(*virtual, cluster.Allocation{}, agent)...)
		rep, err = cluster.Run(ctx, o)
		v.Stop()
		forget()
		if err != nil {
			return &exitStatus{2, err}
		}
		rep.Virtual, rep.Release = true, v.Release
	} else {
		_, inJob, ok := cluster.InAllocation()
		n := *nodes
		switch {
		case n == 0 && ok:
			n = inJob
		case n == 0:
			return &usageError{"not inside an allocation (no SLURM_JOB_ID): run it under salloc, or give --nodes N (and --partition P), or --virtual N"}
		case ok && n > inJob:
			return &usageError{fmt.Sprintf("--nodes %d: the allocation has %d node(s)", n, inJob)}
		}
		if _, err := exec.LookPath("srun"); err != nil {
			return &usageError{"srun is not on PATH: cluster mode runs where Slurm's client commands are (or use --virtual N)"}
		}
		argv := cluster.SrunArgs(n, cluster.Allocation{Partition: *partition, Bcast: *bcast}, agent)
		o.Tasks = n
		o.Launch = exec.Command(argv[0], argv[1:]...)
		if rep, err = cluster.Run(ctx, o); err != nil {
			return &exitStatus{2, err}
		}
	}
	if ctx.Err() != nil {
		return &exitStatus{2, fmt.Errorf("interrupted; the agents and the cluster are stopped")}
	}
	rep.Write(stdout)
	if *summaryJSON != "" {
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(*summaryJSON, append(data, '\n'), 0o644); err != nil {
			return &usageError{"--summary-json " + *summaryJSON + ": " + pathless(err)}
		}
	}
	if *htmlReport != "" {
		var b strings.Builder
		if err := rep.WriteHTML(&b); err != nil {
			return err
		}
		if err := os.WriteFile(*htmlReport, []byte(b.String()), 0o644); err != nil {
			return &usageError{"--html-report " + *htmlReport + ": " + pathless(err)}
		}
	}
	if rep.Failed() {
		return &exitStatus{1, fmt.Errorf("a MUST CLUSTER clause failed")}
	}
	return nil
}

// clusterAgentCmd is the hidden mode srun starts on each node. Its stdout
// carries the protocol alone: Ginkgo and anything else the process writes
// to descriptor 1 go to stderr instead.
func clusterAgentCmd(args []string) error {
	fs := flag.NewFlagSet("cluster-agent", flag.ContinueOnError)
	var af agentFlags
	af.register(fs)
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return &usageError{"cluster-agent: one plugin"}
	}
	proto, err := syscall.Dup(1)
	if err != nil {
		return err
	}
	if err := syscall.Dup3(2, 1, 0); err != nil {
		return err
	}
	out := os.NewFile(uintptr(proto), "agent protocol")
	defer out.Close()
	cfg, err := af.sf.config(&af.hf)
	if err != nil {
		return err
	}
	cfg.Plugin = paths[0]
	o := cluster.AgentOptions{Suite: cfg, Procs: af.procs, RefuseAuthInfo: af.refuseAuthInfo, RefuseEnv: af.refuseEnv}
	return cluster.Agent(cleanup.Context(), os.Stdin, out, o)
}
