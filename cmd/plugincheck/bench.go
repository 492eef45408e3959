package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/bench"
	"github.com/plugincheck/plugincheck/suite"
)

// openSession sets a plugin up as `plugincheck run` does: private munged
// for munge plugins, AuthInfo with socket and ttl, a generated cred key;
// addressSpace bounds each worker (0: the default).
func openSession(plugin string, hf *hostFlags, sf *suiteFlags, addressSpace uint64) (*loader.Session, suite.Config, error) {
	cfg, err := sf.config(hf)
	if err != nil {
		return nil, cfg, err
	}
	o := cfg.SessionOptions()
	o.Sandbox.AddressSpace = addressSpace
	s, err := loader.OpenSession(plugin, o)
	return s, cfg, err
}

func benchCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	threads := fs.Int("threads", runtime.NumCPU(), "threads for the multi-threaded runs")
	duration := fs.Duration("duration", time.Second, "length of each timed run")
	runs := fs.Int("runs", 3, "timed runs of each measurement")
	dataLen := fs.Int("data-len", -1, "payload bytes per credential (auth, default 0) or bytes signed (cred, default 200)")
	jsonOut := fs.Bool("json", false, "print the result as JSON")
	compare := fs.String("compare", "", "a saved --json result to compare with")
	native := fs.String("native", "", "the native harness (default: bench-native beside plugincheck, then bin/bench-native; make native builds it)")
	noNative := fs.Bool("no-native", false, "skip the native harness")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(paths) != 1:
		return &usageError{"bench takes one plugin (usage: plugincheck bench PLUGIN [--threads N] [--duration D] [--json] [--compare FILE])"}
	case *threads < 1 || *threads > 64:
		return &usageError{fmt.Sprintf("--threads must be 1 to 64, not %d", *threads)}
	case *duration < time.Millisecond || *duration > time.Hour:
		return &usageError{fmt.Sprintf("--duration must be 1ms to 1h, not %v", *duration)}
	case *runs < 1 || *runs > 100:
		return &usageError{fmt.Sprintf("--runs must be 1 to 100, not %d", *runs)}
	case *dataLen > 1<<20:
		return &usageError{"--data-len must be at most 1 MiB"}
	}
	var old *bench.Report
	if *compare != "" {
		if old, err = bench.ReadReport(*compare); err != nil {
			return &usageError{"--compare: " + err.Error()}
		}
	}
	harness := ""
	if !*noNative {
		if harness, err = findHarness(*native); err != nil {
			return err
		}
	}
	s, _, err := openSession(paths[0], &hf, &sf, 0)
	if err != nil {
		return err
	}
	defer s.Close()
	progress := func(line string) { fmt.Fprintln(stderr, "bench: "+line) }
	rep, err := bench.Run(cleanup.Context(), bench.Setup{Sandbox: s.Sandbox, AuthInfo: s.AuthInfo, KeyFile: s.KeyFile,
		PublicKey: s.PublicKey, MungeSocket: s.Socket},
		bench.Plan{Threads: *threads, Duration: *duration, Runs: *runs, DataLen: *dataLen, Harness: harness}, progress)
	if err != nil {
		return err
	}
	if *jsonOut {
		data, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(data))
	} else {
		writeBenchReport(stdout, rep)
	}
	if old != nil {
		compareBenchReports(stdout, rep, old)
	}
	if len(rep.Failures) > 0 {
		return &exitStatus{code: 1, err: fmt.Errorf("cycles failed: %s", rep.Failures[0])}
	}
	return nil
}

// findHarness returns the native harness to use, "" when there is none
// (the report then says so).
func findHarness(flagValue string) (string, error) {
	if flagValue != "" {
		if st, err := os.Stat(flagValue); err != nil || st.IsDir() {
			return "", &usageError{fmt.Sprintf("--native %s: not an executable file", flagValue)}
		}
		return filepath.Abs(flagValue)
	}
	var cands []string
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, filepath.Join(filepath.Dir(exe), "bench-native"))
	}
	cands = append(cands, filepath.Join("bin", "bench-native"))
	if p, err := exec.LookPath("bench-native"); err == nil {
		cands = append(cands, p)
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return filepath.Abs(c)
		}
	}
	return "", nil
}

func ns(v int64) string { return time.Duration(v).String() }

func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func writeBenchReport(w io.Writer, r *bench.Report) {
	fmt.Fprintf(w, "plugincheck bench %s\n", r.Plugin)
	fmt.Fprintf(w, "%s, generation %s, host Slurm %s; %d CPUs; %d runs of %v each after a warm-up\n",
		r.PluginType, r.Generation, r.Host, r.CPUs, r.Runs, time.Duration(r.RunNs))
	fmt.Fprintf(w, "one call of a C function that does nothing: %.0f ns on the bench loops' path, %.0f ns through purego.SyscallN\n\n",
		r.CallOverheadNs, r.PuregoCallNs)
	fmt.Fprintf(w, "%-14s %7s %10s %10s %10s %10s %12s  %s\n", "MEASURE", "THREADS", "OPS/S", "P50", "P90", "P99", "MAX", "RUNS (OPS/S)")
	for _, x := range r.Results {
		runs := ""
		for i, v := range x.RunRates {
			if i > 0 {
				runs += " "
			}
			runs += rate(v)
		}
		fmt.Fprintf(w, "%-14s %7d %10s %10s %10s %10s %12s  %s\n", x.Name, x.Threads, rate(x.OpsPerSec), ns(x.P50Ns), ns(x.P90Ns), ns(x.P99Ns), ns(x.MaxNs), runs)
	}
	if len(r.Native) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-14s %7s %10s %10s %10s %10s %12s  %s\n", "NATIVE CYCLE", "THREADS", "OPS/S", "P50", "P90", "P99", "MAX", "WORKER TIME / NATIVE TIME (VIA purego.SyscallN)")
		for _, n := range r.Native {
			via := "-"
			if n.PuregoRatio > 0 {
				via = fmt.Sprintf("%.2f×", n.PuregoRatio)
			}
			fmt.Fprintf(w, "%-14s %7d %10s %10s %10s %10s %12s  %.2f× (%s)\n", "bench-native", n.Threads, rate(n.OpsPerSec), ns(n.P50Ns), ns(n.P90Ns), ns(n.P99Ns), ns(n.MaxNs), n.Ratio, via)
		}
	}
	if r.NativeNote != "" {
		fmt.Fprintf(w, "\nnative harness: %s\n", r.NativeNote)
	}
	if len(r.Remunge) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "%-14s %7s %10s  %s\n", "REMUNGE -d", "THREADS", "CREDS/S", "PLUGIN CYCLES/S ÷ REMUNGE CREDS/S (WORKER, NATIVE HARNESS)")
		for _, x := range r.Remunge {
			native := "-"
			if x.NativeFraction > 0 {
				native = fmt.Sprintf("%.0f%%", 100*x.NativeFraction)
			}
			fmt.Fprintf(w, "%-14s %7d %10s  %.0f%%, %s\n", "remunge", x.Threads, rate(x.CredsPerSec), 100*x.Fraction, native)
		}
	}
	if r.RemungeNote != "" {
		fmt.Fprintf(w, "\n%s\n", r.RemungeNote)
	}
	if len(r.Targets) > 0 {
		fmt.Fprintln(w)
		for _, t := range r.Targets {
			verdict := "met"
			if !t.Met {
				verdict = "NOT met"
			}
			fmt.Fprintf(w, "target: %s = %.2f (limit %.2f): %s\n", t.Name, t.Value, t.Limit, verdict)
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "failure: %s\n", f)
	}
}

// compareBenchReports prints the change of each measurement of r against
// an earlier report.
func compareBenchReports(w io.Writer, r, old *bench.Report) {
	fmt.Fprintf(w, "\ncompared with the saved result (%s, %d runs of %v):\n", old.Plugin, old.Runs, time.Duration(old.RunNs))
	if old.PluginType != r.PluginType {
		fmt.Fprintf(w, "note: the saved result is of %s, this one of %s\n", old.PluginType, r.PluginType)
	}
	fmt.Fprintf(w, "%-14s %7s %10s %10s %9s %10s %10s %9s\n", "MEASURE", "THREADS", "OLD OPS/S", "NEW OPS/S", "CHANGE", "OLD P50", "NEW P50", "CHANGE")
	pct := func(o, n float64) string {
		if o == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.1f%%", 100*(n-o)/o)
	}
	for _, x := range r.Results {
		for _, o := range old.Results {
			if o.Name == x.Name && o.Threads == x.Threads {
				fmt.Fprintf(w, "%-14s %7d %10s %10s %9s %10s %10s %9s\n", x.Name, x.Threads, rate(o.OpsPerSec), rate(x.OpsPerSec),
					pct(o.OpsPerSec, x.OpsPerSec), ns(o.P50Ns), ns(x.P50Ns), pct(float64(o.P50Ns), float64(x.P50Ns)))
			}
		}
	}
	for _, x := range r.Native {
		for _, o := range old.Native {
			if o.Threads == x.Threads {
				fmt.Fprintf(w, "%-14s %7d %10s %10s %9s  worker/native %.2f× → %.2f×\n", "native", x.Threads, rate(o.OpsPerSec), rate(x.OpsPerSec),
					pct(o.OpsPerSec, x.OpsPerSec), o.Ratio, x.Ratio)
			}
		}
	}
}
