// Command plugincheck checks Slurm auth and cred plugins against their API
// contract. See README.md.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/plugincheck/plugincheck/internal/bundle"
	"github.com/plugincheck/plugincheck/suite"
)

func main() {
	suite.ServeWorkerIfRequested()
	os.Exit(cliMain(os.Args[1:]))
}

// usageError is bad input to the tool itself: one line, exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "plugincheck: no command (try: plugincheck inspect PLUGIN)")
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = runCmd(args[1:], stdout)
	case "inspect":
		err = inspectCmd(args[1:], stdout)
	case "list":
		err = listCmd(args[1:], stdout)
	case "certify":
		err = certifyCmd(args[1:], stdout)
	case "verify":
		err = verifyCmd(args[1:], stdout)
	case "bench":
		err = benchCmd(args[1:], stdout, stderr)
	case "fuzz":
		err = fuzzCmd(args[1:], stdout, stderr)
	case "e2e":
		err = e2eCmd(args[1:], stdout, stderr)
	case "cluster":
		err = clusterCmd(args[1:], stdout, stderr)
	case "cluster-agent": // hidden: what cluster's srun starts on each node
		err = clusterAgentCmd(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "plugincheck %s (summary schema %d)\n", bundle.ToolVersion(), suite.SummarySchema)
		return 0
	default:
		if strings.HasPrefix(args[0], "-") || strings.Contains(args[0], "/") || strings.HasSuffix(args[0], ".so") {
			err = runCmd(args, stdout) // run is the default command
		} else {
			err = &usageError{fmt.Sprintf("unknown command %q (try: plugincheck --help)", args[0])}
		}
	}
	if code, ok := interrupted(err, stderr); ok {
		return code
	}
	if err == nil {
		return 0
	}
	var help *helpRequest
	if errors.As(err, &help) {
		help.write(stdout)
		return 0
	}
	fmt.Fprintln(stderr, "plugincheck: "+oneLine(err))
	var exit *exitStatus
	if errors.As(err, &exit) {
		return exit.code
	}
	return 2
}

// exitStatus carries a status other than 2 out of a command.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string { return e.err.Error() }

const usage = `plugincheck checks Slurm auth and cred plugins against their API contract.

Usage:
  plugincheck [run] PLUGIN... [flags]    check plugins against the contract (the default command)
  plugincheck inspect PLUGIN [--json] [--load] [flags]   what the plugin's file says; --load also loads it in a worker
  plugincheck list                       every spec: clause, level, labels, text
  plugincheck certify PLUGIN --product FILE --out DIR [--sign-key KEY] [--no-e2e] [--cluster | --cluster-virtual N] [flags]
                                         run every spec (and the E2E clauses) and write a certification bundle
  plugincheck certify --gen-key FILE     write a new ed25519 key pair FILE and FILE.pub for --sign-key
  plugincheck verify DIR [--plugin PLUGIN] [--pubkey FILE]
                                         re-check a bundle: manifest, signature, completeness, verdict
  plugincheck bench PLUGIN [--threads N] [--duration D] [--runs N] [--json] [--compare FILE] [flags]
                                         time each call and whole cycles in the worker, against a native harness and remunge
  plugincheck fuzz PLUGIN [--duration D] [--corpus DIR] [--crashers DIR] [--json] [flags]
                                         mutate unpack (and verify_sign) inputs; save minimized crash reproducers
  plugincheck fuzz --repro FILE PLUGIN   replay a reproducer: exit 1 while it still fails
  plugincheck e2e PLUGIN... [--nodes N] [--daemons DIR] [--refuse-auth-info STR] [--refuse-env VAR=VALUE]
                                         run the plugin inside real Slurm daemons of its generation (E2E clauses)
  plugincheck cluster PLUGIN [--virtual N | --nodes N --partition P] [--refuse-auth-info STR] [--summary-json FILE]
                                         check the plugin across the nodes of a cluster, one srun launch (CLUSTER clauses)

Flags common to commands that load a plugin:
  --slurm-lib PATH    libslurmfull.so to use as host (default: beside the plugin, then standard directories)
  --slurm-conf FILE   slurm.conf for the host (default: a minimal one written for the run)
  --sysroot DIR       a newer C library to run the plugin with (default: found above the host library when needed)
  --lib-path DIRS     extra directories (colon separated) for the plugin's DT_NEEDED libraries
  --generation NAME   use this API generation instead of the detected one

Exit status: 0 conformant (a filtered run: every selected MUST clause passed),
1 a MUST clause failed (or the plugin would not load), 2 usage or setup error
(a report that cannot be written included), 3 incomplete: no MUST clause failed
but an applicable one was not tested (the verdict names it and the flag that
enables it), 128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP,
131 SIGQUIT): workers, munged and temporary files removed, no verdict.
`
