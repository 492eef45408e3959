// Package cluster checks a plugin across the nodes of a Slurm cluster (the
// CLUSTER clauses of the contract), with Slurm itself dispatching the work:
// one srun starts an agent (the same binary, in a hidden mode) on every
// node, and the coordinator talks to all of them through srun's standard
// streams. A credential made on one node reaches the others through the
// coordinator, so no shared filesystem is needed and a run costs one srun
// launch whatever the number of nodes. See docs/cluster.md.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/internal/e2e"
)

// Status of one clause, as in the e2e report.
type Status = e2e.Status

const (
	Passed    = e2e.Passed
	Failed    = e2e.Failed
	NotTested = e2e.NotTested
)

// Clauses are the CLUSTER clauses, in the order they are reported.
var Clauses = []struct{ ID, Level string }{
	{"CLUSTER-SAME", "MUST"},
	{"CLUSTER-UNIT", "MUST"},
	{"CLUSTER-INTEROP", "MUST"},
	{"CLUSTER-REFUSE", "MUST"},
}

// Options of one coordinated run.
type Options struct {
	// Launch is the srun command that starts the agents (SrunArgs); Run
	// owns its standard streams.
	Launch *exec.Cmd
	// Tasks is how many agents the launch starts, one per node.
	Tasks int
	// NodeTimeout bounds each step on every node (start, clock, create,
	// verify); UnitTimeout the unit suite.
	NodeTimeout, UnitTimeout time.Duration
	// Unit runs the unit suite on every node (CLUSTER-UNIT).
	Unit bool
	// Seed is the unit suite's seed, the same on every node (0: pick).
	Seed int64
	// Progress, when set, gets one line per step.
	Progress func(string)
}

// Node is what one node said.
type Node struct {
	Rank       int               `json:"rank"`
	Name       string            `json:"node"`
	Host       string            `json:"host,omitempty"`
	SHA256     string            `json:"sha256,omitempty"`
	Slurm      string            `json:"slurm,omitempty"`
	PluginType string            `json:"plugin_type,omitempty"`
	Offset     *float64          `json:"clock_offset_ms,omitempty"` // its clock minus the coordinator's
	Error      string            `json:"error,omitempty"`
	Unit       *UnitResult       `json:"unit,omitempty"`
	Clauses    map[string]Status `json:"clauses"` // this node's part of each clause
	Notes      map[string]string `json:"notes,omitempty"`
}

// Cell is one ordered pair of the interop or refuse matrix: a credential
// made on node From, checked on node To.
type Cell struct {
	Status Status `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Report is what a run found.
type Report struct {
	Plugin     string       `json:"plugin"`
	PluginType string       `json:"plugin_type"`
	Virtual    bool         `json:"virtual"`
	Release    string       `json:"daemons_release,omitempty"` // virtual cluster
	Nodes      []*Node      `json:"nodes"`
	Results    []e2e.Result `json:"clauses"`
	// Interop[i][j]: node i's credential on node j (i == j: the node's
	// own, a control). Refuse[i][j]: node i's credential made with another
	// key, on node j.
	Interop [][]Cell `json:"interop"`
	Refuse  [][]Cell `json:"refuse,omitempty"`
	// SkewMS is the largest difference between two nodes' clocks, ±
	// SkewErrMS (half the longest round trip).
	SkewMS    float64 `json:"clock_skew_ms"`
	SkewErrMS float64 `json:"clock_skew_error_ms"`
	// Launches counts the srun launches of the run (1).
	Launches int     `json:"srun_launches"`
	Seconds  float64 `json:"duration_s"`
	// Output is the tail of srun's stderr and of whatever the agents
	// printed besides their messages.
	Output string `json:"output,omitempty"`
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
func (r *Report) Get(id string) *e2e.Result {
	for i := range r.Results {
		if r.Results[i].ID == id {
			return &r.Results[i]
		}
	}
	return nil
}

// coordinator drives one run.
type coordinator struct {
	o       Options
	ctx     context.Context
	rep     *Report
	in      *lineWriter
	msgs    chan message
	ended   bool // srun's output ended: no more answers
	other   *e2e.TailBuffer
	started time.Time
}

// Run launches the agents and checks the CLUSTER clauses. An error is a
// setup problem (srun cannot start); a node that does not answer is a
// finding.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Tasks < 1 {
		return nil, errors.New("no nodes")
	}
	if o.NodeTimeout == 0 {
		o.NodeTimeout = 2 * time.Minute
	}
	if o.UnitTimeout == 0 {
		o.UnitTimeout = 15 * time.Minute
	}
	if o.Seed == 0 {
		n, _ := rand.Int(rand.Reader, big.NewInt(1<<31))
		o.Seed = n.Int64() + 1
	}
	k := &coordinator{o: o, ctx: ctx, rep: &Report{Launches: 1}, other: &e2e.TailBuffer{Max: 64 << 10},
		msgs: make(chan message), started: time.Now()}
	for i := 0; i < o.Tasks; i++ {
		k.rep.Nodes = append(k.rep.Nodes, &Node{Rank: i, Name: fmt.Sprintf("rank %d", i),
			Clauses: map[string]Status{}, Notes: map[string]string{}})
	}
	cmd := o.Launch
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = k.other
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	k.progress("launching %d agent(s): %s", o.Tasks, strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("srun: %w", err)
	}
	k.in = &lineWriter{w: stdin}
	// Interrupted, the agents are told to stop (they undo their workers,
	// munged and files as on a signal); srun ends with its step.
	forget := cleanup.Add(func() {
		k.in.send(message{Op: opAbort})
		for i := 0; i < 50 && syscall.Kill(cmd.Process.Pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	defer forget()
	// Wait may only close srun's stdout once it has been read to its end.
	readDone, waited := make(chan struct{}), make(chan error, 1)
	go func() {
		readMessages(stdout, agentPrefix, true, k.msgs, func(l string) { fmt.Fprintln(k.other, l) })
		close(readDone)
	}()
	go func() { <-readDone; waited <- cmd.Wait() }()
	k.steps()
	// Bye, then srun has a moment to end its step before it is ended.
	k.in.send(message{Op: opBye})
	// Idle agents answer at once. When some do not, srun is often stuck
	// too: a plugin that breaks slurmd's messages to srun leaves it
	// waiting for a launch or task exits it cannot authenticate.
	grace := 2 * time.Second
	if alive := k.alive(); len(alive) > 0 && ctx.Err() == nil {
		if len(k.collect(opBye, alive, 5*time.Second)) == len(alive) {
			grace = 5 * time.Second // every agent is done: srun ends its step
		}
	}
	stdin.Close()
	go func() {
		for range k.msgs { // late answers, until srun's output ends
		}
	}()
	var srunErr error
	select {
	case srunErr = <-waited:
	case <-ctx.Done():
		k.in.send(message{Op: opAbort})
		select {
		case srunErr = <-waited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			srunErr = <-waited
		}
	case <-time.After(grace):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case srunErr = <-waited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			srunErr = <-waited
		}
	}
	if srunErr != nil {
		fmt.Fprintf(k.other, "srun: %v\n", srunErr)
	}
	k.rep.Output = string(k.other.Bytes())
	k.rep.Seconds = time.Since(k.started).Seconds()
	return k.rep, nil
}

func (k *coordinator) progress(f string, a ...any) {
	if k.o.Progress != nil {
		k.o.Progress(fmt.Sprintf("%5.1fs ", time.Since(k.started).Seconds()) + fmt.Sprintf(f, a...))
	}
}

// collect waits for op's answers from the nodes in want (nil: all) until
// the deadline; a node that does not answer is noted.
func (k *coordinator) collect(op string, want []*Node, limit time.Duration) map[int]message {
	if want == nil {
		want = k.rep.Nodes
	}
	got := map[int]message{}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for len(got) < len(want) && !k.ended {
		select {
		case m, ok := <-k.msgs:
			if !ok {
				k.ended = true
				break
			}
			if m.Rank < 0 || m.Rank >= len(k.rep.Nodes) {
				continue
			}
			if m.Op == opHello && op != opHello {
				continue // a late hello: the node missed its start
			}
			if m.Op == op {
				got[m.Rank] = m
			}
		case <-deadline.C:
			k.noAnswer(op, want, got, fmt.Sprintf("no answer within %s", limit))
			return got
		case <-k.ctx.Done():
			k.noAnswer(op, want, got, "interrupted")
			return got
		}
	}
	if len(got) < len(want) {
		k.noAnswer(op, want, got, "srun ended first")
	}
	return got
}

func (k *coordinator) noAnswer(op string, want []*Node, got map[int]message, why string) {
	for _, n := range want {
		if _, ok := got[n.Rank]; !ok && n.Error == "" {
			n.Error = fmt.Sprintf("%s did not answer %q: %s", n.Name, op, why)
		}
	}
}

// alive are the nodes that answered every step so far.
func (k *coordinator) alive() []*Node {
	var out []*Node
	for _, n := range k.rep.Nodes {
		if n.Error == "" {
			out = append(out, n)
		}
	}
	return out
}

func (k *coordinator) steps() {
	k.progress("waiting for %d agent(s)", k.o.Tasks)
	for r, m := range k.collect(opHello, nil, k.o.NodeTimeout) {
		n := k.rep.Nodes[r]
		n.Name, n.Host, n.SHA256, n.Slurm, n.PluginType = m.Node, m.Host, m.SHA256, m.Slurm, m.PluginType
		if m.Error != "" {
			n.Error = "the plugin did not open: " + m.Error
			n.Clauses["CLUSTER-SAME"] = Failed
		}
		if k.rep.PluginType == "" {
			k.rep.Plugin, k.rep.PluginType = m.Plugin, m.PluginType
		}
	}
	k.same()
	k.progress("clocks")
	k.clocks()
	k.progress("credentials: create on every node")
	key := make([]byte, 32)
	rand.Read(key)
	k.in.send(message{Op: opMake, Key: []byte(hex.EncodeToString(key))})
	made := k.collect(opMake, k.alive(), k.o.NodeTimeout)
	var creds []Credential
	for r, m := range made {
		if m.Good != nil {
			creds = append(creds, *m.Good)
		}
		if m.Other != nil {
			creds = append(creds, *m.Other)
		}
		if m.Error != "" {
			k.rep.Nodes[r].Notes["CLUSTER-INTEROP"] = m.Error
		}
		if m.OtherNote != "" {
			k.rep.Nodes[r].Notes["CLUSTER-REFUSE"] = m.OtherNote
		}
	}
	sort.Slice(creds, func(i, j int) bool { return creds[i].From < creds[j].From })
	k.progress("credentials: verify every node's on every node (%d credentials)", len(creds))
	k.in.send(message{Op: opVerify, Creds: creds})
	verified := k.collect(opVerify, k.alive(), k.o.NodeTimeout)
	unsupported := ""
	for _, m := range made {
		if m.Unsupported != "" {
			unsupported = m.Unsupported
		}
	}
	if unsupported != "" {
		k.result("CLUSTER-INTEROP", NotTested, unsupported, nil)
		k.result("CLUSTER-REFUSE", NotTested, unsupported, nil)
	} else {
		k.interop(made, verified)
		k.refuse(made, verified)
	}
	if k.o.Unit {
		k.progress("unit suite on every node (seed %d)", k.o.Seed)
		k.in.send(message{Op: opUnit, Seed: k.o.Seed})
		units := k.collect(opUnit, k.alive(), k.o.UnitTimeout)
		k.unit(units)
	} else {
		k.result("CLUSTER-UNIT", NotTested, "--unit=false", nil)
	}
	k.order()
}

func (k *coordinator) result(id string, st Status, detail string, evidence []string) {
	level := "MUST"
	for _, c := range Clauses {
		if c.ID == id {
			level = c.Level
		}
	}
	k.rep.Results = append(k.rep.Results, e2e.Result{ID: id, Level: level, Status: st, Detail: detail, Evidence: evidence})
}

func (k *coordinator) order() {
	var out []e2e.Result
	for _, c := range Clauses {
		if r := k.rep.Get(c.ID); r != nil {
			out = append(out, *r)
		}
	}
	k.rep.Results = out
}

// missing is the evidence of nodes that dropped out.
func (k *coordinator) missing() []string {
	var ev []string
	for _, n := range k.rep.Nodes {
		if n.Error != "" {
			ev = append(ev, n.Error)
		}
	}
	return ev
}

// same checks CLUSTER-SAME: one plugin file and one Slurm release.
func (k *coordinator) same() {
	hashes, releases := map[string][]string{}, map[string][]string{}
	for _, n := range k.rep.Nodes {
		if n.SHA256 != "" {
			hashes[n.SHA256] = append(hashes[n.SHA256], n.Name)
		}
		if n.Slurm != "" {
			releases[n.Slurm] = append(releases[n.Slurm], n.Name)
		}
	}
	var ev []string
	for _, m := range []struct {
		what string
		by   map[string][]string
	}{{"plugin SHA-256", hashes}, {"host Slurm release", releases}} {
		if len(m.by) > 1 {
			for v, nodes := range m.by {
				ev = append(ev, fmt.Sprintf("%s %s on %s", m.what, v, strings.Join(nodes, ", ")))
			}
		}
	}
	sort.Strings(ev)
	ev = append(ev, k.missing()...)
	majority := func(by map[string][]string) string {
		best := ""
		for v, nodes := range by {
			if best == "" || len(nodes) > len(by[best]) {
				best = v
			}
		}
		return best
	}
	h, rel := majority(hashes), majority(releases)
	for _, n := range k.rep.Nodes {
		if n.Error == "" && n.SHA256 == h && n.Slurm == rel {
			n.Clauses["CLUSTER-SAME"] = Passed
		} else {
			n.Clauses["CLUSTER-SAME"] = Failed
		}
	}
	if len(ev) > 0 {
		k.result("CLUSTER-SAME", Failed, fmt.Sprintf("the nodes differ or did not answer (%d of %d answered)", len(k.alive()), len(k.rep.Nodes)), ev)
		return
	}
	short := h
	if len(short) > 16 {
		short = short[:16] + "…"
	}
	k.result("CLUSTER-SAME", Passed, fmt.Sprintf("%d node(s): plugin SHA-256 %s, Slurm %s", len(k.rep.Nodes), short, rel), nil)
}

// clocks measures each node's clock against the coordinator's: one request
// to all, each answer read at its arrival. The offset is the node's clock
// minus the midpoint of the round trip, ± half the round trip.
func (k *coordinator) clocks() {
	sent := time.Now()
	k.in.send(message{Op: opClock})
	want := k.alive()
	got := map[int]time.Time{}
	clock := map[int]int64{}
	deadline := time.After(k.o.NodeTimeout)
	for len(got) < len(want) && !k.ended {
		select {
		case m, ok := <-k.msgs:
			if !ok {
				k.ended = true
				continue
			}
			if m.Op == opClock && m.Rank >= 0 && m.Rank < len(k.rep.Nodes) {
				got[m.Rank], clock[m.Rank] = time.Now(), m.ClockNS
			}
		case <-deadline:
			answered := map[int]message{}
			for r := range got {
				answered[r] = message{}
			}
			k.noAnswer(opClock, want, answered, "no clock within the deadline")
			return
		case <-k.ctx.Done():
			return
		}
	}
	lo, hi, errMS := 0.0, 0.0, 0.0
	first := true
	for r, at := range got {
		mid := sent.Add(at.Sub(sent) / 2)
		off := float64(clock[r]-mid.UnixNano()) / 1e6
		k.rep.Nodes[r].Offset = &off
		if first || off < lo {
			lo = off
		}
		if first || off > hi {
			hi = off
		}
		first = false
		errMS = max(errMS, float64(at.Sub(sent))/2e6)
	}
	k.rep.SkewMS, k.rep.SkewErrMS = hi-lo, errMS
}

// matrix fills an n × n matrix from the verify answers; pick chooses the
// checks of one kind, own says whether the diagonal has a credential.
func (k *coordinator) matrix(verified map[int]message, pick func(message) []Check, from func(int) bool) [][]Cell {
	n := len(k.rep.Nodes)
	mx := make([][]Cell, n)
	for i := range mx {
		mx[i] = make([]Cell, n)
		for j := range mx[i] {
			why := "not checked"
			switch {
			case !from(i):
				why = "no credential from " + k.rep.Nodes[i].Name
			case k.rep.Nodes[j].Error != "":
				why = k.rep.Nodes[j].Name + " did not answer"
			}
			mx[i][j] = Cell{Status: NotTested, Detail: why}
		}
	}
	for j, m := range verified {
		if m.Error != "" {
			for i := range mx {
				mx[i][j] = Cell{Status: Failed, Detail: k.rep.Nodes[j].Name + ": " + m.Error}
			}
			continue
		}
		for _, c := range pick(m) {
			if c.From < 0 || c.From >= n {
				continue
			}
			st := Passed
			if !c.OK {
				st = Failed
			}
			mx[c.From][j] = Cell{Status: st, Detail: c.Detail}
		}
	}
	return mx
}

// pairs judges the off-diagonal cells of mx into clause id, per node and
// as a whole.
func (k *coordinator) pairs(id string, mx [][]Cell, what string) {
	n := len(mx)
	var failed, untested []string
	checked := 0
	for i := range mx {
		for j := range mx[i] {
			if i == j {
				continue
			}
			c := mx[i][j]
			pair := fmt.Sprintf("%s → %s: %s", k.rep.Nodes[i].Name, k.rep.Nodes[j].Name, c.Detail)
			switch c.Status {
			case Passed:
				checked++
			case Failed:
				failed = append(failed, pair)
			default:
				untested = append(untested, pair)
			}
			// A node's part: the worst of the pairs it is in.
			for _, node := range []*Node{k.rep.Nodes[i], k.rep.Nodes[j]} {
				if severity[c.Status] > severity[node.Clauses[id]] {
					node.Clauses[id] = c.Status
				}
			}
		}
	}
	total := n * (n - 1)
	// Why a node made no credential (its create failed, say).
	var notes []string
	for _, node := range k.rep.Nodes {
		if note := node.Notes[id]; note != "" {
			notes = append(notes, node.Name+": "+note)
		}
	}
	switch {
	case n < 2:
		k.result(id, NotTested, "needs two nodes or more", nil)
	case len(failed) > 0:
		k.result(id, Failed, fmt.Sprintf("%d of %d ordered pairs: %s", len(failed), total, what),
			append(append(truncate(failed, 12), notes...), k.missing()...))
	case len(untested) > 0:
		k.result(id, Failed, fmt.Sprintf("%d of %d ordered pairs not checked (a node failed or did not answer)", len(untested), total),
			append(append(truncate(untested, 12), notes...), k.missing()...))
	default:
		k.result(id, Passed, fmt.Sprintf("all %d ordered pairs", checked), nil)
	}
}

var severity = map[Status]int{"": 0, Passed: 1, NotTested: 2, Failed: 3}

func truncate(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("… and %d more", len(s)-n))
	}
	return s
}

// interop checks CLUSTER-INTEROP: node i's credential verifies on every
// node j ≠ i with the right identity and data.
func (k *coordinator) interop(made, verified map[int]message) {
	from := func(i int) bool { return made[i].Good != nil }
	k.rep.Interop = k.matrix(verified, func(m message) []Check { return m.Interop }, from)
	what := "a credential made on one node did not verify on another with the right identity and data"
	for i, row := range k.rep.Interop {
		if row[i].Status == Failed {
			what += fmt.Sprintf(" (nor on its own node, e.g. %s: %s; a defect of the plugin on any node, see the unit suite)",
				k.rep.Nodes[i].Name, row[i].Detail)
			break
		}
	}
	k.pairs("CLUSTER-INTEROP", k.rep.Interop, what)
}

// refuse checks CLUSTER-REFUSE: node i's credential made with another key
// is refused on every node j ≠ i.
func (k *coordinator) refuse(made, verified map[int]message) {
	from := func(i int) bool { return made[i].Other != nil }
	var notes []string
	for i, n := range k.rep.Nodes {
		if note := n.Notes["CLUSTER-REFUSE"]; note != "" && !from(i) {
			notes = append(notes, n.Name+": "+note)
		}
	}
	some := false
	for i := range k.rep.Nodes {
		some = some || from(i)
	}
	if !some {
		why := "no node made a credential with another key"
		if len(notes) > 0 {
			why = strings.TrimPrefix(notes[0], k.rep.Nodes[0].Name+": ")
		}
		k.result("CLUSTER-REFUSE", NotTested, why, notes)
		return
	}
	k.rep.Refuse = k.matrix(verified, func(m message) []Check { return m.Refuse }, from)
	k.pairs("CLUSTER-REFUSE", k.rep.Refuse, "a credential made with another key was accepted")
}

// unit checks CLUSTER-UNIT: the unit suite ran on every node with the same
// seed, and every node reached the same result for every clause, so the
// one verdict holds on all of them.
func (k *coordinator) unit(units map[int]message) {
	var ev []string
	ref := -1
	for r, n := range k.rep.Nodes {
		m, ok := units[r]
		switch {
		case !ok:
			n.Clauses["CLUSTER-UNIT"] = Failed
			continue
		case m.Error != "" || m.Unit == nil:
			n.Clauses["CLUSTER-UNIT"] = Failed
			ev = append(ev, n.Name+": "+m.Error)
			continue
		}
		n.Unit = m.Unit
		if ref < 0 {
			ref = r
		}
	}
	if ref < 0 {
		k.result("CLUSTER-UNIT", Failed, "the unit suite ran on no node", append(ev, k.missing()...))
		return
	}
	base := k.rep.Nodes[ref]
	for _, n := range k.rep.Nodes {
		if n.Unit == nil {
			continue
		}
		n.Clauses["CLUSTER-UNIT"] = Passed
		for id, res := range n.Unit.Clauses {
			if want := base.Unit.Clauses[id]; outcome(res) != outcome(want) {
				n.Clauses["CLUSTER-UNIT"] = Failed
				ev = append(ev, fmt.Sprintf("%s: %s %s on %s, %s on %s", n.Name, id, res, n.Name, want, base.Name))
			}
		}
	}
	sort.Strings(ev)
	ev = append(ev, k.missing()...)
	if len(ev) > 0 {
		k.result("CLUSTER-UNIT", Failed, "the unit suite did not reach the same results on every node", truncate(ev, 20))
		return
	}
	_, verdict := k.rep.UnitVerdict()
	k.result("CLUSTER-UNIT", Passed, fmt.Sprintf("the same results on all %d node(s); unit verdict: %s", len(k.rep.Nodes), verdict), nil)
}

// outcome is what must agree between nodes: failed or not (a warning is a
// timing's business).
func outcome(res string) string {
	if res == "FAILED" {
		return res
	}
	return "ok"
}

// UnitVerdict is the aggregate unit verdict: the worst exit status of the
// nodes' runs (0 when every node is conformant) and its line.
func (r *Report) UnitVerdict() (int, string) {
	worst, verdict := -1, ""
	for _, n := range r.Nodes {
		if n.Unit != nil && n.Unit.Exit > worst {
			worst, verdict = n.Unit.Exit, n.Unit.Verdict
		}
	}
	return worst, verdict
}

// Write prints the report: the node × clause table, the matrices, the
// clauses with their evidence.
func (r *Report) Write(w io.Writer) {
	where := "this allocation"
	if r.Virtual {
		where = "a virtual cluster (Slurm " + r.Release + ")"
	}
	fmt.Fprintf(w, "%s (%s) on %d node(s) of %s, %d srun launch\n", r.PluginType, r.Plugin, len(r.Nodes), where, r.Launches)
	fmt.Fprintf(w, "\n  %-8s %-16s", "node", "host")
	for _, c := range Clauses {
		fmt.Fprintf(w, " %-16s", c.ID)
	}
	fmt.Fprintf(w, " %s\n", "clock offset")
	for _, n := range r.Nodes {
		fmt.Fprintf(w, "  %-8s %-16s", n.Name, n.Host)
		for _, c := range Clauses {
			st := n.Clauses[c.ID]
			if st == "" {
				st = NotTested
			}
			fmt.Fprintf(w, " %-16s", st)
		}
		if n.Offset != nil {
			fmt.Fprintf(w, " %+.1f ms", *n.Offset)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  clock skew between nodes: %.1f ms (± %.1f ms)\n", r.SkewMS, r.SkewErrMS)
	r.writeMatrix(w, "interop: a credential created on the row's node, verified on the column's", r.Interop)
	r.writeMatrix(w, "refuse: a credential created with another key on the row's node, on the column's (ok: refused)", r.Refuse)
	fmt.Fprintln(w)
	for _, x := range r.Results {
		fmt.Fprintf(w, "  %-10s %-16s %-6s %s\n", x.Status, x.ID, x.Level, strings.ReplaceAll(x.Detail, "\n", "\n      "))
		for _, e := range x.Evidence {
			fmt.Fprintf(w, "      %s\n", strings.ReplaceAll(e, "\n", "\n      "))
		}
	}
	verdict := "passed"
	if r.Failed() {
		verdict = "FAILED"
		if t := strings.TrimSpace(r.Output); t != "" {
			lines := strings.Split(t, "\n")
			if len(lines) > 15 {
				lines = lines[len(lines)-15:]
			}
			fmt.Fprintf(w, "  srun's stderr and the agents' other output, last lines:\n      %s\n", strings.Join(lines, "\n      "))
		}
	}
	fmt.Fprintf(w, "cluster %s: %s on %d node(s) in %.1fs\n", verdict, r.PluginType, len(r.Nodes), r.Seconds)
}

func (r *Report) writeMatrix(w io.Writer, title string, mx [][]Cell) {
	if len(mx) == 0 {
		return
	}
	fmt.Fprintf(w, "\n  %s\n  %-8s", title, "")
	for _, n := range r.Nodes {
		fmt.Fprintf(w, " %-8s", n.Name)
	}
	fmt.Fprintln(w)
	for i, row := range mx {
		fmt.Fprintf(w, "  %-8s", r.Nodes[i].Name)
		for j, c := range row {
			s := map[Status]string{Passed: "ok", Failed: "FAIL", NotTested: "-"}[c.Status]
			if i == j && c.Status != Failed {
				s = "(" + s + ")" // the node's own credential: a control
			}
			fmt.Fprintf(w, " %-8s", s)
		}
		fmt.Fprintln(w)
	}
}
