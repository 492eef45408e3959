package cluster

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// The coordinator and its agents talk in JSON lines over srun's standard
// streams: srun --input=all gives every agent each line the coordinator
// writes to srun's stdin, and merges what the agents write to their stdout
// into srun's. Agents prefix their messages, so whatever else reaches
// srun's stdout (a plugin that prints) is told apart and kept as evidence.
const agentPrefix = "@@plugincheck-agent "

// Operations, coordinator to agents and the agents' answers.
const (
	opHello  = "hello"  // agent: who and what it is, first thing
	opClock  = "clock"  // both: the agent answers with its clock
	opMake   = "make"   // both: create credentials / here they are
	opVerify = "verify" // both: verify these / the verdicts
	opUnit   = "unit"   // both: run the unit suite / its results
	opBye    = "bye"    // coordinator: exit
	opAbort  = "abort"  // coordinator, interrupted: stop at once, leave nothing
)

// message is every message either way; each operation fills its fields.
type message struct {
	Op   string `json:"op"`
	Rank int    `json:"rank"`
	// Error is an agent's setup problem in answering (no plugin, no host).
	Error string `json:"error,omitempty"`

	// hello
	Node       string `json:"node,omitempty"`
	Host       string `json:"host,omitempty"`
	Plugin     string `json:"plugin,omitempty"`
	PluginType string `json:"plugin_type,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Slurm      string `json:"slurm,omitempty"` // the host library's release

	// clock
	ClockNS int64 `json:"clock_ns,omitempty"`

	// make (answer): a credential with the node's key and one with
	// another key; OtherNote says why there is none of the second kind.
	Key       []byte      `json:"key,omitempty"` // request: the cluster's cred key
	Good      *Credential `json:"good,omitempty"`
	Other     *Credential `json:"other,omitempty"`
	OtherNote string      `json:"other_note,omitempty"`
	// Unsupported says why this plugin's credentials cannot be exchanged.
	Unsupported string `json:"unsupported,omitempty"`

	// verify (request): every node's credentials.
	Creds []Credential `json:"creds,omitempty"`
	// verify (answer)
	Interop []Check `json:"interop,omitempty"`
	Refuse  []Check `json:"refuse,omitempty"`

	// unit (request)
	Seed int64 `json:"seed,omitempty"`
	// unit (answer)
	Unit *UnitResult `json:"unit_result,omitempty"`
}

// Credential is a packed credential and what it must say where verified.
type Credential struct {
	From   int    `json:"from"` // the creating agent's rank
	Packed []byte `json:"packed"`
	UID    uint32 `json:"uid"`
	GID    uint32 `json:"gid"`
	Data   []byte `json:"data,omitempty"`
	// OtherKey: made with another key, so every other node must refuse it.
	OtherKey bool `json:"other_key,omitempty"`
}

// Check is one verification of node From's credential on the agent that
// answers: OK means verified with the right identity and data (interop),
// or refused (refuse).
type Check struct {
	From   int    `json:"from"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// UnitResult is the unit suite's outcome on one node.
type UnitResult struct {
	Verdict  string            `json:"verdict"`
	Exit     int               `json:"exit"`
	Clauses  map[string]string `json:"clauses"` // clause ID → result
	Summary  json.RawMessage   `json:"summary,omitempty"`
	Duration float64           `json:"duration_s"`
}

// fragmentSize bounds an agent's lines. slurmstepd forwards a task's
// output to srun in messages of at most 1 KiB, and srun writes each as it
// arrives: a longer line from one agent can be cut by another agent's
// output (seen with 23.11+ job credentials). So agents send every message
// as numbered fragments, each a whole line well below that.
const fragmentSize = 900

// lineWriter writes messages, from any goroutine. With fragments set (the
// agents' side) each message goes as fragment lines
// "<prefix><rank> <seq> <i>/<n> <part of the JSON>", which readMessages
// puts back together; otherwise as one JSON line.
type lineWriter struct {
	mu        sync.Mutex
	w         io.Writer
	prefix    string
	fragments bool
	rank, seq int
}

func (l *lineWriter) send(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	if !l.fragments {
		b.WriteString(l.prefix + string(data) + "\n")
	} else {
		l.seq++
		n := max(1, (len(data)+fragmentSize-1)/fragmentSize)
		for i := range n {
			part := data[i*fragmentSize : min((i+1)*fragmentSize, len(data))]
			fmt.Fprintf(&b, "%s%d %d %d/%d %s\n", l.prefix, l.rank, l.seq, i+1, n, part)
		}
	}
	_, err = io.WriteString(l.w, b.String())
	return err
}

// readMessages sends each message of r to out, and each other line to
// other, until r ends; then it closes out. With fragments, messages come
// as lineWriter's fragment lines, in order for each agent, interleaved
// with other agents' lines; a fragment out of order loses its message,
// which then counts as unanswered.
func readMessages(r io.Reader, prefix string, fragments bool, out chan<- message, other func(string)) {
	defer close(out)
	type partial struct {
		seq, next, of int
		data          []byte
	}
	partials := map[int]*partial{} // by rank
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			// srun --label puts "N: " first on some releases' merged output.
			if i := strings.Index(line, prefix); i >= 0 {
				rest, ok = line[i+len(prefix):], true
			}
		}
		if ok && fragments {
			rank, seq, i, n, part, parsed := parseFragment(rest)
			if !parsed {
				ok = false
			} else {
				p := partials[rank]
				if i == 1 || p == nil || p.seq != seq || p.next != i || p.of != n {
					p = &partial{seq: seq, of: n, next: 1}
					partials[rank] = p
				}
				if p.next != i {
					continue // a lost fragment: the message with it
				}
				p.data, p.next = append(p.data, part...), i+1
				if i < n {
					continue
				}
				rest = string(p.data)
				delete(partials, rank)
			}
		}
		var m message
		if !ok || json.Unmarshal([]byte(rest), &m) != nil {
			if other != nil {
				other(line)
			}
			continue
		}
		out <- m
	}
}

// parseFragment splits a fragment line (without its prefix) into its
// header and its part of the JSON, which may hold spaces.
func parseFragment(line string) (rank, seq, i, n int, part string, ok bool) {
	f := strings.SplitN(line, " ", 4)
	if len(f) != 4 {
		return
	}
	is, ns, found := strings.Cut(f[2], "/")
	var err [4]error
	rank, err[0] = strconv.Atoi(f[0])
	seq, err[1] = strconv.Atoi(f[1])
	i, err[2] = strconv.Atoi(is)
	n, err[3] = strconv.Atoi(ns)
	ok = found && errors.Join(err[:]...) == nil && i >= 1 && i <= n
	return rank, seq, i, n, f[3], ok
}
