package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader/munged"
)

// Virtual is a private cluster built for another mode (cluster mode's
// --virtual): the plugin configured as AuthType or CredType, a private
// munged for the munge half, every node idle. Programs run in it with
// Command.
type Virtual struct {
	*Cluster
	Release string // the daemons' release
	Munged  *munged.Daemon
	plugins string // the directory holding the plugin under Slurm's name
}

// StartVirtual starts the cluster o describes (Plugin, DaemonCache or
// Root, SlurmSbin, Nodes, AuthInfo, ConfLines) and waits until every node
// is idle. An error is a setup problem or a cluster that did not start;
// nothing is left running then.
func StartVirtual(ctx context.Context, o Options) (v *Virtual, err error) {
	u, err := findPlugin(o)
	if err != nil {
		return nil, err
	}
	p, kind, root := u.plugin, u.kind, u.root
	started := &Virtual{Release: filepath.Base(root)}
	v = started
	defer func() {
		if err != nil {
			started.Stop()
		}
	}()
	if v.plugins, err = u.linkDir(); err != nil {
		return nil, err
	}
	cfg := ClusterConfig{Root: root, Nodes: o.Nodes, AuthType: "auth/munge", CredType: "cred/munge",
		PluginDir: v.plugins, ConfLines: o.ConfLines, Sbin: o.SlurmSbin}
	if kind == "auth" {
		cfg.AuthType = p.Type
	} else {
		cfg.CredType = p.Type
	}
	if v.Munged, err = munged.Start(ctx); err != nil {
		return nil, err
	}
	cfg.AuthInfo = joinInfo(v.Munged.AuthInfo(0), o.AuthInfo)
	c, err := StartCluster(ctx, cfg)
	v.Cluster = c
	if err != nil {
		return nil, withEvidence(c, err)
	}
	if _, err = c.WaitIdle(ctx, 30*time.Second); err != nil {
		return nil, withEvidence(c, err)
	}
	return v, nil
}

// withEvidence adds the daemons' log tails to the error of a cluster that
// did not start.
func withEvidence(c *Cluster, err error) error {
	if c == nil || c.Ctld == nil {
		return err
	}
	return fmt.Errorf("the virtual cluster did not start: %w\n%s", err, strings.Join(c.Evidence(10), "\n"))
}

// Stop ends the cluster and munged and removes every file; safe to call
// twice.
func (v *Virtual) Stop() {
	if v.Cluster != nil {
		v.Cluster.Stop()
	}
	if v.Munged != nil {
		v.Munged.Stop()
	}
	if v.plugins != "" {
		os.RemoveAll(v.plugins)
		v.plugins = ""
	}
}

// Command is a client program (srun, …) run inside the cluster's
// namespace as root with the cluster's configuration, not yet started: the
// caller owns its standard streams (cluster mode talks to its agents
// through srun's). It is in a process group of its own, which Kill ends.
func (c *Cluster) Command(env []string, args ...string) *exec.Cmd {
	argv := c.inNS(Root.UID, Root.GID, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = c.env(c.Conf, env)
	cmd.Dir = c.JobDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
}
