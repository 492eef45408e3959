package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
)

// Status of one E2E clause.
type Status string

const (
	Passed    Status = "passed"
	Failed    Status = "FAILED"
	NotTested Status = "not tested"
)

// Result is the verdict on one clause, with the evidence of a failure.
type Result struct {
	ID       string   `json:"id"`
	Level    string   `json:"level"` // MUST, SHOULD
	Status   Status   `json:"result"`
	Detail   string   `json:"detail,omitempty"`
	Evidence []string `json:"evidence,omitempty"`
}

// Clauses are the E2E clauses, in the order they are checked.
var Clauses = []struct{ ID, Level string }{
	{"E2E-START", "MUST"},
	{"E2E-JOB", "MUST"},
	{"E2E-SBCAST", "MUST"},
	{"E2E-REFUSE", "MUST"},
	{"E2E-STABLE", "MUST"},
	{"E2E-TAMPER", "SHOULD"},
}

// Options of one end-to-end run.
type Options struct {
	Plugin string
	// DaemonCache holds the daemon roots, one per release
	// (hack/fetch-slurm.sh --daemons); Root overrides the choice.
	DaemonCache string
	Root        string
	// SlurmSbin is a directory of the vendor's own slurmctld, slurmd and
	// slurmstepd, used instead of the root's (its libraries and clients
	// stay the root's).
	SlurmSbin string
	Nodes     int
	AuthInfo  string   // the run's --auth-info, added to AuthInfo
	ConfLines []string // the run's --conf-line settings
	// RefuseAuthInfo is the AuthInfo of a client that must be refused;
	// RefuseEnv its extra environment. Built in for auth/munge.
	RefuseAuthInfo string
	RefuseEnv      []string
	// StableRPCs and StableJobs size E2E-STABLE (defaults 300 and 30).
	StableRPCs, StableJobs int
	// Submitter is the non-root user of E2E-JOB (default nobody).
	Submitter string
	// Progress, when set, gets one line per step.
	Progress func(string)
}

// Report is what one run found.
type Report struct {
	Plugin   string        `json:"plugin"`
	Type     string        `json:"plugin_type"`
	Release  string        `json:"release"` // the daemons' release
	Root     string        `json:"daemon_root"`
	Nodes    int           `json:"nodes"`
	Config   string        `json:"config"` // AuthType/CredType line
	Results  []Result      `json:"clauses"`
	Duration time.Duration `json:"duration_ns"`
}

// Failed says whether a MUST clause failed.
func (r *Report) Failed() bool {
	for _, x := range r.Results {
		if x.Status == Failed && x.Level == "MUST" {
			return true
		}
	}
	return false
}

// Get returns the result of clause id.
func (r *Report) Get(id string) *Result {
	for i := range r.Results {
		if r.Results[i].ID == id {
			return &r.Results[i]
		}
	}
	return nil
}

// FindRoot picks the daemon root of release series (e.g. "22.05") in cache.
func FindRoot(cache, series string) (string, error) {
	ents, err := os.ReadDir(cache)
	if err != nil {
		return "", fmt.Errorf("no daemon roots: %w (run make daemons, or hack/fetch-slurm.sh --daemons DIR)", err)
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), series+".") {
			if _, err := os.Stat(filepath.Join(cache, e.Name(), ".complete")); err == nil {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no daemon root of Slurm %s in %s (run make daemons)", series, cache)
	}
	sort.Strings(names)
	return filepath.Join(cache, names[len(names)-1]), nil
}

// Run checks the E2E clauses for one plugin. An error is a setup problem
// (no daemons, not a plugin); a daemon that breaks is a Failed result.
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if p := o.Progress; p != nil {
		o.Progress = func(s string) { p(fmt.Sprintf("%5.1fs %s", time.Since(start).Seconds(), s)) }
	}
	progress := func(f string, a ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(f, a...))
		}
	}
	if o.Nodes < 1 {
		o.Nodes = 1
	}
	if o.StableRPCs == 0 {
		o.StableRPCs = 300
	}
	if o.StableJobs == 0 {
		o.StableJobs = 30
	}
	u, err := findPlugin(o)
	if err != nil {
		return nil, err
	}
	p, kind, minor, root := u.plugin, u.kind, u.minor, u.root
	rep := &Report{Plugin: u.path, Type: p.Type, Release: filepath.Base(root), Root: root, Nodes: o.Nodes}

	submitter, err := lookupUser(o.Submitter)
	if err != nil {
		return nil, err
	}

	pdir, err := u.linkDir()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(pdir)

	cfg := ClusterConfig{Root: root, Nodes: o.Nodes, AuthType: "auth/munge", CredType: "cred/munge",
		PluginDir: pdir, ConfLines: o.ConfLines}
	if o.SlurmSbin != "" {
		if cfg.Sbin, err = filepath.Abs(o.SlurmSbin); err != nil {
			return nil, err
		}
		for _, d := range []string{"slurmctld", "slurmd", "slurmstepd"} {
			if _, err := os.Stat(filepath.Join(cfg.Sbin, d)); err != nil {
				return nil, fmt.Errorf("--slurm-sbin: %w", err)
			}
		}
	}
	if kind == "auth" {
		cfg.AuthType = p.Type
	} else {
		cfg.CredType = p.Type
	}
	rep.Config = fmt.Sprintf("AuthType=%s CredType=%s", cfg.AuthType, cfg.CredType)

	// munged: the pairing is always with a munge plugin of the generation.
	progress("munged")
	md, err := munged.Start(ctx)
	if err != nil {
		return nil, err
	}
	defer md.Stop()
	cfg.AuthInfo = joinInfo(md.AuthInfo(0), o.AuthInfo)

	progress("cluster of %d node(s), Slurm %s, %s", o.Nodes, rep.Release, rep.Config)
	c, err := StartCluster(ctx, cfg)
	if err != nil {
		if c == nil || c.Ctld == nil {
			return nil, err
		}
		// The daemons were started: their failure is the finding.
		rep.Results = append(rep.Results, Result{ID: "E2E-START", Level: "MUST", Status: Failed,
			Detail: err.Error(), Evidence: c.Evidence(20)})
		c.Stop()
		rep.fill("the cluster did not start")
		rep.Duration = time.Since(start)
		return rep, nil
	}
	stopped := false
	defer func() {
		if !stopped {
			c.Stop()
		}
	}()
	ck := &checker{c: c, o: o, rep: rep, sub: submitter, ctx: ctx, md: md, kind: kind, minor: minor}
	ck.start()
	ck.job()
	ck.sbcast()
	ck.refuse()
	ck.stable()
	ck.tamper()
	progress("stopping the cluster")
	c.Stop()
	stopped = true
	rep.fill("")
	rep.Duration = time.Since(start)
	return rep, nil
}

// fill adds the clauses not checked, in order.
func (r *Report) fill(reason string) {
	var out []Result
	for _, cl := range Clauses {
		if x := r.Get(cl.ID); x != nil {
			out = append(out, *x)
			continue
		}
		why := reason
		if why == "" {
			why = "not reached"
		}
		out = append(out, Result{ID: cl.ID, Level: cl.Level, Status: NotTested, Detail: why})
	}
	r.Results = out
}

func joinInfo(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "," + b
}

func lookupUser(name string) (User, error) {
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, fmt.Errorf("submitter %q: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return User{}, fmt.Errorf("submitter %q is root; E2E-JOB needs a non-root user", name)
	}
	return User{Name: name, UID: uid, GID: gid}, nil
}

type checker struct {
	c     *Cluster
	o     Options
	rep   *Report
	sub   User
	ctx   context.Context
	md    *munged.Daemon
	kind  string
	minor string
	down  string // why the cluster is no longer usable
}

func (k *checker) progress(f string, a ...any) {
	if k.o.Progress != nil {
		k.o.Progress(fmt.Sprintf(f, a...))
	}
}

func (k *checker) level(id string) string {
	for _, c := range Clauses {
		if c.ID == id {
			return c.Level
		}
	}
	return "MUST"
}

func (k *checker) pass(id, detail string) {
	k.rep.Results = append(k.rep.Results, Result{ID: id, Level: k.level(id), Status: Passed, Detail: detail})
}

func (k *checker) notTested(id, why string) {
	k.rep.Results = append(k.rep.Results, Result{ID: id, Level: k.level(id), Status: NotTested, Detail: why})
}

// fail records a failure with the failing commands and the daemons' logs.
func (k *checker) fail(id, detail string, cmds ...*CmdResult) {
	var ev []string
	for _, r := range cmds {
		if r != nil {
			ev = append(ev, r.String())
		}
	}
	if d := k.c.Dead(); d != "" {
		detail += " (" + d + ")"
		if k.down == "" {
			k.down = d + " during " + id
		}
	}
	ev = append(ev, k.c.Evidence(15)...)
	k.rep.Results = append(k.rep.Results, Result{ID: id, Level: k.level(id), Status: Failed, Detail: detail, Evidence: ev})
}

// usable says whether the next clause can run; when not it is not tested.
func (k *checker) usable(id string) bool {
	if k.down == "" {
		if d := k.c.Dead(); d != "" {
			k.down = d
		}
	}
	if k.down != "" {
		if id == "E2E-STABLE" {
			// The evidence is with the clause during which it died.
			k.rep.Results = append(k.rep.Results, Result{ID: id, Level: k.level(id), Status: Failed,
				Detail: "a daemon died: " + k.down})
			return false
		}
		k.notTested(id, "the cluster is down: "+k.down)
		return false
	}
	return true
}

func (k *checker) client(u User, timeout time.Duration, args ...string) *CmdResult {
	return k.c.Client(k.ctx, u, "", nil, timeout, args...)
}

func (k *checker) start() {
	k.progress("E2E-START")
	ping := k.client(Root, 10*time.Second, "scontrol", "ping")
	if ping.Err != nil || !strings.Contains(ping.Stdout, "is UP") {
		k.fail("E2E-START", "scontrol ping does not answer UP", ping)
		return
	}
	sinfo, err := k.c.WaitIdle(k.ctx, 30*time.Second)
	if err != nil {
		k.fail("E2E-START", err.Error(), sinfo)
		return
	}
	k.pass("E2E-START", fmt.Sprintf("slurmctld up, %d node(s) idle", len(k.c.Nodes)))
}

var idLine = regexp.MustCompile(`uid=(\d+)\S* gid=(\d+)`)

// idsSeen checks that every id(1) line says the submitter's uid and gid,
// and that there are want of them.
func (k *checker) idsSeen(out string, want int) error {
	m := idLine.FindAllStringSubmatch(out, -1)
	if len(m) != want {
		return fmt.Errorf("%d id line(s) where %d task(s) ran", len(m), want)
	}
	for _, x := range m {
		if x[1] != strconv.Itoa(k.sub.UID) || x[2] != strconv.Itoa(k.sub.GID) {
			return fmt.Errorf("the job saw uid %s gid %s, the submitter is %s (uid %d gid %d)",
				x[1], x[2], k.sub.Name, k.sub.UID, k.sub.GID)
		}
	}
	return nil
}

func (k *checker) job() {
	const id = "E2E-JOB"
	if !k.usable(id) {
		return
	}
	k.progress(id)
	n := strconv.Itoa(len(k.c.Nodes))
	r := k.client(k.sub, 60*time.Second, "srun", "-N"+n, "-n"+n, "id")
	if r.Err != nil {
		k.fail(id, "srun failed", r)
		return
	}
	if err := k.idsSeen(r.Stdout, len(k.c.Nodes)); err != nil {
		k.fail(id, "srun: "+err.Error(), r)
		return
	}
	out := filepath.Join(k.c.JobDir, "sbatch-%j.out")
	b := k.client(k.sub, 90*time.Second, "sbatch", "--wait", "-N"+n, "-o", out, "--wrap", "id")
	if b.Err != nil {
		k.fail(id, "sbatch --wait failed", b)
		return
	}
	m := regexp.MustCompile(`Submitted batch job (\d+)`).FindStringSubmatch(b.Stdout)
	if m == nil {
		k.fail(id, "sbatch printed no job id", b)
		return
	}
	data, err := os.ReadFile(strings.Replace(out, "%j", m[1], 1))
	if err != nil {
		k.fail(id, "the batch job wrote no output: "+err.Error(), b)
		return
	}
	if err := k.idsSeen(string(data), 1); err != nil {
		k.fail(id, "sbatch: "+err.Error(), b)
		return
	}
	k.pass(id, fmt.Sprintf("srun -N%s id and sbatch --wait ran as %s (uid %d gid %d)", n, k.sub.Name, k.sub.UID, k.sub.GID))
}

func (k *checker) sbcast() {
	const id = "E2E-SBCAST"
	if !k.usable(id) {
		return
	}
	k.progress(id)
	payload := make([]byte, 256<<10)
	for i := range payload {
		payload[i] = byte(i*7 + i>>9)
	}
	src := filepath.Join(k.c.JobDir, "sbcast.src")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		k.fail(id, err.Error())
		return
	}
	want := fmt.Sprintf("%x", sha256.Sum256(payload))
	n := strconv.Itoa(len(k.c.Nodes))
	// Several slurmd of one host share its /tmp: one copy per node name.
	script := fmt.Sprintf("#!/bin/sh\nset -e\nsbcast -f %s %s/sbcast.$SLURM_JOB_ID.copy\nsrun -N%s -n%s sha256sum %s/sbcast.$SLURM_JOB_ID.copy\n",
		src, k.c.JobDir, n, n, k.c.JobDir)
	sp := filepath.Join(k.c.JobDir, "sbcast.sh")
	if err := os.WriteFile(sp, []byte(script), 0o755); err != nil {
		k.fail(id, err.Error())
		return
	}
	// salloc runs the script on this host, where sbcast reads the file
	// (an sbatch --wait would cost its polling interval again).
	r := k.client(k.sub, 90*time.Second, "salloc", "-N"+n, sp)
	data := []byte(r.Stdout)
	if r.Err != nil {
		k.fail(id, "the sbcast job failed", r)
		return
	}
	if got := strings.Count(string(data), want); got != len(k.c.Nodes) {
		k.fail(id, fmt.Sprintf("%d of %d node(s) hold an identical copy", got, len(k.c.Nodes)), r)
		return
	}
	k.pass(id, fmt.Sprintf("sbcast of 256 KiB to %s node(s): identical copies", n))
}

// authErr matches a client's report of a refused credential.
var authErr = regexp.MustCompile(`(?i)auth|credential|Protocol authentication error|Invalid`)

func (k *checker) refuse() {
	const id = "E2E-REFUSE"
	if !k.usable(id) {
		return
	}
	if k.kind == "cred" {
		k.refuseCred()
		return
	}
	// Another munged, another key, for auth/munge; auth/none ignores it
	// (by design).
	info, env, stop, ok := k.refusedConfig(k.minor == "munge" || k.minor == "none",
		fmt.Sprintf("no built-in way to make a client of %s with another key: give --refuse-auth-info STR or --refuse-env VAR=VALUE", k.rep.Type))
	if !ok {
		return
	}
	defer stop()
	k.progress(id)
	conf, err := k.c.WriteConfVariant("refused.conf", info)
	if err != nil {
		k.notTested(id, err.Error())
		return
	}
	var accepted []*CmdResult
	var refused []*CmdResult
	logBefore := k.authErrorLines()
	for _, args := range [][]string{{"squeue"}, {"sinfo"}} {
		r := k.c.Client(k.ctx, k.sub, conf, env, 30*time.Second, args...)
		if r.Err == nil {
			accepted = append(accepted, r)
		} else {
			refused = append(refused, r)
		}
	}
	if len(accepted) > 0 {
		k.fail(id, fmt.Sprintf("a client with another key (AuthInfo=%s%s) was served", info, envNote(env)), accepted...)
		return
	}
	// Older releases close the connection without an answer ("Zero Bytes
	// were transmitted or received"): slurmctld's log says why.
	logged := k.authErrorLines() > logBefore
	for _, r := range refused {
		if !authErr.MatchString(r.Stderr) && !logged {
			k.fail(id, "a client with another key failed, but not with an authentication error (neither it nor slurmctld's log says so)", r)
			return
		}
	}
	if d := k.c.Dead(); d != "" {
		k.fail(id, "the daemons did not stay up", refused...)
		return
	}
	ping := k.client(Root, 10*time.Second, "scontrol", "ping")
	if ping.Err != nil || !strings.Contains(ping.Stdout, "is UP") {
		k.fail(id, "slurmctld stopped answering after the refused client", ping)
		return
	}
	why := firstLine(refused[0].Stderr)
	if !authErr.MatchString(why) {
		if m := authLogLine.FindAll(readTail(k.c.Ctld.Log, 8<<20), -1); len(m) > 0 {
			why += "; slurmctld: " + strings.TrimSpace(string(m[len(m)-1]))
		}
	}
	k.pass(id, "refused: "+why)
}

// refusedConfig is the AuthInfo and environment of the party that must be
// refused: the user's --refuse-auth-info and --refuse-env, else, when
// otherMunged, a second munged (another key) stopped by stop. Without
// either, E2E-REFUSE is not tested for the reason howTo, and ok is false.
func (k *checker) refusedConfig(otherMunged bool, howTo string) (info string, env []string, stop func(), ok bool) {
	const id = "E2E-REFUSE"
	info, env, stop = k.o.RefuseAuthInfo, k.o.RefuseEnv, func() {}
	switch {
	case info != "" || len(env) > 0:
	case otherMunged:
		other, err := munged.Start(k.ctx)
		if err != nil {
			k.notTested(id, "a second munged: "+err.Error())
			return "", nil, nil, false
		}
		info, stop = joinInfo(other.AuthInfo(0), k.o.AuthInfo), func() { other.Stop() }
	default:
		k.notTested(id, howTo)
		return "", nil, nil, false
	}
	if info == "" {
		// Only --refuse-env: the cluster's AuthInfo stays.
		info = k.c.Cfg.AuthInfo
	}
	return info, env, stop, true
}

// refuseCred checks E2E-REFUSE for a cred plugin: a job credential that
// slurmctld signed must be refused by a node whose cred plugin has another
// key. Auth and cred share AuthInfo in one daemon (cred/munge takes its
// munged socket from it), so a node with another munge key would fail
// auth/munge first; a second, short-lived cluster with auth/none, whose
// slurmd alone gets the other key, isolates the cred plugin. Built in for
// cred/munge (another munged); other cred plugins are told how with
// --refuse-auth-info (the node's AuthInfo) or --refuse-env (its
// environment).
func (k *checker) refuseCred() {
	const id = "E2E-REFUSE"
	info, env, stop, ok := k.refusedConfig(k.minor == "munge",
		fmt.Sprintf("no built-in way to give a node of %s another key: give --refuse-auth-info STR (the node's AuthInfo) or --refuse-env VAR=VALUE (its environment)", k.rep.Type))
	if !ok {
		return
	}
	defer stop()
	k.progress("%s: a second cluster (auth/none), its node with AuthInfo=%s", id, info)
	cfg := k.c.Cfg
	cfg.Nodes, cfg.AuthType, cfg.SlurmdAuthInfo, cfg.SlurmdEnv = 1, "auth/none", info, env
	rc, err := StartCluster(k.ctx, cfg)
	if err != nil {
		k.notTested(id, "the second cluster (auth/none, a node with another key) did not start: "+firstLine(err.Error()))
		return
	}
	defer rc.Stop()
	if sinfo, err := rc.WaitIdle(k.ctx, 30*time.Second); err != nil {
		k.notTested(id, "the node with another key did not register with the second cluster: "+err.Error()+"\n"+sinfoText(sinfo))
		return
	}
	fail := func(detail string, cmds ...*CmdResult) {
		var ev []string
		for _, r := range cmds {
			ev = append(ev, r.String())
		}
		ev = append(ev, rc.Evidence(15)...)
		k.rep.Results = append(k.rep.Results, Result{ID: id, Level: k.level(id), Status: Failed, Detail: detail, Evidence: ev})
	}
	r := rc.Client(k.ctx, k.sub, "", nil, 60*time.Second, "srun", "-N1", "-n1", "id")
	if r.Err == nil {
		fail(fmt.Sprintf("a node with another key (AuthInfo=%s%s) ran a job whose credential slurmctld signed", info, envNote(env)), r)
		return
	}
	var why string
	for _, d := range rc.Slurmd {
		if m := credLogLine.FindAll(readTail(d.Log, 8<<20), -1); len(m) > 0 {
			why = strings.TrimSpace(string(m[len(m)-1]))
		}
	}
	if why == "" {
		fail("the job failed on the node with another key, but its slurmd logged no refused credential", r)
		return
	}
	if d := rc.Dead(); d != "" {
		fail("the daemons did not stay up: "+d, r)
		return
	}
	ping := rc.Client(k.ctx, Root, "", nil, 10*time.Second, "scontrol", "ping")
	if ping.Err != nil || !strings.Contains(ping.Stdout, "is UP") {
		fail("slurmctld stopped answering after the refused credential", ping)
		return
	}
	k.pass(id, "a node with another key refused the job credential: "+why)
}

// credLogLine is a slurmd's log line about a job credential it refused.
var credLogLine = regexp.MustCompile(`(?im)^.*(credential|cred_verify|cred_p_|signature|munge_decode|Invalid job).*(error|invalid|fail|mismatch|unverified|refus).*$|^.*error.*(credential|signature).*$`)

// envNote names the extra environment of a refused party.
func envNote(env []string) string {
	if len(env) == 0 {
		return ""
	}
	return ", environment " + strings.Join(env, " ")
}

func sinfoText(r *CmdResult) string {
	if r == nil {
		return ""
	}
	return r.String()
}

// authErrorLines counts slurmctld's log lines about a refused credential.
func (k *checker) authErrorLines() int {
	return len(authLogLine.FindAll(readTail(k.c.Ctld.Log, 8<<20), -1))
}

var authLogLine = regexp.MustCompile(`(?im)^.*(authentication error|Invalid credential|auth_g_verify|g_slurm_auth_verify).*$`)

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// pluginErrors finds error lines from the plugin in the daemons' logs, and
// aborts.
func (k *checker) pluginErrors() []string {
	pat := regexp.MustCompile(`(?i)(` + regexp.QuoteMeta(k.rep.Type) + `|` + k.kind + `_p_|` + k.kind + `_g_).*(error|fail)|(error|fatal).*` +
		regexp.QuoteMeta(k.rep.Type) + `|double free|free\(\)|malloc|abort|corrupt|stack smashing`)
	var out []string
	for _, d := range k.c.daemons() {
		for _, src := range []struct {
			name string
			data []byte
		}{{filepath.Base(d.Log), readTail(d.Log, 8<<20)}, {d.Name + " stderr", d.Out.Bytes()}} {
			for _, l := range strings.Split(string(src.data), "\n") {
				if pat.MatchString(l) {
					out = append(out, src.name+": "+l)
				}
			}
		}
	}
	return out
}

func (k *checker) stable() {
	const id = "E2E-STABLE"
	if !k.usable(id) {
		return
	}
	k.progress("%s: %d RPCs, %d jobs", id, k.o.StableRPCs, k.o.StableJobs)
	// The refused client's lines are expected; only what comes after counts.
	before := k.pluginErrors()
	rss0 := map[string]int{}
	for _, d := range k.c.daemons() {
		rss0[d.Name] = d.RSS()
	}
	n := strconv.Itoa(len(k.c.Nodes))
	var mu sync.Mutex
	var bad []*CmdResult
	took := map[string][]time.Duration{}
	jobs := make(chan []string)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for args := range jobs {
				u := Root
				if args[0] == "srun" || args[0] == "squeue" {
					u = k.sub
				}
				r := k.client(u, 60*time.Second, args...)
				mu.Lock()
				if r.Err != nil {
					bad = append(bad, r)
				}
				took[args[0]] = append(took[args[0]], r.Duration)
				mu.Unlock()
			}
		}()
	}
	rpcs := [][]string{{"scontrol", "ping"}, {"squeue"}, {"sinfo"}, {"scontrol", "show", "nodes"}}
	jobsLeft := k.o.StableJobs
	for i := 0; i < k.o.StableRPCs; i++ {
		if jobsLeft > 0 && i%(k.o.StableRPCs/k.o.StableJobs+1) == 0 {
			jobs <- []string{"srun", "-N" + n, "-n" + n, "true"}
			jobsLeft--
		}
		jobs <- rpcs[i%len(rpcs)]
		if k.c.Dead() != "" || k.ctx.Err() != nil {
			break
		}
	}
	for ; jobsLeft > 0 && k.c.Dead() == "" && k.ctx.Err() == nil; jobsLeft-- {
		jobs <- []string{"srun", "-N" + n, "-n" + n, "true"}
	}
	close(jobs)
	wg.Wait()
	if d := k.c.Dead(); d != "" {
		k.fail(id, "a daemon died under load", bad...)
		return
	}
	if len(bad) > 0 {
		if len(bad) > 3 {
			bad = bad[:3]
		}
		k.fail(id, "commands failed under load", bad...)
		return
	}
	after := k.pluginErrors()
	if len(after) > len(before) {
		k.fail(id, "the daemons logged errors from the plugin:\n  "+strings.Join(after[len(before):min(len(after), len(before)+10)], "\n  "))
		return
	}
	var growth []string
	worst := 0
	for _, d := range k.c.daemons() {
		g := d.RSS() - rss0[d.Name]
		growth = append(growth, fmt.Sprintf("%s %+d KiB", d.Name, g))
		worst = max(worst, g)
	}
	// Slurm's own caches and thread stacks grow a little at first; a leak
	// per RPC or job of the plugin's size shows as tens of MiB.
	if worst > 64<<10 {
		k.fail(id, "memory grew: "+strings.Join(growth, ", "))
		return
	}
	var times []string
	for _, c := range []string{"srun", "scontrol", "squeue", "sinfo"} {
		if d := took[c]; len(d) > 0 {
			sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
			times = append(times, fmt.Sprintf("%s median %s", c, d[len(d)/2].Round(time.Millisecond)))
		}
	}
	k.pass(id, fmt.Sprintf("%d RPCs and %d jobs; RSS %s; %s", k.o.StableRPCs, k.o.StableJobs, strings.Join(growth, ", "), strings.Join(times, ", ")))
}

// pluginUnderTest is the plugin a cluster runs: its file, what it says of
// itself, and the daemon root of its release.
type pluginUnderTest struct {
	path        string // absolute
	plugin      *loader.Plugin
	kind, minor string // "auth", "munge"
	root        string
}

// findPlugin inspects o.Plugin and finds the daemons of its release
// (o.Root, else the series' root in o.DaemonCache).
func findPlugin(o Options) (u pluginUnderTest, err error) {
	if u.path, err = filepath.Abs(o.Plugin); err != nil {
		return u, err
	}
	if u.plugin, err = loader.InspectPlugin(u.path); err != nil {
		return u, err
	}
	u.kind, u.minor = string(u.plugin.Kind()), u.plugin.Minor()
	if (u.kind != "auth" && u.kind != "cred") || u.minor == "" {
		return u, fmt.Errorf("%s: plugin_type %q is neither auth/… nor cred/…", o.Plugin, u.plugin.Type)
	}
	if u.plugin.Version == nil {
		return u, fmt.Errorf("%s: no plugin_version, so no Slurm release to run it in", o.Plugin)
	}
	if u.root = o.Root; u.root == "" {
		u.root, err = FindRoot(o.DaemonCache, u.plugin.Version.Series())
	}
	return u, err
}

// linkDir makes a directory that holds the plugin alone, under the name
// Slurm looks for (<kind>_<minor>.so): the cluster's PluginDir.
func (u pluginUnderTest) linkDir() (string, error) {
	dir, err := os.MkdirTemp("", cleanup.TempPattern("e2e-plugin"))
	if err != nil {
		return "", err
	}
	os.Chmod(dir, 0o755)
	if err := os.Symlink(u.path, filepath.Join(dir, u.kind+"_"+u.minor+".so")); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}
