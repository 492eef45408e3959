package suite

// Running one plugin's specs in several processes at once.
//
// Ginkgo runs the specs of a process one after another, and its own
// parallel mode needs its command-line tool. So a run with more than one
// process does it this way: the parent asks Ginkgo for the run's plan — a
// dry run of the whole tree with the run's filters and seed, which gives
// the order Ginkgo would run the specs in and which of them run — and
// hands the specs that run to child processes (this binary again, as the
// workers are), the long ones first, one spec at a time to whichever
// child is free. A child registers that one spec exactly as the parent
// would (registerSpec) and runs it through Ginkgo; its report goes back to
// the parent, which puts it in the plan's place. The parent writes
// Ginkgo's console report from the merged report, each spec as soon as
// every spec before it in the plan has ended, so the console output, the
// summary and the JUnit, JSON and HTML reports are those of a run in one
// process (times aside).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/extensions/globals"
	"github.com/onsi/ginkgo/v2/formatter"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
)

// DefaultProcs is how many specs a run has under way at once unless told:
// one per CPU, and at least two, since most long specs wait rather than
// compute.
func DefaultProcs() int { return max(2, runtime.NumCPU()) }

func (o RunOptions) procs() int {
	if o.Procs == 0 {
		return DefaultProcs()
	}
	return o.Procs
}

// specServerEnv marks a child process that runs specs for its parent.
const specServerEnv = "PLUGINCHECK_SPEC_SERVER"

// childGrace is how long a child may take to end its spec and clean up
// after the parent passed an interrupt on; less than the CLI's grace, so
// the parent outlives its children.
const childGrace = 10 * time.Second

// childSetup is what a child needs to run specs as the parent would: the
// run's configuration, what prepare set up (munged's socket is in
// AuthInfo; the key files stay the parent's), and Ginkgo's configuration
// with the seed the plan used.
type childSetup struct {
	Config Config
	// WorkerBinary is the program the parent's workers run, checked once
	// there.
	WorkerBinary string
	AuthInfo     string
	MungeKey     []byte
	Keys         childKeys
	Suite        types.SuiteConfig
	Reporter     types.ReporterConfig
}

type childKeys struct {
	Private, Public, Missing, Unreadable, Empty, Corrupt string
	Generated                                            bool
}

// childRequest asks a child to run the spec of this index in Specs().
type childRequest struct{ Spec int }

// childReply is a child's answer: first an empty one (ready) or Err, then
// one Report per request.
type childReply struct {
	Err    string            `json:",omitempty"`
	Report *types.SpecReport `json:",omitempty"`
}

// job is one spec to run: where its report goes in the plan, and which
// spec it is.
type job struct {
	slot int
	spec *Spec
	idx  int
}

// runInProcesses runs the run's specs in up to procs child processes and
// leaves the merged report in rs.report.
func (rs *runState) runInProcesses(suiteCfg types.SuiteConfig, repCfg types.ReporterConfig, opts RunOptions, procs int) error {
	plan := rs.plan(suiteCfg, repCfg)
	jobs, err := planJobs(plan)
	if err != nil {
		return err
	}
	out := opts.Output
	if out == nil {
		out = os.Stdout
	}
	merged := plan
	merged.SpecReports = append(types.SpecReports(nil), plan.SpecReports...)
	merged.SuiteConfig.DryRun = false
	merged.StartTime = time.Now()
	console := &orderedConsole{rep: reporters.NewDefaultReporter(repCfg, out), report: &merged, ended: make([]bool, len(merged.SpecReports)),
		verbose: repCfg.Verbosity().GTE(types.VerbosityLevelVerbose)}
	for i := range console.ended {
		console.ended[i] = true
	}
	for _, j := range jobs {
		console.ended[j.slot] = false
	}
	console.rep.SuiteWillBegin(merged)
	console.flush()

	p := newProgress(opts.Progress, len(jobs))
	q := &jobQueue{jobs: jobs}
	setup, err := json.Marshal(childSetup{Config: *rs.cfg, WorkerBinary: rs.sandbox.WorkerBinary(), AuthInfo: rs.authInfo, MungeKey: rs.mungeKey, Keys: rs.keys.forChild(),
		Suite: suiteCfg, Reporter: repCfg})
	if err != nil {
		return err
	}
	setup = append(setup, '\n')
	// procs children, and one more per sleeper (while there are jobs for
	// them all): the extra ones, started first, run sleepers only, so the
	// sleepers do not hold back the specs that compute.
	sleepers := 0
	for _, j := range jobs {
		if j.spec.Sleeps > 0 {
			sleepers++
		}
	}
	n := min(procs, len(jobs))
	q.reserved = min(sleepers, len(jobs)-n)
	var wg sync.WaitGroup
	var firstErr error // of a child that did not start
	for i := range n + q.reserved {
		c, err := startChild(rs.sandbox.Binary(), setup)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(q, p, i < q.reserved, func(j job, r types.SpecReport) { console.end(j.slot, r) })
		}()
	}
	wg.Wait()
	p.finish()
	// Specs no child ran: cut short by an interrupt, or their child ended.
	sig, _ := cleanup.Interrupted()
	for _, j := range q.left() {
		r := plan.SpecReports[j.slot]
		r.StartTime, r.EndTime, r.RunTime = time.Time{}, time.Time{}, 0
		if sig != 0 {
			r.State, r.Failure = types.SpecStateSkipped, types.Failure{Message: notRunInterrupted, Location: r.LeafNodeLocation}
		} else {
			why := j.why
			switch {
			case why != "":
			case firstErr != nil:
				why = firstErr.Error()
			default:
				why = "no spec process was left to run it"
			}
			r.State, r.Failure = types.SpecStateFailed, types.Failure{Message: "not run: " + why, Location: r.LeafNodeLocation,
				FailureNodeType: types.NodeTypeIt, FailureNodeLocation: r.LeafNodeLocation}
		}
		console.end(j.slot, r)
	}
	merged.EndTime = time.Now()
	merged.RunTime = merged.EndTime.Sub(merged.StartTime)
	merged.SuiteSucceeded = sig == 0
	for _, r := range merged.SpecReports {
		if r.State.Is(types.SpecStateFailureStates) {
			merged.SuiteSucceeded = false
		}
	}
	if sig != 0 {
		merged.SpecialSuiteFailureReasons = append(merged.SpecialSuiteFailureReasons, "Interrupted by User")
	}
	console.rep.SuiteDidEnd(merged)
	rs.report = merged
	if len(q.ran) == 0 && len(jobs) > 0 && sig == 0 && firstErr != nil {
		return firstErr // no child could start: a setup error
	}
	return nil
}

// plan is Ginkgo's dry run of the whole tree: every spec in the order the
// run gives them, passed when it would run and skipped when the filters
// leave it out.
func (rs *runState) plan(suiteCfg types.SuiteConfig, repCfg types.ReporterConfig) types.Report {
	runMu.Lock()
	defer runMu.Unlock()
	globals.Reset()
	RegisterFailHandler(Fail)
	buildTree(rs, nil)
	suiteCfg.DryRun = true
	// The dry run's own console report is no one's business.
	stdout := formatter.ColorableStdOut
	formatter.ColorableStdOut = io.Discard
	defer func() { formatter.ColorableStdOut = stdout }()
	RunSpecs(&failer{}, rs.suiteName(), suiteCfg, repCfg)
	return rs.report
}

// specKey identifies a spec by clause and text.
func specKey(clause, text string) string { return clause + "\x00" + text }

// planJobs lists the plan's specs that run, the long ones first, each in
// the plan's order otherwise.
func planJobs(plan types.Report) ([]job, error) {
	all := Specs()
	index := map[string]int{}
	for i, s := range all {
		index[specKey(s.Clause, s.Text)] = i
	}
	var jobs []job
	for slot, r := range plan.SpecReports {
		if r.LeafNodeType != types.NodeTypeIt || r.State != types.SpecStatePassed {
			continue
		}
		i, ok := index[specKey(r.ContainerHierarchyTexts[0], r.LeafNodeText)]
		if !ok {
			return nil, fmt.Errorf("the plan has a spec the registry does not: %s %s", r.ContainerHierarchyTexts[0], r.LeafNodeText)
		}
		jobs = append(jobs, job{slot: slot, spec: all[i], idx: i})
	}
	// The longest sleepers first, then the other long specs, each group in
	// the plan's order.
	sort.SliceStable(jobs, func(a, b int) bool {
		sa, sb := jobs[a].spec, jobs[b].spec
		if sa.Sleeps != sb.Sleeps {
			return sa.Sleeps > sb.Sleeps
		}
		return sa.Long != "" && sb.Long == ""
	})
	return jobs, nil
}

// jobQueue hands out jobs in order. A spec marked Alone waits until no
// other spec runs, and holds the others back while it runs.
type jobQueue struct {
	mu       sync.Mutex
	jobs     []job
	taken    []bool
	reserved int            // the sleepers at the head of jobs kept for the extra children
	ran      map[int]bool   // slots whose report came back
	why      map[int]string // why a slot's child could not run it
	gate     sync.RWMutex
}

// pendingJob is a job whose report did not come back, and why ("" when
// no child took it).
type pendingJob struct {
	job
	why string
}

// take hands out the next job. The first q.reserved jobs are the sleepers
// kept for the run's extra children (reserved: true); the others take
// them only once every other job is out, in case an extra child is gone.
func (q *jobQueue) take(reserved bool) (job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cleanup.Check() != nil {
		return job{}, false
	}
	if q.taken == nil {
		q.taken = make([]bool, len(q.jobs))
	}
	if reserved {
		return q.first(0, q.reserved)
	}
	if j, ok := q.first(q.reserved, len(q.jobs)); ok {
		return j, true
	}
	return q.first(0, q.reserved)
}

// first takes the first job of jobs[lo:hi] not taken yet.
func (q *jobQueue) first(lo, hi int) (job, bool) {
	for i := lo; i < hi; i++ {
		if !q.taken[i] {
			q.taken[i] = true
			return q.jobs[i], true
		}
	}
	return job{}, false
}

// done records that j's report came back.
func (q *jobQueue) done(j job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ran == nil {
		q.ran = map[int]bool{}
	}
	q.ran[j.slot] = true
}

// lost records that j's child ended while running it.
func (q *jobQueue) lost(j job, why string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.why == nil {
		q.why = map[int]string{}
	}
	q.why[j.slot] = why
}

// left lists the jobs whose report did not come back.
func (q *jobQueue) left() []pendingJob {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []pendingJob
	for _, j := range q.jobs {
		if !q.ran[j.slot] {
			out = append(out, pendingJob{job: j, why: q.why[j.slot]})
		}
	}
	return out
}

// orderedConsole writes Ginkgo's console report spec by spec in the
// plan's order, each once it and every spec before it have ended.
type orderedConsole struct {
	mu      sync.Mutex
	rep     *reporters.DefaultReporter
	report  *types.Report
	ended   []bool
	next    int
	verbose bool
}

func (o *orderedConsole) end(slot int, r types.SpecReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.report.SpecReports[slot] = r
	o.ended[slot] = true
	o.flushLocked()
}

func (o *orderedConsole) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.flushLocked()
}

func (o *orderedConsole) flushLocked() {
	for o.next < len(o.ended) && o.ended[o.next] {
		r := o.report.SpecReports[o.next]
		if o.verbose {
			// A verbose run in one process streamed the spec's timeline as
			// it ran; here it comes whole, as Ginkgo's own parallel runs
			// show it.
			r.RunningInParallel = true
		}
		o.rep.WillRun(r)
		o.rep.DidRun(r)
		o.next++
	}
}

// child is a process that runs specs for this one.
type child struct {
	cmd    *exec.Cmd
	req    *os.File
	dec    *json.Decoder
	stderr *bytes.Buffer
	forget func()
	exited chan struct{}
}

// startChild starts a child process and gives it the run's setup. It is a
// process group of its own, as certify's child run is: a terminal's ^C
// reaches the parent, which passes it on (cleanup.PassOn); the child gets
// SIGTERM if the parent dies without doing so.
//
// exe is the binary the run's workers start from, this one or the
// sandbox's copy of it: there the child's own workers can start from it
// too, and the child's sandbox needs no copy of its own.
func startChild(exe string, setup []byte) (*child, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	respR, respW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	c := &child{req: reqW, dec: json.NewDecoder(respR), stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	c.cmd = &exec.Cmd{Path: exe, Args: []string{"plugincheck-specs"}, Env: append(os.Environ(), specServerEnv+"=1"),
		ExtraFiles: []*os.File{reqR, respW}, Stderr: &lockedBuffer{b: c.stderr},
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}}
	err = c.cmd.Start()
	reqR.Close()
	respW.Close()
	if err != nil {
		reqW.Close()
		respR.Close()
		return nil, fmt.Errorf("start a spec process: %w", err)
	}
	pid := c.cmd.Process.Pid
	c.forget = cleanup.Add(func() { cleanup.PassOn(pid, childGrace) })
	go func() {
		c.cmd.Wait()
		respR.Close()
		close(c.exited)
	}()
	var ready childReply
	if _, err := c.req.Write(setup); err == nil {
		err = c.dec.Decode(&ready)
	}
	if err != nil || ready.Err != "" {
		c.close()
		if ready.Err != "" {
			return nil, errors.New(ready.Err)
		}
		return nil, fmt.Errorf("the spec process did not start: %s", c.lastWords(err))
	}
	return c, nil
}

// serve runs jobs from q in the child (an extra child: the reserved
// sleepers) until none is left, the run is interrupted or the child ends;
// each report goes to ended.
func (c *child) serve(q *jobQueue, p *progress, extra bool, ended func(job, types.SpecReport)) {
	defer c.close()
	enc := json.NewEncoder(c.req)
	for {
		j, ok := q.take(extra)
		if !ok {
			return
		}
		if j.spec.Alone != "" {
			q.gate.Lock()
		} else {
			q.gate.RLock()
		}
		p.begin(j.spec.Clause, j.spec.Text)
		var reply childReply
		err := enc.Encode(childRequest{Spec: j.idx})
		if err == nil {
			err = c.dec.Decode(&reply)
		}
		if j.spec.Alone != "" {
			q.gate.Unlock()
		} else {
			q.gate.RUnlock()
		}
		if err != nil || reply.Report == nil {
			if cleanup.Check() == nil {
				q.lost(j, "the process running it ended: "+c.lastWords(err))
			}
			return
		}
		q.done(j)
		ended(j, *reply.Report)
	}
}

// lastWords is the last line the child wrote on stderr, or err.
func (c *child) lastWords(err error) string {
	select {
	case <-c.exited:
	case <-time.After(time.Second):
	}
	s := strings.TrimSpace(c.stderr.String())
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	switch {
	case s != "":
		return s
	case err != nil:
		return err.Error()
	}
	return "no reason given"
}

// close ends the child's requests and waits for it to exit.
func (c *child) close() {
	c.req.Close()
	<-c.exited
	c.forget()
}

// lockedBuffer keeps the last 64 KiB a child wrote on stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(p)
	if l.b.Len() > 64<<10 {
		l.b.Next(l.b.Len() - 64<<10)
	}
	return len(p), nil
}

func (k *keyFiles) forChild() childKeys {
	return childKeys{Private: k.private, Public: k.public, Missing: k.missing, Unreadable: k.unreadable,
		Empty: k.empty, Corrupt: k.corrupt, Generated: k.generated}
}

// serveSpecs is a child's life: set up as the parent did, then run each
// spec asked for and send its report back.
func serveSpecs() {
	os.Unsetenv(specServerEnv)
	cleanup.Handle(childGrace)
	in, out := os.NewFile(3, "requests"), os.NewFile(4, "replies")
	dec, enc := json.NewDecoder(in), json.NewEncoder(out)
	var setup childSetup
	if err := dec.Decode(&setup); err != nil {
		fmt.Fprintln(os.Stderr, "plugincheck: spec process: reading the setup:", err)
		os.Exit(2)
	}
	rs, err := childRun(&setup)
	if err != nil {
		enc.Encode(childReply{Err: err.Error()})
		os.Exit(2)
	}
	enc.Encode(childReply{})
	// The parent writes the console report from the merged one.
	formatter.ColorableStdOut = io.Discard
	specs := Specs()
	for {
		var req childRequest
		if err := dec.Decode(&req); err != nil {
			break
		}
		if req.Spec < 0 || req.Spec >= len(specs) {
			break
		}
		r := rs.runOne(specs[req.Spec], setup.Suite, setup.Reporter)
		if err := enc.Encode(childReply{Report: &r}); err != nil {
			break
		}
	}
	rs.close()
	if sig, _ := cleanup.Interrupted(); sig != 0 {
		os.Exit(cleanup.ExitCode(sig))
	}
	os.Exit(0)
}

// childRun is the parent's runState in a child: the same plugin, host,
// munged (its socket and key) and key files, and a sandbox of its own.
// Every field of runState a spec reads must come across here.
func childRun(setup *childSetup) (*runState, error) {
	cfg := &setup.Config
	t, err := loader.Open(cfg.Plugin, cfg.Loader)
	if err != nil {
		return nil, err
	}
	k := setup.Keys
	rs := &runState{cfg: cfg, target: t, authInfo: setup.AuthInfo, mungeKey: setup.MungeKey,
		keys: &keyFiles{private: k.Private, public: k.Public, missing: k.Missing, unreadable: k.Unreadable,
			empty: k.Empty, corrupt: k.Corrupt, generated: k.Generated, forget: func() {}}}
	opts := rs.sandboxOptions()
	opts.WorkerBinary = setup.WorkerBinary
	if rs.sandbox, err = t.NewSandbox(opts); err != nil {
		return nil, err
	}
	return rs, nil
}

// runOne runs spec s alone through Ginkgo and returns its report.
func (rs *runState) runOne(s *Spec, suiteCfg types.SuiteConfig, repCfg types.ReporterConfig) types.SpecReport {
	globals.Reset()
	RegisterFailHandler(Fail)
	registerSpec(rs, s, nil)
	var got types.SpecReport
	ReportAfterSuite("plugincheck spec", func(r Report) {
		for _, sr := range r.SpecReports {
			if sr.LeafNodeType == types.NodeTypeIt {
				got = sr
			}
		}
	})
	// The parent's plan applied the filters; the seed is the plan's.
	suiteCfg.LabelFilter, suiteCfg.FocusStrings, suiteCfg.SkipStrings = "", nil, nil
	suiteCfg.DryRun = false
	current = rs
	RunSpecs(&failer{}, rs.suiteName(), suiteCfg, repCfg)
	current = nil
	return got
}
