package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/bundle"
	"github.com/plugincheck/plugincheck/internal/cluster"
	"github.com/plugincheck/plugincheck/internal/testenv"
)

func TestClusterBadInput(t *testing.T) {
	plugin := func(t *testing.T) string { return testenv.Plugin(t, "22.05", "auth_munge.so") }
	checkBadInputs(t, []badInput{
		{"no plugin", func(t *testing.T) []string { return []string{"cluster"} }, "usage: plugincheck cluster PLUGIN"},
		{"no allocation", func(t *testing.T) []string {
			return []string{"cluster", plugin(t)}
		}, "not inside an allocation"},
		{"virtual", func(t *testing.T) []string { return []string{"cluster", plugin(t), "--virtual", "17"} }, "--virtual must be 1 to 16"},
		{"refuse-env", func(t *testing.T) []string { return []string{"cluster", plugin(t), "--refuse-env", "X"} }, "is not VAR=VALUE"},
	})
}

// TestClusterVirtual runs cluster mode in a three-node virtual cluster: the
// good fixture (another key through --refuse-auth-info) passes every
// clause; the fixture whose key mixes in the node's name fails
// CLUSTER-INTEROP alone; Debian's auth/none fails CLUSTER-REFUSE; Debian's
// 24.11 cred/munge passes INTEROP and REFUSE with job credentials. Only the
// good fixture runs the unit suite on its nodes (the others' unit verdicts
// are pinned elsewhere). The good one's cluster run is certify's, which
// hands it the certified run's suite flags: with certifyArgs' --auth-ttl,
// every node's unit run tests AUTH-EXPIRY as `plugincheck run` does.
func TestClusterVirtual(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs Slurm daemons")
	}
	if os.Geteuid() != 0 {
		t.Skip("the daemons' namespace needs root")
	}
	if os.Getenv("SLURM_JOB_ID") != "" {
		t.Skip("inside a Slurm job: the virtual cluster's srun would see this job's variables")
	}
	daemons := daemonCache(t)
	rows := []struct {
		name   string
		plugin string
		args   []string
		code   int
		want   map[string]string // clause → status
	}{
		{"good_2205", testenv.Fixture(t, "auth_good_2205.so"), []string{"--refuse-auth-info", "key=" + cluster.KeyPlaceholder}, 0,
			map[string]string{"CLUSTER-SAME": "passed", "CLUSTER-UNIT": "passed", "CLUSTER-INTEROP": "passed", "CLUSTER-REFUSE": "passed"}},
		{"cluster_nodekey", testenv.Fixture(t, "auth_cluster_nodekey.so"), []string{"--unit=false", "--refuse-auth-info", "key=" + cluster.KeyPlaceholder}, 1,
			map[string]string{"CLUSTER-SAME": "passed", "CLUSTER-UNIT": "not tested", "CLUSTER-INTEROP": "FAILED", "CLUSTER-REFUSE": "passed"}},
		{"none", testenv.Plugin(t, "22.05", "auth_none.so"), []string{"--unit=false"}, 1,
			map[string]string{"CLUSTER-SAME": "passed", "CLUSTER-REFUSE": "FAILED"}},
		// The 23.11+ cred API: a job credential made as slurmctld on one
		// node verifies as slurmd on the others; one signed by a munged of
		// another key is refused.
		{"cred_munge_2411", testenv.Plugin(t, "24.11", "cred_munge.so"), []string{"--unit=false"}, 0,
			map[string]string{"CLUSTER-SAME": "passed", "CLUSTER-INTEROP": "passed", "CLUSTER-REFUSE": "passed"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			sum := filepath.Join(t.TempDir(), "cluster.json")
			args := append([]string{"cluster", "--virtual", "3", "--daemons", daemons, "--quiet", "--summary-json", sum, r.plugin}, r.args...)
			var bundleDir string
			if r.name == "good_2205" {
				// The good one is certified with its cluster part, which
				// verify checks node by node.
				bundleDir = filepath.Join(t.TempDir(), "bundle")
				// --no-e2e: the test is about the cluster part (the E2E
				// part has TestCertifyAndVerify).
				args = certifyArgs(t, r.plugin, bundleDir, "--no-e2e", "--cluster-virtual", "3", "--cluster-arg=--daemons="+daemons)
				for _, a := range r.args {
					args = append(args, "--cluster-arg="+a)
				}
				sum = filepath.Join(bundleDir, bundle.ClusterJSON)
			}
			code, so, se := cliProcess(args...)
			if code != r.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, r.code, so, tailLines(se, 20))
			}
			data, err := os.ReadFile(sum)
			if err != nil {
				t.Fatal(err)
			}
			var rep cluster.Report
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Nodes) != 3 || len(rep.Interop) != 3 || rep.Launches != 1 {
				t.Errorf("%d nodes, %d interop rows, %d launches; want 3, 3, 1", len(rep.Nodes), len(rep.Interop), rep.Launches)
			}
			for id, want := range r.want {
				if got := rep.Get(id); got == nil || string(got.Status) != want {
					t.Errorf("%s: %+v, want %s\n%s", id, got, want, so)
				}
			}
			// The console shows the node × clause table and the matrix.
			if !strings.Contains(so, "CLUSTER-INTEROP  CLUSTER-REFUSE") || !strings.Contains(so, "interop: a credential created on the row's node") {
				t.Errorf("no node × clause table or interop matrix:\n%s", so)
			}
			if bundleDir != "" {
				for _, n := range rep.Nodes {
					if n.Unit == nil || n.Unit.Clauses["AUTH-EXPIRY"] != "passed" {
						t.Errorf("node %s: the cluster's --auth-ttl did not reach its unit run (AUTH-EXPIRY %+v)", n.Name, n.Unit)
					}
				}
				checkClusterBundle(t, bundleDir)
			}
		})
	}
}

// checkClusterBundle: verify accepts the bundle and names its nodes; a
// node's section that says otherwise than cluster.json is rejected even
// with MANIFEST made anew (an unsigned bundle's integrity is only that).
func checkClusterBundle(t *testing.T, dir string) {
	code, so, se := cliProcess("verify", dir)
	if code != 0 || !strings.Contains(so, "cluster        3 node(s), every node's section present") {
		t.Fatalf("verify: exit %d\n%s\n%s", code, so, se)
	}
	if html, err := os.ReadFile(filepath.Join(dir, bundle.ClusterHTML)); err != nil || !strings.Contains(string(html), "<h2>Interop</h2>") {
		t.Errorf("%s: no interop matrix (%v)", bundle.ClusterHTML, err)
	}
	sec := filepath.Join(dir, filepath.FromSlash(bundle.NodeSection(1, "n2")))
	data, err := os.ReadFile(sec)
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(string(data), `"CLUSTER-INTEROP": "passed"`, `"CLUSTER-INTEROP": "FAILED"`, 1)
	if forged == string(data) {
		t.Fatalf("%s has no passed CLUSTER-INTEROP:\n%s", sec, data)
	}
	if err := os.WriteFile(sec, []byte(forged), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir); err != nil {
		t.Fatal(err)
	}
	code, _, se = cliProcess("verify", dir)
	if code != 2 || !strings.Contains(se, "differs from node n2 in cluster.json") {
		t.Errorf("verify of a forged node section: exit %d, %s", code, se)
	}
}

// TestClusterSilentNode: a node whose agent never answers is a finding
// within the deadline, not a hang. No Slurm: a shell stands in for srun,
// starting one real agent (this binary) as rank 0, while "rank 1" sleeps.
func TestClusterSilentNode(t *testing.T) {
	t.Parallel()
	plugin := testenv.Plugin(t, "22.05", "auth_munge.so")
	script := `exec 3<&0; SLURM_PROCID=0 SLURMD_NODENAME=fake0 "$0" cluster-agent "$1" <&3 & exec sleep 60`
	launch := exec.Command("sh", "-c", script, os.Args[0], plugin)
	launch.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1", "SLURM_CONF=/nonexistent")
	rep, err := cluster.Run(context.Background(), cluster.Options{Launch: launch, Tasks: 2, NodeTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	same := rep.Get("CLUSTER-SAME")
	if same == nil || same.Status != cluster.Failed || !strings.Contains(strings.Join(same.Evidence, "\n"), `rank 1 did not answer "hello": no answer within 3s`) {
		t.Errorf("CLUSTER-SAME: %+v", same)
	}
	if rep.Nodes[0].Name != "fake0" || rep.Nodes[0].SHA256 == "" {
		t.Errorf("rank 0 did not say hello: %+v", rep.Nodes[0])
	}
	if x := rep.Get("CLUSTER-INTEROP"); x == nil || x.Status == cluster.Passed {
		t.Errorf("CLUSTER-INTEROP with a silent node: %+v", x)
	}
}
