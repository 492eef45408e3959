package cluster

import (
	"bufio"
	"encoding/json"
	"io"
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

// lineWriter writes whole messages, one line each, from any goroutine.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (l *lineWriter) send(m message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = io.WriteString(l.w, l.prefix+string(data)+"\n")
	return err
}

// readMessages sends each message line of r to out, and each other line
// to other, until r ends; then it closes out.
func readMessages(r io.Reader, prefix string, out chan<- message, other func(string)) {
	defer close(out)
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
