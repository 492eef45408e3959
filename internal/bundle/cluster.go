package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/plugincheck/plugincheck/suite"
)

// A bundle made with `certify --cluster` also holds cluster mode's report
// (ClusterJSON: nodes, CLUSTER clauses, interop and refuse matrices) and a
// section per node (ClusterDir/<rank>-<node>.json: the node's facts, its
// part of each clause and its unit suite's summary).
const (
	ClusterJSON = "cluster.json"
	ClusterHTML = "cluster.html"
	ClusterLog  = "cluster-console.log"
	ClusterDir  = "nodes"
)

// ClusterNode is a node's section, as cluster mode reports it.
type ClusterNode struct {
	Rank    int               `json:"rank"`
	Node    string            `json:"node"`
	Host    string            `json:"host,omitempty"`
	SHA256  string            `json:"sha256,omitempty"`
	Slurm   string            `json:"slurm,omitempty"`
	Error   string            `json:"error,omitempty"`
	Clauses map[string]string `json:"clauses"`
	Unit    *struct {
		Verdict string          `json:"verdict"`
		Summary json.RawMessage `json:"summary,omitempty"`
	} `json:"unit,omitempty"`
}

// ClusterReport is what verify reads of cluster.json.
type ClusterReport struct {
	PluginType string        `json:"plugin_type"`
	Virtual    bool          `json:"virtual"`
	Nodes      []ClusterNode `json:"nodes"`
	Clauses    []struct {
		ID     string `json:"id"`
		Level  string `json:"level"`
		Status string `json:"result"`
		Detail string `json:"detail"`
	} `json:"clauses"`
	SkewMS   float64 `json:"clock_skew_ms"`
	Launches int     `json:"srun_launches"`
}

// NodeSection is the file name of a node's section.
func NodeSection(rank int, node string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == '\n' || r < ' ' {
			return '_'
		}
		return r
	}, node)
	return fmt.Sprintf("%s/%d-%s.json", ClusterDir, rank, clean)
}

// WriteNodeSections splits cluster.json into one section per node.
func WriteNodeSections(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, ClusterJSON))
	if err != nil {
		return err
	}
	var rep struct {
		Nodes []json.RawMessage `json:"nodes"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return invalid(ClusterJSON, "%v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ClusterDir), 0o755); err != nil {
		return err
	}
	for _, raw := range rep.Nodes {
		var n ClusterNode
		if err := json.Unmarshal(raw, &n); err != nil {
			return invalid(ClusterJSON, "%v", err)
		}
		// The node's own bytes, indented: what cluster.json says of it.
		var b bytes.Buffer
		json.Indent(&b, raw, "", "  ")
		b.WriteByte('\n')
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(NodeSection(n.Rank, n.Node))), b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// verifyCluster checks the cluster part of a bundle, when it has one:
// every node's section is there and says what cluster.json says, every
// node ran the certified plugin, and every MUST CLUSTER clause passed on
// every node. Problems with the files are errors; a clause not passed is a
// Failure.
func verifyCluster(dir string, rep *Report) error {
	if _, err := os.Stat(filepath.Join(dir, ClusterJSON)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	c := &ClusterReport{}
	if err := readJSON(dir, ClusterJSON, c); err != nil {
		return err
	}
	rep.Cluster = c
	if len(c.Nodes) == 0 {
		return invalid(ClusterJSON, "no nodes")
	}
	if c.PluginType != rep.Plugin.Type {
		return invalid(ClusterJSON, "plugin type %q differs from plugin.json's %q", c.PluginType, rep.Plugin.Type)
	}
	for _, n := range c.Nodes {
		name := NodeSection(n.Rank, n.Node)
		var sec ClusterNode
		if err := readJSON(dir, name, &sec); err != nil {
			return err
		}
		a, _ := json.Marshal(sec)
		b, _ := json.Marshal(n)
		if string(a) != string(b) {
			return invalid(name, "differs from node %s in %s", n.Node, ClusterJSON)
		}
		if n.SHA256 != "" && n.SHA256 != rep.Plugin.SHA256 {
			rep.Failures = append(rep.Failures, Failure{Clause: "CLUSTER-SAME", Result: suite.Failed,
				Reason: fmt.Sprintf("node %s ran a plugin with SHA-256 %s, not the certified one", n.Node, n.SHA256)})
		}
		for id, st := range n.Clauses {
			if st != string(suite.Passed) {
				rep.Failures = append(rep.Failures, Failure{Clause: id, Result: suite.Result(st), Reason: "on node " + n.Node})
			}
		}
		if n.Unit != nil && n.Unit.Summary != nil {
			var s suite.Summary
			if err := json.Unmarshal(n.Unit.Summary, &s); err != nil {
				return invalid(name, "unit summary: %v", err)
			}
			if s.PluginType != rep.Plugin.Type {
				return invalid(name, "unit summary of %q, not %q", s.PluginType, rep.Plugin.Type)
			}
		}
	}
	for _, x := range c.Clauses {
		if x.Level == string(suite.Must) && x.Status != string(suite.Passed) {
			rep.Failures = append(rep.Failures, Failure{Clause: x.ID, Result: suite.Result(x.Status), Reason: x.Detail})
		}
	}
	return nil
}
