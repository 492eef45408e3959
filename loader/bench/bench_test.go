package bench_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/bench"
)

func TestMain(m *testing.M) {
	loader.ServeWorkerIfRequested()
	os.Exit(m.Run())
}

func sandbox(t *testing.T, plugin string) *loader.Sandbox {
	sb, err := loader.OpenSandbox(plugin, loader.Options{}, loader.SandboxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// TestRunAuthAgainstTheHarness: without the command line, one thread,
// each call and the cycle, the native harness after each cycle run and the
// worker's time as a multiple of its; the report reads back.
func TestRunAuthAgainstTheHarness(t *testing.T) {
	harness := testenv.Need(t, "native harness (make native)", filepath.Join(testenv.RepoRoot(t), "bin", "bench-native"))
	sb := sandbox(t, testenv.Plugin(t, "22.05", "auth_none.so"))
	var lines []string
	rep, err := bench.Run(context.Background(), bench.Setup{Sandbox: sb},
		bench.Plan{Threads: 1, Duration: 30 * time.Millisecond, Runs: 2, DataLen: -1, Harness: harness},
		func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range rep.Results {
		names[r.Name] = true
		if r.Threads != 1 || r.OpsPerSec <= 0 || r.P50Ns > r.P99Ns {
			t.Errorf("result %+v", r)
		}
	}
	for _, n := range []string{"cycle", "cycle/purego", "create", "pack", "unpack", "verify", "ids", "destroy"} {
		if !names[n] {
			t.Errorf("no %s in %v", n, names)
		}
	}
	if len(rep.Native) != 1 || rep.Native[0].Ratio <= 0 || len(rep.Native[0].RunRates) != 2 || rep.DataLen != 0 {
		t.Fatalf("native %+v (%s), data %d", rep.Native, rep.NativeNote, rep.DataLen)
	}
	if len(rep.Targets) != 1 || len(lines) != 3 || !strings.Contains(lines[0], "auth/none") || !strings.Contains(lines[1], "native harness") {
		t.Errorf("targets %+v, progress %q", rep.Targets, lines)
	}
	path := filepath.Join(t.TempDir(), "bench.json")
	data, _ := json.Marshal(rep)
	os.WriteFile(path, data, 0o644)
	back, err := bench.ReadReport(path)
	if err != nil || back.Native[0].Ratio != rep.Native[0].Ratio {
		t.Fatalf("read back: %v", err)
	}
	os.WriteFile(path, []byte(`{"schema_version": 99}`), 0o644)
	if _, err := bench.ReadReport(path); err == nil || !strings.Contains(err.Error(), "schema_version 99") {
		t.Errorf("a report of another schema: %v", err)
	}
}

// TestRunCredSigns: a cred plugin's sign → verify_sign → xfree cycle with
// a key the sandbox wrote, and no harness: the report says so.
func TestRunCredSigns(t *testing.T) {
	sb := sandbox(t, testenv.Plugin(t, "22.05", "cred_none.so"))
	key, err := sb.KeyFileFor([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.Run(context.Background(), bench.Setup{Sandbox: sb, KeyFile: key},
		bench.Plan{Threads: 2, Duration: 30 * time.Millisecond, Runs: 1, DataLen: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range rep.Results {
		seen[r.Name] += r.Threads
	}
	if seen["cycle"] != 3 || seen["sign"] != 3 || seen["verify_sign"] != 3 || rep.DataLen != 200 || len(rep.Failures) != 0 {
		t.Errorf("results %v, data %d, failures %v", seen, rep.DataLen, rep.Failures)
	}
	if len(rep.Native) != 0 || !strings.Contains(rep.NativeNote, "not found") {
		t.Errorf("native %+v, note %q", rep.Native, rep.NativeNote)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := bench.Median(c.in); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
