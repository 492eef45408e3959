package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"github.com/onsi/ginkgo/v2/reporters"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

func TestMain(m *testing.M) {
	suite.ServeWorkerIfRequested()
	// certify runs the suite in a child process of its own binary: in
	// tests, that is this binary acting as the CLI.
	if os.Getenv("PLUGINCHECK_TEST_AS_CLI") != "" {
		os.Exit(cliMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// cliResult is one plugincheck invocation's outcome.
type cliResult struct {
	code           int
	stdout, stderr string
}

func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return cliResult{code, stdout.String(), stderr.String()}
}

// badInput is a command line plugincheck must refuse: exit status 2 and
// one line starting "plugincheck: " that says want, never a stack trace.
type badInput struct {
	name string
	args func(t *testing.T) []string
	want string // substring of the message
}

func (row badInput) check(t *testing.T) cliResult {
	t.Helper()
	r := cli(t, row.args(t)...)
	if r.code != 2 {
		t.Errorf("exit status %d, want 2; stderr %q", r.code, r.stderr)
	}
	oneLineError(t, r, row.want)
	return r
}

func checkBadInputs(t *testing.T, rows []badInput) {
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) { row.check(t) })
	}
}

// oneLineError checks the shape of every failure: one line, "plugincheck: ".
func oneLineError(t *testing.T, r cliResult, want string) {
	t.Helper()
	msg := r.stderr
	if lines := strings.Count(strings.TrimRight(msg, "\n"), "\n") + 1; lines != 1 || !strings.HasPrefix(msg, "plugincheck: ") {
		t.Errorf("want one line starting \"plugincheck: \", got %q", msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("message %q does not say %q", msg, want)
	}
	if strings.Contains(msg, "goroutine ") || strings.Contains(msg, "panic") {
		t.Errorf("stack trace in %q", msg)
	}
}

// realDir is a generation's plugin directory in the Slurm cache.
func realDir(t *testing.T, series string) string {
	return testenv.PluginDir(t, testenv.Release(t, series))
}

func need(t *testing.T, path string) string { return testenv.Need(t, "input", path) }

func fixtures(t *testing.T) string { return filepath.Dir(testenv.Fixture(t, "hello")) }

func write(t *testing.T, name string, data []byte) string {
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func copyFile(t *testing.T, src, dir string) string {
	data, err := os.ReadFile(need(t, src))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// elf32 is a minimal, valid 32-bit i386 shared-object header.
func elf32() []byte {
	h := make([]byte, 52)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS32), byte(elf.ELFDATA2LSB), 1
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_DYN))
	binary.LittleEndian.PutUint16(h[18:], uint16(elf.EM_386))
	binary.LittleEndian.PutUint32(h[20:], 1)
	binary.LittleEndian.PutUint16(h[40:], 52)
	return h
}

// TestBadInput: every kind of bad input is one line starting "plugincheck:"
// and exit status 2, never a stack trace.
func TestBadInput(t *testing.T) {
	checkBadInputs(t, []badInput{
		{"nonexistent path", func(t *testing.T) []string { return []string{"inspect", "/nonexistent/auth_x.so"} }, "no such file"},
		{"directory", func(t *testing.T) []string { return []string{"inspect", t.TempDir()} }, "is a directory"},
		{"empty file", func(t *testing.T) []string { return []string{"inspect", write(t, "auth_e.so", nil)} }, "empty file"},
		{"text file", func(t *testing.T) []string {
			return []string{"inspect", write(t, "auth_t.so", []byte("#!/bin/sh\necho not a plugin\n"))}
		}, "not an ELF file"},
		{"truncated ELF", func(t *testing.T) []string {
			data, _ := os.ReadFile(need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so")))
			return []string{"inspect", write(t, "auth_none.so", data[:200])}
		}, "truncated or corrupt ELF"},
		{"32-bit ELF", func(t *testing.T) []string { return []string{"inspect", write(t, "auth_32.so", elf32())} }, "32-bit ELF"},
		{"aarch64 ELF", func(t *testing.T) []string {
			data, _ := os.ReadFile(need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so")))
			binary.LittleEndian.PutUint16(data[18:], uint16(elf.EM_AARCH64))
			return []string{"inspect", write(t, "auth_none.so", data)}
		}, "built for AARCH64"},
		{"PIE executable", func(t *testing.T) []string { return []string{"inspect", need(t, filepath.Join(fixtures(t), "hello"))} }, "executable"},
		{"non-PIE executable", func(t *testing.T) []string {
			return []string{"inspect", need(t, filepath.Join(fixtures(t), "hello_nopie"))}
		}, "executable"},
		{"libc", func(t *testing.T) []string { return []string{"inspect", need(t, "/lib/x86_64-linux-gnu/libc.so.6")} }, "not a Slurm plugin"},
		{"shared object without plugin_type", func(t *testing.T) []string {
			return []string{"inspect", need(t, filepath.Join(fixtures(t), "libplain.so"))}
		}, "not a Slurm plugin"},
		{"plugin of another type", func(t *testing.T) []string {
			return []string{"inspect", need(t, filepath.Join(realDir(t, "22.05"), "sched_backfill.so"))}
		}, `"sched" plugin`},
		{"auth_jwt without libjwt", func(t *testing.T) []string {
			dir := t.TempDir()
			copyFile(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"), dir)
			return []string{"inspect", copyFile(t, filepath.Join(realDir(t, "22.05"), "auth_jwt.so"), dir)}
		}, "needs libjwt.so.0"},
		{"DT_NEEDED library missing", func(t *testing.T) []string {
			return []string{"inspect", "--slurm-lib", need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so")),
				need(t, filepath.Join(fixtures(t), "auth_needsmissing.so"))}
		}, "needs libplugincheck_missing.so.1"},
		{"host library not found", func(t *testing.T) []string {
			return []string{"inspect", copyFile(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"), t.TempDir())}
		}, "no host library"},
		{"host library path wrong", func(t *testing.T) []string {
			return []string{"inspect", "--slurm-lib", "/nonexistent/libslurmfull.so", need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))}
		}, "host library not found"},
		{"host library is not libslurmfull", func(t *testing.T) []string {
			return []string{"inspect", "--slurm-lib", "/lib/x86_64-linux-gnu/libc.so.6", need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))}
		}, "not a Slurm host library"},
		{"slurm.conf Slurm rejects", func(t *testing.T) []string {
			conf := write(t, "slurm.conf", []byte("ClusterName=x\nSlurmctldHost=localhost\nBogusKey=1\n"))
			os.Chmod(filepath.Dir(conf), 0o755)
			return []string{"inspect", "--load", "--slurm-conf", conf, need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))}
		}, "rejected by the host's Slurm"},
		{"unknown generation", func(t *testing.T) []string {
			return []string{"inspect", "--generation", "17.11", need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))}
		}, `no auth generation named "17.11"`},
		{"unknown flag", func(t *testing.T) []string { return []string{"inspect", "--frobnicate", "x.so"} }, "flag provided but not defined"},
		{"config: unknown key", func(t *testing.T) []string {
			return []string{"run", "--config", write(t, "c.yaml", []byte("auth-ttl: 2\nfrobnicate: 1\n")), "x.so"}
		}, `line 2: unknown key "frobnicate"`},
		{"config: wrong type", func(t *testing.T) []string {
			return []string{"run", "--config", write(t, "c.yaml", []byte("auth-ttl: soon\n")), "x.so"}
		}, "auth-ttl: must be a whole number from 0 to 3600 seconds"},
		{"config: list for a single value", func(t *testing.T) []string {
			return []string{"run", "--config", write(t, "c.yaml", []byte("auth-ttl: [1, 2]\n")), "x.so"}
		}, "auth-ttl takes one value, not a list"},
		{"config: nested mapping", func(t *testing.T) []string {
			return []string{"run", "--config", write(t, "c.yaml", []byte("munged:\n  socket: /x\n")), "x.so"}
		}, "want a value, not a mapping"},
		{"config: not YAML", func(t *testing.T) []string {
			return []string{"run", "--config", write(t, "c.yaml", []byte("\t: [")), "x.so"}
		}, "not YAML"},
		{"config: missing file", func(t *testing.T) []string { return []string{"run", "--config", "/nonexistent/c.yaml", "x.so"} }, "no such file"},
		{"unknown command", func(t *testing.T) []string { return []string{"frobnicate"} }, "unknown command"},
		{"no plugin", func(t *testing.T) []string { return []string{"inspect"} }, "takes one plugin path"},
	})
}

// TestInspectEveryRealPlugin is the acceptance check: inspect exits 0 on
// every real Debian auth/cred plugin and names the right generation and
// version. Debian's 22.05.8 host passes replay_okay (read from it), so its
// cred plugins are in the replay form.
func TestInspectEveryRealPlugin(t *testing.T) {
	want := map[string]map[string]string{
		"20.11": {"auth": "20.11.9", "cred": "cred-key"},
		"22.05": {"auth": "22.05", "cred": "cred-key-replay"},
		"24.11": {"auth": "24.11", "cred": "cred-23.11-so"},
		"26.05": {"auth": "26.05", "cred": "cred-23.11-so"},
	}
	n := 0
	for series, gens := range want {
		plugins, _ := filepath.Glob(filepath.Join(realDir(t, series), "*.so"))
		for _, p := range plugins {
			base := filepath.Base(p)
			kind, _, _ := strings.Cut(base, "_")
			if kind != "auth" && kind != "cred" {
				continue
			}
			n++
			var stdout, stderr bytes.Buffer
			if code := run([]string{"inspect", p}, &stdout, &stderr); code != 0 {
				t.Errorf("%s %s: exit %d: %s", series, base, code, stderr.String())
				continue
			}
			out := stdout.String()
			release := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(p))))))
			if !strings.Contains(out, "generation:            "+gens[kind]+" ") || !strings.Contains(out, "plugin_version:        "+release+" ") {
				t.Errorf("%s %s: want generation %s and version %s in\n%s", series, base, gens[kind], release, out)
			}
		}
	}
	if n < 20 {
		t.Errorf("inspected %d plugins, want 20 or more", n)
	}
}

// TestConfigFile: values from --config configure the run; command-line
// flags win over them.
func TestConfigFile(t *testing.T) {
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	conf := write(t, "plugincheck.yaml", []byte("slurm-lib: "+host+"\nauth-ttl: 1\nfocus: [AUTH-EXPIRY]\n"))
	summary := filepath.Join(t.TempDir(), "summary.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--config", conf, "--summary-json", summary, "--no-color", testenv.Fixture(t, "auth_good_2205.so")}, &stdout, &stderr)
	out, _ := os.ReadFile(summary)
	if !strings.Contains(string(out), `"id": "AUTH-EXPIRY"`) || !strings.Contains(string(out), `"result": "passed"`) {
		t.Errorf("AUTH-EXPIRY did not run with the config's TTL (exit %d): %s\n%s", code, out, stderr.String())
	}
	// The command line wins: --auth-ttl 0 turns expiry off again.
	code = run([]string{"run", "--config", conf, "--auth-ttl", "0", "--summary-json", summary, "--no-color", testenv.Fixture(t, "auth_good_2205.so")}, &stdout, &stderr)
	out, _ = os.ReadFile(summary)
	if !strings.Contains(string(out), "no credential lifetime given") {
		t.Errorf("--auth-ttl 0 on the command line did not override the config (exit %d): %s", code, out)
	}
}

// Every command answers --help on stdout with exit 0, and --version works.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"inspect", "-h"}, {"list", "--help"}, {"certify", "--help"}, {"verify", "--help"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 0 || stdout.Len() == 0 || stderr.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
}

// TestExitStatuses: 0 conformant, 1 a MUST clause failed, 3 incomplete
// (naming the clause and the flag that enables it), and a filtered run
// exits 0 when its selected clauses pass, saying it is partial.
func TestExitStatuses(t *testing.T) {
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	good := need(t, filepath.Join(fixtures(t), "auth_good_2205.so"))
	tamper := need(t, filepath.Join(fixtures(t), "auth_bad_tamper.so"))
	for _, c := range []struct {
		name string
		args []string
		code int
		says string // in the verdict line
	}{
		{"whole run without a TTL", []string{good}, 3, "incomplete: MUST clause AUTH-EXPIRY was not tested (no credential lifetime given (--auth-ttl N))"},
		{"one clause that passes", []string{"--focus", "AUTH-PACK", good}, 0, "partial run (1 of "},
		{"one clause that fails", []string{"--focus", "AUTH-TAMPER", tamper}, 1, "clauses): a selected MUST clause FAILED"},
		{"an incomplete plugin and a failing one", []string{good, "--focus", "AUTH-EXPIRY|AUTH-TAMPER", tamper}, 1, "a selected MUST clause FAILED"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := cli(t, append([]string{"--slurm-lib", host, "--no-color"}, c.args...)...)
			if r.code != c.code || !strings.Contains(r.stdout, c.says) {
				t.Errorf("exit %d, want %d; stdout lacks %q:\n%s", r.code, c.code, c.says, r.stdout)
			}
		})
	}
}

// TestNoColourWhenNotATerminal: output into a pipe or a file (a CI log)
// carries no colour codes unless asked for.
func TestNoColourWhenNotATerminal(t *testing.T) {
	asCLI(t)
	plugin := need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))
	out, _ := selfCommand("-v", "--focus", "AUTH-PACK", plugin).CombinedOutput()
	if !strings.Contains(string(out), "AUTH-PACK") || strings.Contains(string(out), "\x1b[") {
		t.Errorf("output into a pipe has colour codes (or no report):\n%q", out)
	}
}

// TestSeveralPluginsOneReport: a run of several plugins writes the report
// files the user named, one each, holding every plugin.
func TestSeveralPluginsOneReport(t *testing.T) {
	dir := realDir(t, "22.05")
	plugins := []string{need(t, filepath.Join(dir, "auth_none.so")), need(t, filepath.Join(dir, "cred_none.so"))}
	out := t.TempDir()
	junit, ginkgo, summary := filepath.Join(out, "r.xml"), filepath.Join(out, "r.json"), filepath.Join(out, "s.json")
	r := cli(t, append([]string{"--focus", "PLG-NAME", "--junit-report", junit, "--json-report", ginkgo, "--summary-json", summary}, plugins...)...)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 3 {
		t.Errorf("%d files written, want the 3 named", len(entries))
	}
	var suites reporters.JUnitTestSuites
	if data, err := os.ReadFile(junit); err != nil || xml.Unmarshal(data, &suites) != nil || len(suites.TestSuites) != 2 ||
		suites.TestSuites[0].Name != "plugincheck auth/none" || suites.TestSuites[1].Name != "plugincheck cred/none" {
		t.Errorf("JUnit file: %v, %+v", err, suites.TestSuites)
	}
	for _, path := range []string{ginkgo, summary} {
		var reports []json.RawMessage
		if data, err := os.ReadFile(path); err != nil || json.Unmarshal(data, &reports) != nil || len(reports) != 2 {
			t.Errorf("%s: want an array of 2 reports (%v)", path, err)
		}
	}
}
