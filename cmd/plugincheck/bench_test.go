package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader/bench"
)

// harness is the native harness make builds (bin/bench-native).
func harness(t *testing.T) string {
	return testenv.Need(t, "native harness (make native)", filepath.Join(testenv.RepoRoot(t), "bin", "bench-native"))
}

// TestBenchAuthNone: a short bench of the real 22.05 auth_none prints sane
// JSON: every call and the cycle at 1 and 2 threads, percentiles in order,
// the native harness's figures and their ratio; --compare reads it back.
func TestBenchAuthNone(t *testing.T) {
	plugin := need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", plugin, "--duration", "50ms", "--runs", "2", "--threads", "2", "--json", "--native", harness(t)}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if rep.SchemaVersion != bench.Schema || rep.PluginType != "auth/none" || rep.Generation != "22.05" || rep.Runs != 2 {
		t.Errorf("header %+v", rep)
	}
	if rep.CallOverheadNs <= 0 || rep.CallOverheadNs > 100000 || rep.PuregoCallNs <= 0 || rep.PuregoCallNs > 100000 {
		t.Errorf("call overhead %v ns, through purego.SyscallN %v ns", rep.CallOverheadNs, rep.PuregoCallNs)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.Name+"/"+string(rune('0'+r.Threads))] = true
		if r.OpsPerSec <= 0 || r.Count == 0 || r.P50Ns <= 0 || r.P50Ns > r.P90Ns || r.P90Ns > r.P99Ns || r.MeanNs <= 0 || r.MaxNs < r.MeanNs {
			t.Errorf("result not sane: %+v", r)
		}
		if (r.Name == "cycle" || r.Name == "cycle/purego") && (len(r.RunRates) != 2 || r.Failed != 0) {
			t.Errorf("cycle runs %v, failed %d", r.RunRates, r.Failed)
		}
	}
	for _, name := range []string{"cycle", "cycle/purego", "create", "pack", "unpack", "verify", "ids", "destroy"} {
		for _, th := range "12" {
			if !seen[name+"/"+string(th)] {
				t.Errorf("no %s at %c thread(s)", name, th)
			}
		}
	}
	if len(rep.Native) != 2 || rep.NativeNote != "" {
		t.Fatalf("native %+v (%s)", rep.Native, rep.NativeNote)
	}
	for _, n := range rep.Native {
		if n.OpsPerSec <= 0 || n.Ratio <= 0 || n.PuregoRatio <= 0 || n.P50Ns <= 0 || len(n.RunRates) != 2 {
			t.Errorf("native result %+v", n)
		}
	}
	if len(rep.Targets) != 1 || rep.Targets[0].Limit != 1.15 {
		t.Errorf("targets %+v", rep.Targets)
	}
	if len(rep.Failures) != 0 {
		t.Errorf("failures %v", rep.Failures)
	}

	saved := write(t, "bench.json", stdout.Bytes())
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"bench", plugin, "--duration", "20ms", "--runs", "1", "--threads", "1", "--no-native", "--compare", saved}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"MEASURE", "cycle", "cycle/purego", "through purego.SyscallN", "compared with the saved result", "OLD OPS/S", "native harness:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
}

// TestBenchMunge: auth_munge is timed against remunge on the same private
// munged, and cred_munge's sign and verify_sign.
func TestBenchMunge(t *testing.T) {
	if _, err := os.Stat("/usr/bin/remunge"); err != nil {
		need(t, "/usr/bin/remunge")
	}
	for _, name := range []string{"auth_munge.so", "cred_munge.so"} {
		plugin := need(t, filepath.Join(realDir(t, "22.05"), name))
		var stdout, stderr bytes.Buffer
		code := run([]string{"bench", plugin, "--duration", "30ms", "--runs", "1", "--threads", "2", "--json", "--native", harness(t)}, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr.String())
		}
		var rep bench.Report
		if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
			t.Fatalf("%s: not JSON: %v", name, err)
		}
		if len(rep.Results) == 0 || len(rep.Native) != 2 || len(rep.Failures) != 0 || rep.RemungeNote != "" {
			t.Errorf("%s: %d results, native %+v (%s), failures %v, remunge %q", name, len(rep.Results), rep.Native, rep.NativeNote, rep.Failures, rep.RemungeNote)
		}
		if name == "auth_munge.so" {
			if len(rep.Remunge) != 2 || rep.Remunge[0].CredsPerSec <= 0 || rep.Remunge[0].Fraction <= 0 || len(rep.Targets) != 2 {
				t.Errorf("remunge %+v, targets %+v", rep.Remunge, rep.Targets)
			}
		}
	}
}
