// Package bench measures a plugin: the worker's cost of one C call, whole
// auth (create → pack → unpack → verify → ids → destroy) or cred (sign →
// verify_sign → xfree) cycles and each call of them at one thread and at
// several, the native C harness (hack/bench-native.c) on the same cycle,
// and, for auth/munge, munge's own remunge against the same munged. Each
// worker run is followed by the runs it is compared with, so that the
// machine's drift touches all alike and the ratios are taken run by run.
//
// The loops themselves run inside a worker (loader.Auth.Bench,
// loader.Cred.Bench, loader.Sandbox.RunNative); this package plans the
// runs and turns them into a Report, the versioned JSON that
// `plugincheck bench --json` prints and `--compare` reads.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Schema is the Report's schema_version.
const Schema = 1

// Report is one bench run of a plugin.
type Report struct {
	SchemaVersion int    `json:"schema_version"`
	Plugin        string `json:"plugin"`
	PluginType    string `json:"plugin_type"`
	Generation    string `json:"generation"`
	Host          string `json:"host_version,omitempty"`
	CPUs          int    `json:"cpus"`
	GoVersion     string `json:"go_version"`
	Threads       int    `json:"threads"`
	RunNs         int64  `json:"run_duration_ns"`
	Runs          int    `json:"runs"`
	DataLen       int    `json:"data_len"`
	// CallOverheadNs is one call of labs through the bench loops' calling
	// path (loader/internal/hotcall); PuregoCallNs through purego.SyscallN,
	// the worker's path for every other call.
	CallOverheadNs float64       `json:"call_overhead_ns"`
	PuregoCallNs   float64       `json:"purego_call_ns,omitempty"`
	Results        []Result      `json:"results"`
	Native         []NativeCycle `json:"native,omitempty"`
	NativeNote     string        `json:"native_note,omitempty"`
	Remunge        []RemungeRun  `json:"remunge,omitempty"`
	RemungeNote    string        `json:"remunge_note,omitempty"`
	Targets        []Target      `json:"targets,omitempty"`
	Failures       []string      `json:"failures,omitempty"`
}

// Result is one measured thing at one thread count: a whole cycle or one
// call of it.
type Result struct {
	Name    string `json:"name"`
	Threads int    `json:"threads"`
	// OpsPerSec: for "cycle", cycles per second of wall time (median run);
	// for a call, the rate the threads would sustain doing only that call
	// (threads / mean duration).
	OpsPerSec float64   `json:"ops_per_sec"`
	RunRates  []float64 `json:"run_ops_per_sec,omitempty"`
	Count     uint64    `json:"count"`
	MeanNs    int64     `json:"mean_ns"`
	P50Ns     int64     `json:"p50_ns"`
	P90Ns     int64     `json:"p90_ns"`
	P99Ns     int64     `json:"p99_ns"`
	MaxNs     int64     `json:"max_ns"`
	Failed    uint64    `json:"failed,omitempty"`
}

// NativeCycle is the native harness's cycle at one thread count (medians
// of its runs, one after each worker run), and the worker's cycle time as
// a multiple of it.
type NativeCycle struct {
	Threads   int       `json:"threads"`
	OpsPerSec float64   `json:"ops_per_sec"`
	RunRates  []float64 `json:"run_ops_per_sec"`
	P50Ns     int64     `json:"p50_ns"`
	P90Ns     int64     `json:"p90_ns"`
	P99Ns     int64     `json:"p99_ns"`
	MaxNs     int64     `json:"max_ns"`
	// Ratio is the worker's time per cycle over the harness's: the median
	// over runs of the harness's rate over the worker run's before it. 1.0
	// means no overhead. PuregoRatio is the same for the cycle called
	// through purego.SyscallN (the run after the harness's).
	Ratio       float64 `json:"worker_time_ratio"`
	PuregoRatio float64 `json:"worker_time_ratio_purego,omitempty"`
	Failed      uint64  `json:"failed,omitempty"`
}

// RemungeRun is remunge's encode+decode rate against the same munged, and
// the plugin's cycle rate as a fraction of it.
type RemungeRun struct {
	Threads     int       `json:"threads"`
	CredsPerSec float64   `json:"creds_per_sec"`
	RunRates    []float64 `json:"run_creds_per_sec"`
	// Fraction is the plugin's create+verify cycles per second over
	// remunge's encode+decode credentials per second: the median over runs
	// of each cycle run against the remunge run that followed it (as many
	// credentials, same threads).
	Fraction float64 `json:"plugin_fraction"`
	// NativeFraction is the native harness's cycles per second over
	// remunge's credentials per second (medians, not paired): what the
	// plugin itself reaches without the worker.
	NativeFraction float64 `json:"native_fraction,omitempty"`
}

// Target is one of the project's performance targets and whether this run
// met it.
type Target struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Met   bool    `json:"met"`
}

// ReadReport reads a saved Report (`plugincheck bench --json`).
func ReadReport(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s is not a bench result: %w", path, err)
	}
	if r.SchemaVersion != Schema {
		return nil, fmt.Errorf("%s has schema_version %d, want %d", path, r.SchemaVersion, Schema)
	}
	return &r, nil
}

// targets are the project's targets that apply to this plugin.
func targets(rep *Report) []Target {
	var out []Target
	switch rep.PluginType {
	case "auth/none":
		// Issue 18's limit: what an auth/none cycle may cost in the worker
		// over the same calls made from C.
		const limit = 1.15
		for _, n := range rep.Native {
			if n.Threads == 1 && n.Ratio > 0 {
				out = append(out, Target{Name: "auth/none cycle in the worker, as a multiple of the native harness's time (1 thread)",
					Value: n.Ratio, Limit: limit, Met: n.Ratio <= limit})
			}
		}
	case "auth/munge":
		for _, r := range rep.Remunge {
			if r.Fraction > 0 {
				out = append(out, Target{Name: fmt.Sprintf("auth/munge create+verify throughput as a fraction of remunge -d (%d thread(s))", r.Threads),
					Value: r.Fraction, Limit: 0.9, Met: r.Fraction >= 0.9})
			}
		}
	}
	return out
}

// Median is the median of v, 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
