package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/plugincheck/plugincheck/internal/bundle"
)

// clusterCertify are certify's flags for a cluster bundle.
type clusterCertify struct {
	inAllocation bool
	virtual      int
	args         multiFlag
}

func (c *clusterCertify) register(fs *flag.FlagSet) {
	fs.BoolVar(&c.inAllocation, "cluster", false, "also run cluster mode in this allocation; the bundle gets a section per node")
	fs.IntVar(&c.virtual, "cluster-virtual", 0, "also run cluster mode in an N-node virtual cluster (implies --cluster)")
	fs.Var(&c.args, "cluster-arg", "a flag for the cluster run, e.g. --cluster-arg=--refuse-auth-info=key=%k (repeatable)")
}

func (c *clusterCertify) wanted() bool { return c.inAllocation || c.virtual > 0 }

// run runs `plugincheck cluster` on the certified plugin into dir, with
// the certified run's flags (runArgs) so that every node's unit run is
// that run, then the --cluster-arg flags: its
// report as cluster.json, its console as cluster-console.log, and one
// section per node. The cluster verdict is verify's to give; an error is a
// run that wrote no report.
func (c *clusterCertify) run(dir, plugin string, runArgs []string, stdout io.Writer) error {
	args := []string{"cluster", plugin, "--quiet", "--summary-json", filepath.Join(dir, bundle.ClusterJSON),
		"--html-report", filepath.Join(dir, bundle.ClusterHTML)}
	if c.virtual > 0 {
		args = append(args, "--virtual", strconv.Itoa(c.virtual))
	}
	args = append(append(args, runArgs...), c.args...)
	f, err := os.OpenFile(filepath.Join(dir, bundle.ClusterLog), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "# run: plugincheck %s\n\n", shellJoin(args))
	cmd := selfCommand(args...)
	cmd.Stdout = io.MultiWriter(f, stdout)
	cmd.Stderr = f
	err = runChild(cmd)
	var exitErr *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		return fmt.Errorf("cannot run cluster mode: %w", err)
	}
	fmt.Fprintf(f, "\n# exit status %d\n", code)
	if _, err := os.Stat(filepath.Join(dir, bundle.ClusterJSON)); err != nil || code > 1 {
		return &exitStatus{code: 2, err: fmt.Errorf("cluster mode ended with exit status %d and no report; bundle not finished (its output is in %s)",
			code, filepath.Join(dir, bundle.ClusterLog))}
	}
	return bundle.WriteNodeSections(dir)
}
