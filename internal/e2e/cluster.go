// Package e2e runs a plugin inside real Slurm daemons of its generation: a
// private cluster (slurmctld, N slurmd, the client commands, a private
// munged) on this machine, with the plugin as AuthType or CredType, private
// ports, state, spool and log files. See the E2E clauses of the contract.
//
// The daemons are Debian's, unpacked by `hack/fetch-slurm.sh --daemons` into
// a daemon root per release. They run in a private mount namespace where the
// root's /usr/sbin, /usr/bin and /usr/lib/x86_64-linux-gnu are overlaid
// (read-only overlayfs) on the machine's own: slurmd finds slurmstepd at its
// compiled-in path, Slurm's programs find libslurmfull.so by their RUNPATH,
// and for the generations newer than this machine's C library the root's
// libc (and dynamic loader) replaces it for every program in the namespace,
// the shell and `id` of the jobs included (glibc is backward compatible).
// Nothing is mounted outside the namespace; it ends with its last process.
package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
)

// overlaid are the directories of a daemon root laid over the machine's.
var overlaid = []string{"usr/sbin", "usr/bin", "usr/lib/x86_64-linux-gnu"}

// SlurmPluginDir is where Debian's Slurm plugins are, inside the namespace.
const SlurmPluginDir = "/usr/lib/x86_64-linux-gnu/slurm-wlm"

// ClusterConfig is what one private cluster runs.
type ClusterConfig struct {
	Root      string // daemon root (…/slurm-daemons/<version>)
	Nodes     int
	AuthType  string // "auth/munge"
	CredType  string // "cred/munge"
	AuthInfo  string
	PluginDir string   // a directory holding the plugin under test, searched first
	ConfLines []string // extra slurm.conf lines
	Env       []string // extra environment of daemons and clients
	// Sbin, when set, is laid over the root's usr/sbin: a vendor's own
	// build of slurmctld, slurmd and slurmstepd.
	Sbin string
	// SlurmdAuthInfo, when set, is the slurmd's AuthInfo instead of
	// AuthInfo, and SlurmdEnv their extra environment: nodes configured
	// apart from slurmctld (E2E-REFUSE of a cred plugin: a node with
	// another key must refuse slurmctld's job credentials).
	SlurmdAuthInfo string
	SlurmdEnv      []string
}

// Daemon is one running slurmctld or slurmd.
type Daemon struct {
	Name    string      // "slurmctld", "slurmd n1"
	Log     string      // its log file
	Out     *TailBuffer // the end of its stdout/stderr (a plugin may flood them)
	cmd     *exec.Cmd
	done    chan struct{}
	state   *os.ProcessState
	stopped bool // Stop ended it: its exit is no finding
}

// Exited says whether the daemon has ended, and how ("killed by signal
// aborted", "exit status 1").
func (d *Daemon) Exited() (bool, string) {
	select {
	case <-d.done:
		return true, describeExit(d.state)
	default:
		return false, ""
	}
}

func describeExit(st *os.ProcessState) string {
	if st == nil {
		return "ended"
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		s := fmt.Sprintf("killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
		if ws.CoreDump() {
			s += ", core dumped"
		}
		return s
	}
	return st.String()
}

// Cluster is a running private cluster.
type Cluster struct {
	Cfg      ClusterConfig
	Dir      string // everything of the cluster: conf, state, spool, logs
	Conf     string
	JobDir   string // 1777: where jobs of the non-root submitter write
	Ctld     *Daemon
	Slurmd   []*Daemon
	Nodes    []string
	hostname string
	holder   *exec.Cmd
	nsPath   string // /proc/<holder>/ns/mnt
	nsID     string // its readlink, to find every process inside
	mu       sync.Mutex
}

// freePorts returns n TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// StartCluster writes the configuration, enters the namespace and starts
// slurmctld and the slurmd. On error everything started is stopped again;
// the returned cluster (possibly nil) is only for evidence.
func StartCluster(ctx context.Context, cfg ClusterConfig) (c *Cluster, err error) {
	if cfg.Nodes < 1 {
		cfg.Nodes = 1
	}
	for _, d := range overlaid {
		if _, err := os.Stat(filepath.Join(cfg.Root, d)); err != nil {
			return nil, fmt.Errorf("daemon root %s: %w (run hack/fetch-slurm.sh --daemons)", cfg.Root, err)
		}
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, err
	}
	host, _, _ = strings.Cut(host, ".")
	dir, err := os.MkdirTemp("", cleanup.TempPattern("e2e"))
	if err != nil {
		return nil, err
	}
	c = &Cluster{Cfg: cfg, Dir: dir, Conf: filepath.Join(dir, "slurm.conf"), JobDir: filepath.Join(dir, "jobs"), hostname: host}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if err = os.Chmod(dir, 0o755); err != nil {
		return c, err
	}
	for _, d := range []string{"state", "spool"} {
		if err = os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return c, err
		}
	}
	for i := 1; i <= cfg.Nodes; i++ {
		if err = os.MkdirAll(filepath.Join(dir, "spool", fmt.Sprintf("n%d", i)), 0o755); err != nil {
			return c, err
		}
	}
	if err = os.MkdirAll(c.JobDir, 0o755); err != nil {
		return c, err
	}
	if err = os.Chmod(c.JobDir, 0o1777); err != nil {
		return c, err
	}
	ports, err := freePorts(1 + cfg.Nodes)
	if err != nil {
		return c, err
	}
	for i := 1; i <= cfg.Nodes; i++ {
		c.Nodes = append(c.Nodes, fmt.Sprintf("n%d", i))
	}
	if err = os.WriteFile(c.Conf, []byte(c.slurmConf(ports, cfg.AuthInfo)), 0o644); err != nil {
		return c, err
	}
	slurmdConf := c.Conf
	if cfg.SlurmdAuthInfo != "" {
		if slurmdConf, err = c.WriteConfVariant("slurmd.conf", cfg.SlurmdAuthInfo); err != nil {
			return c, err
		}
	}
	if err = c.enterNamespace(ctx); err != nil {
		return c, err
	}
	c.Ctld, err = c.startDaemon("slurmctld", filepath.Join(dir, "slurmctld.log"), nil,
		"slurmctld", "-D", "-f", c.Conf)
	if err != nil {
		return c, err
	}
	if err = c.waitCtld(ctx, 30*time.Second); err != nil {
		return c, err
	}
	for _, n := range c.Nodes {
		d, err := c.startDaemon("slurmd "+n, filepath.Join(dir, "slurmd."+n+".log"), cfg.SlurmdEnv,
			"slurmd", "-D", "-N", n, "-f", slurmdConf)
		if err != nil {
			return c, err
		}
		c.Slurmd = append(c.Slurmd, d)
	}
	return c, nil
}

// slurmConf is the cluster's slurm.conf (authInfo differs for the refused
// client's copy).
func (c *Cluster) slurmConf(ports []int, authInfo string) string {
	cfg := c.Cfg
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f+"\n", a...) }
	w("# written by plugincheck e2e")
	w("ClusterName=plugincheck")
	w("SlurmctldHost=%s(127.0.0.1)", c.hostname)
	w("SlurmctldPort=%d", ports[0])
	w("SlurmdPort=%d", ports[1])
	w("SlurmUser=root")
	w("SlurmdUser=root")
	w("AuthType=%s", cfg.AuthType)
	w("CredType=%s", cfg.CredType)
	if authInfo != "" {
		w("AuthInfo=%s", authInfo)
	}
	if cfg.PluginDir != "" {
		w("PluginDir=%s:%s", cfg.PluginDir, SlurmPluginDir)
	} else {
		w("PluginDir=%s", SlurmPluginDir)
	}
	w("StateSaveLocation=%s/state", c.Dir)
	w("SlurmdSpoolDir=%s/spool/%%n", c.Dir)
	w("SlurmctldPidFile=%s/slurmctld.pid", c.Dir)
	w("SlurmdPidFile=%s/slurmd.%%n.pid", c.Dir)
	w("SlurmctldLogFile=%s/slurmctld.log", c.Dir)
	w("SlurmdLogFile=%s/slurmd.%%n.log", c.Dir)
	w("SlurmctldDebug=info")
	w("SlurmdDebug=info")
	w("ProctrackType=proctrack/linuxproc")
	w("TaskPlugin=task/none")
	w("JobAcctGatherType=jobacct_gather/none")
	w("AccountingStorageType=accounting_storage/none")
	w("JobCompType=jobcomp/none")
	w("SchedulerType=sched/builtin")
	w("SelectType=select/cons_tres")
	w("SelectTypeParameters=CR_CPU")
	w("MpiDefault=none")
	w("ReturnToService=2")
	w("MailProg=/bin/true")
	w("SlurmdTimeout=30")
	w("InactiveLimit=0")
	w("KillWait=2")
	w("MinJobAge=2")
	for _, l := range cfg.ConfLines {
		w("%s", l)
	}
	for i, n := range c.Nodes {
		w("NodeName=%s NodeHostname=%s NodeAddr=127.0.0.1 Port=%d CPUs=1 State=UNKNOWN", n, c.hostname, ports[1+i])
	}
	w("PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16")
	return b.String()
}

// WriteConfVariant writes a copy of the configuration with another AuthInfo
// (the refused client's) and returns its path.
func (c *Cluster) WriteConfVariant(name, authInfo string) (string, error) {
	data, err := os.ReadFile(c.Conf)
	if err != nil {
		return "", err
	}
	var out []string
	seen := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "AuthInfo=") {
			seen = true
			if authInfo == "" {
				continue
			}
			l = "AuthInfo=" + authInfo
		}
		out = append(out, l)
	}
	if !seen && authInfo != "" {
		out = append([]string{"AuthInfo=" + authInfo}, out...)
	}
	p := filepath.Join(c.Dir, name)
	return p, os.WriteFile(p, []byte(strings.Join(out, "\n")), 0o644)
}

// WriteConfRelayed writes a copy of the configuration whose clients reach
// slurmctld at relayPort instead (a relay in between), and returns its
// path and slurmctld's own port.
func (c *Cluster) WriteConfRelayed(name string, relayPort int) (string, int, error) {
	data, err := os.ReadFile(c.Conf)
	if err != nil {
		return "", 0, err
	}
	lines := strings.Split(string(data), "\n")
	ctldPort := 0
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "SlurmctldPort="); ok {
			if ctldPort, err = strconv.Atoi(v); err != nil {
				return "", 0, fmt.Errorf("%s: %w", c.Conf, err)
			}
			lines[i] = fmt.Sprintf("SlurmctldPort=%d", relayPort)
		}
	}
	if ctldPort == 0 {
		return "", 0, fmt.Errorf("%s has no SlurmctldPort", c.Conf)
	}
	p := filepath.Join(c.Dir, name)
	return p, ctldPort, os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o644)
}

// enterNamespace starts the process that holds the mount namespace.
func (c *Cluster) enterNamespace(ctx context.Context) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, d := range overlaid {
		lower := shellQuote(filepath.Join(c.Cfg.Root, d))
		if d == "usr/sbin" && c.Cfg.Sbin != "" {
			lower = shellQuote(c.Cfg.Sbin) + ":" + lower
		}
		fmt.Fprintf(&script, "mount -t overlay plugincheck-e2e -o ro,lowerdir=%s:/%s /%s\n", lower, d, d)
	}
	script.WriteString("echo ready\nexec sleep 2147483647\n")
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script.String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	c.holder = cmd
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		c.holder = nil
		return fmt.Errorf("cannot set up the daemons' mount namespace (needs root and overlayfs): %s",
			strings.TrimSpace(stderr.String()))
	}
	c.nsPath = fmt.Sprintf("/proc/%d/ns/mnt", cmd.Process.Pid)
	c.nsID, _ = os.Readlink(c.nsPath)
	if own, _ := os.Readlink("/proc/self/ns/mnt"); c.nsID == "" || c.nsID == own {
		return errors.New("the daemons' mount namespace is not private")
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// inNS is the command line running args inside the namespace, as uid/gid
// when uid >= 0.
func (c *Cluster) inNS(uid, gid int, args ...string) []string {
	a := []string{"nsenter", "--mount=" + c.nsPath}
	if uid >= 0 {
		a = append(a, "--setuid", strconv.Itoa(uid), "--setgid", strconv.Itoa(gid))
	}
	return append(append(a, "--"), args...)
}

func (c *Cluster) env(conf string, extra []string) []string {
	env := append(os.Environ(), "SLURM_CONF="+conf)
	env = append(env, c.Cfg.Env...)
	return append(env, extra...)
}

func (c *Cluster) startDaemon(name, log string, env []string, args ...string) (*Daemon, error) {
	d := &Daemon{Name: name, Log: log, Out: &TailBuffer{Max: 1 << 20}, done: make(chan struct{})}
	// No core file: slurmctld dumps it in / (outside the cluster's
	// directory); the signal is the evidence.
	argv := c.inNS(-1, -1, append([]string{"prlimit", "--core=0", "--"}, args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = c.env(c.Conf, env)
	cmd.Dir = c.Dir
	cmd.Stdout, cmd.Stderr = d.Out, d.Out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	d.cmd = cmd
	go func() {
		cmd.Wait()
		d.state = cmd.ProcessState
		close(d.done)
	}()
	return d, nil
}

// Result of one client command.
type CmdResult struct {
	Line     string // the command as a user would type it
	Stdout   string
	Stderr   string
	Err      error
	Duration time.Duration
}

func (r *CmdResult) String() string {
	s := "$ " + r.Line
	if r.Err != nil {
		s += "  → " + r.Err.Error()
	}
	if t := strings.TrimSpace(r.Stdout); t != "" {
		s += "\n" + tail(t, 10)
	}
	if t := strings.TrimSpace(r.Stderr); t != "" {
		s += "\n" + tail(t, 10)
	}
	return s
}

// User is who runs a client command.
type User struct {
	Name     string
	UID, GID int // -1: root, as the tool runs
}

// Root is the tool's own user.
var Root = User{Name: "root", UID: -1, GID: -1}

// Client runs a client command (srun, sbatch, scontrol, …) inside the
// namespace with conf as SLURM_CONF (the cluster's when empty).
func (c *Cluster) Client(ctx context.Context, u User, conf string, env []string, timeout time.Duration, args ...string) *CmdResult {
	if conf == "" {
		conf = c.Conf
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := c.inNS(u.UID, u.GID, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = c.env(conf, env)
	cmd.Dir = c.JobDir
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	r := &CmdResult{Line: strings.Join(args, " ")}
	if u.UID >= 0 {
		r.Line = fmt.Sprintf("(as %s) %s", u.Name, r.Line)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.Err = err
		return r
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// A client waits long for a slurmctld that has died: give it a moment
	// to say so itself, then end it.
	var ctldDone <-chan struct{}
	if c.Ctld != nil {
		ctldDone = c.Ctld.done
	}
	select {
	case r.Err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		r.Err = fmt.Errorf("no answer within %s", timeout)
	case <-ctldDone:
		select {
		case r.Err = <-done:
		case <-time.After(2 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			r.Err = errors.New("slurmctld died while it waited for an answer")
		}
	}
	r.Duration = time.Since(start)
	r.Stdout, r.Stderr = so.String(), se.String()
	return r
}

// waitCtld waits until `scontrol ping` says slurmctld is up.
func (c *Cluster) waitCtld(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last *CmdResult
	for time.Now().Before(deadline) {
		if ok, how := c.Ctld.Exited(); ok {
			return fmt.Errorf("slurmctld %s at start", how)
		}
		last = c.Client(ctx, Root, "", nil, 5*time.Second, "scontrol", "ping")
		if last.Err == nil && strings.Contains(last.Stdout, "is UP") {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("slurmctld did not answer scontrol ping within %s:\n%s", limit, last)
}

// WaitIdle waits until every node is idle; it returns the last sinfo.
func (c *Cluster) WaitIdle(ctx context.Context, limit time.Duration) (*CmdResult, error) {
	deadline := time.Now().Add(limit)
	var last *CmdResult
	for time.Now().Before(deadline) {
		if d := c.Dead(); d != "" {
			return last, errors.New(d)
		}
		last = c.Client(ctx, Root, "", nil, 5*time.Second, "sinfo", "-h", "-N", "-o", "%N %t")
		if last.Err == nil {
			idle := 0
			for _, l := range strings.Split(strings.TrimSpace(last.Stdout), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[1] == "idle" {
					idle++
				}
			}
			if idle == len(c.Nodes) {
				return last, nil
			}
		}
		if ctx.Err() != nil {
			return last, ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last, fmt.Errorf("the nodes did not go idle within %s", limit)
}

// Dead names the daemons that have ended, and how; "" when all run.
func (c *Cluster) Dead() string {
	var out []string
	for _, d := range c.daemons() {
		if ok, how := d.Exited(); ok {
			out = append(out, d.Name+" "+how)
		}
	}
	return strings.Join(out, "; ")
}

func (c *Cluster) daemons() []*Daemon {
	var ds []*Daemon
	if c.Ctld != nil {
		ds = append(ds, c.Ctld)
	}
	return append(ds, c.Slurmd...)
}

// Evidence is the log tail of every daemon (its log file and its own
// stdout/stderr, where glibc writes "double free detected").
func (c *Cluster) Evidence(lines int) []string {
	var out []string
	for _, d := range c.daemons() {
		state := "running"
		if ok, how := d.Exited(); ok {
			state = how
		}
		s := fmt.Sprintf("%s (%s), last lines of %s:\n%s", d.Name, state, filepath.Base(d.Log), tailFile(d.Log, lines))
		// Its stderr repeats the log ("slurmctld: …"); what else is there
		// comes from elsewhere, e.g. glibc's "double free detected".
		// A daemon that ends before it opens its log (a plugin it
		// cannot load) says why on stderr only: all of it counts then.
		data := d.Out.Bytes()
		var other []string
		prog, _, _ := strings.Cut(d.Name, " ")
		_, noLog := os.Stat(d.Log)
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && (noLog != nil || !strings.HasPrefix(l, prog+": ")) {
				other = append(other, l)
			}
		}
		switch {
		case len(other) > 0 && noLog != nil:
			s += "\n  its stderr:\n" + tail(strings.Join(other, "\n"), lines)
		case len(other) > 0:
			s += "\n  its stderr, besides the log:\n" + tail(strings.Join(other, "\n"), lines)
		}
		out = append(out, s)
	}
	return out
}

// RSS is a daemon's resident set in KiB (0 when it is gone).
func (d *Daemon) RSS() int {
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.Atoi(f[1])
				return n
			}
		}
	}
	return 0
}

// Stop ends the cluster: `scontrol shutdown`, then SIGTERM and SIGKILL to
// every process left in the namespace (slurmstepd and job tasks included),
// then removes every file. It is safe to call twice.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holder != nil {
		for _, d := range c.daemons() {
			d.stopped = true
		}
		if c.Ctld != nil {
			if ok, _ := c.Ctld.Exited(); !ok {
				c.Client(context.Background(), Root, "", nil, 5*time.Second, "scontrol", "shutdown")
			}
		}
		wait := func(limit time.Duration) bool {
			deadline := time.Now().Add(limit)
			for time.Now().Before(deadline) {
				alive := false
				for _, d := range c.daemons() {
					if ok, _ := d.Exited(); !ok {
						alive = true
					}
				}
				if !alive {
					return true
				}
				time.Sleep(50 * time.Millisecond)
			}
			return false
		}
		wait(5 * time.Second)
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
			for _, d := range c.daemons() {
				if ok, _ := d.Exited(); !ok {
					syscall.Kill(-d.cmd.Process.Pid, sig)
				}
			}
			if sig == syscall.SIGTERM {
				wait(3 * time.Second)
			}
		}
		wait(5 * time.Second)
		// Whatever else is inside (slurmstepd, job tasks), then the holder.
		for i := 0; i < 20; i++ {
			pids := c.nsPids()
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGKILL)
			}
			time.Sleep(50 * time.Millisecond)
		}
		syscall.Kill(-c.holder.Process.Pid, syscall.SIGKILL)
		c.holder.Wait()
		c.holder = nil
	}
	if c.Dir != "" {
		err := os.RemoveAll(c.Dir)
		c.Dir = ""
		return err
	}
	return nil
}

// nsPids lists the processes in the cluster's mount namespace but the
// holder itself.
func (c *Cluster) nsPids() []int {
	if c.nsID == "" {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || (c.holder != nil && pid == c.holder.Process.Pid) {
			continue
		}
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid)); l == c.nsID {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// TailBuffer keeps the last Max bytes written to it.
type TailBuffer struct {
	Max int
	mu  sync.Mutex
	buf []byte
}

func (t *TailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.Max {
		t.buf = append(t.buf[:0:0], t.buf[len(t.buf)-t.Max:]...)
	}
	return len(p), nil
}

// Bytes is a copy of what it holds.
func (t *TailBuffer) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...)
}

// readTail reads at most the last max bytes of a file.
func readTail(path string, max int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, io.SeekStart)
	}
	data, _ := io.ReadAll(io.LimitReader(f, max))
	return data
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func tailFile(path string, n int) string {
	if _, err := os.Stat(path); err != nil {
		return "  (" + err.Error() + ")"
	}
	return tail(string(readTail(path, 64<<10)), n)
}
