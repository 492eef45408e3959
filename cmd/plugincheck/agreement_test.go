package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// The agreement test holds the unit verdicts against real daemons: a plugin
// that breaks a daemon (e2e fails a MUST clause) fails at least one MUST
// unit clause, and a plugin that passes every MUST unit clause passes e2e.

// daemonCache is the directory of daemon roots (make daemons).
func daemonCache(t *testing.T) string {
	if c := os.Getenv("PLUGINCHECK_DAEMONS"); c != "" {
		return testenv.Need(t, "Slurm daemon roots", c)
	}
	return testenv.Need(t, "Slurm daemon roots", filepath.Join(testenv.RepoRoot(t), ".cache", "slurm-daemons"))
}

// cliProcess runs this test binary as plugincheck (see TestMain): the unit suite
// and e2e each get a process of their own, so they can run side by side.
func cliProcess(args ...string) (int, string, string) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1")
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		se.WriteString(err.Error())
	}
	return code, so.String(), se.String()
}

// unitVerdict runs the unit suite's MUST clauses and returns the failed
// ones.
func unitVerdict(t *testing.T, plugin, slurmLib string, extra ...string) (failed, notTested []string, detail string) {
	sum := filepath.Join(t.TempDir(), "summary.json")
	args := append([]string{"run", plugin, "--slurm-lib", slurmLib, "--label-filter", "MUST", "--no-color", "--summary-json", sum}, extra...)
	code, so, se := cliProcess(args...)
	data, err := os.ReadFile(sum)
	if err != nil {
		t.Fatalf("plugincheck %s: exit %d, no summary: %v\n%s\n%s", strings.Join(args, " "), code, err, tailLines(so, 20), tailLines(se, 20))
	}
	var s suite.Summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.Clauses {
		if c.Level == suite.Must && c.Result == suite.Failed {
			failed = append(failed, c.ID)
		}
		if c.Level == suite.Must && c.Result == suite.NotTested {
			notTested = append(notTested, c.ID)
		}
	}
	sort.Strings(failed)
	return failed, notTested, s.Verdict
}

var e2eLine = regexp.MustCompile(`(?m)^  (passed|FAILED|not tested)\s+(E2E-[A-Z]+)\s+(MUST|SHOULD)`)

// e2eVerdict runs plugincheck e2e and returns the failed MUST clauses.
func e2eVerdict(t *testing.T, plugin string, extra ...string) (failed []string, out string, code int) {
	args := append([]string{"e2e", plugin, "--daemons", daemonCache(t), "--quiet"}, extra...)
	code, so, se := cliProcess(args...)
	if code != 0 && code != 1 {
		t.Fatalf("plugincheck %s: exit %d\n%s\n%s", strings.Join(args, " "), code, so, se)
	}
	for _, m := range e2eLine.FindAllStringSubmatch(so, -1) {
		if m[1] == "FAILED" && m[3] == "MUST" {
			failed = append(failed, m[2])
		}
	}
	return failed, so, code
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// keyFile writes a fresh key for the good fixture's key=<path> AuthInfo.
// The refused client runs as the submitter (nobody), so the file must be
// readable by it: a key it cannot read makes auth_bad_badconf's client
// exit(1), which is that fixture's SHOULD defect, not a refusal.
func keyFile(t *testing.T) string {
	k := make([]byte, 32)
	rand.Read(k)
	// Not under t.TempDir(), whose parent only root may enter.
	dir, err := os.MkdirTemp("", "plugincheck-agreement-key-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "other.key")
	if err := os.WriteFile(p, k, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type agreeRow struct {
	name, plugin, slurmLib string
	e2eArgs                []string
	// breaks: e2e must fail (a plugin known to break a daemon); otherwise
	// it must pass when the unit suite passes.
	breaks bool
}

type agreeOutcome struct {
	row        agreeRow
	unitFailed []string
	unitUntest []string // MUST clauses the unit suite could not test
	unitDetail string
	e2eFailed  []string
	e2eOut     string
	took       time.Duration
}

// agrees checks the two verdicts against each other: a plugin that breaks
// a daemon fails a MUST unit clause, which is the same as: a plugin that
// passes every MUST unit clause passes e2e. (A plugin may fail a unit
// clause and still run in the daemons: the unit suite asks more.)
func (o *agreeOutcome) agrees() error {
	if len(o.e2eFailed) > 0 && len(o.unitFailed) == 0 {
		return fmt.Errorf("e2e fails %v but every MUST unit clause passes (%s)", o.e2eFailed, o.unitDetail)
	}
	return nil
}

func runAgreement(t *testing.T, row agreeRow) *agreeOutcome {
	o := &agreeOutcome{row: row}
	start := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		o.e2eFailed, o.e2eOut, _ = e2eVerdict(t, row.plugin, row.e2eArgs...)
	}()
	o.unitFailed, o.unitUntest, o.unitDetail = unitVerdict(t, row.plugin, row.slurmLib)
	wg.Wait()
	o.took = time.Since(start)
	return o
}

// TestAgreement: the good 22.05 fixture and the fixture whose get_host
// returns its own string, one node each, a short E2E-STABLE.
func TestAgreement(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs Slurm daemons")
	}
	if os.Geteuid() != 0 {
		t.Skip("the daemons' namespace needs root")
	}
	lib := testenv.Plugin(t, "22.05", "libslurmfull.so")
	daemonCache(t)
	quick := []string{"--stable-rpcs", "40", "--stable-jobs", "4"}
	rows := []agreeRow{
		{name: "good_2205", plugin: testenv.Fixture(t, "auth_good_2205.so"), slurmLib: lib,
			e2eArgs: append([]string{"--refuse-auth-info", "key=" + keyFile(t)}, quick...)},
		{name: "e2e_hostalias", plugin: testenv.Fixture(t, "auth_e2e_hostalias.so"), slurmLib: lib,
			e2eArgs: append([]string{"--refuse-auth-info", "key=" + keyFile(t)}, quick...), breaks: true},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			o := runAgreement(t, row)
			t.Logf("%s: unit MUST failed %v; e2e MUST failed %v (%s)", row.name, o.unitFailed, o.e2eFailed, o.took.Round(time.Second))
			if err := o.agrees(); err != nil {
				t.Errorf("%s: %v\n%s", row.name, err, o.e2eOut)
			}
			if row.breaks && len(o.e2eFailed) == 0 {
				t.Errorf("%s breaks slurmctld, but e2e passed:\n%s", row.name, o.e2eOut)
			}
			if !row.breaks && len(o.e2eFailed) > 0 {
				t.Errorf("%s: e2e failed %v:\n%s", row.name, o.e2eFailed, o.e2eOut)
			}
			if row.breaks && !strings.Contains(o.e2eOut, "slurmctld killed by signal") {
				t.Errorf("%s: no slurmctld crash in the evidence:\n%s", row.name, o.e2eOut)
			}
		})
	}
}

// realRelease is the release of series in both the plugin and the daemon
// caches, or "" (the test is skipped for it then).
func realRelease(t *testing.T, series string) string {
	for _, r := range testenv.Releases(t) {
		if strings.HasPrefix(r, series+".") {
			if _, err := os.Stat(filepath.Join(daemonCache(t), r, ".complete")); err == nil {
				return r
			}
		}
	}
	return ""
}

// TestRealPluginsE2E pins Debian's own plugins in their daemons: auth/munge
// and cred/munge pass every MUST E2E clause, auth/none fails E2E-REFUSE by
// design and nothing else. 22.05 here; every release in make agreement.
func TestRealPluginsE2E(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs Slurm daemons")
	}
	if os.Geteuid() != 0 {
		t.Skip("the daemons' namespace needs root")
	}
	series := []string{"22.05"}
	if os.Getenv("PLUGINCHECK_AGREEMENT") != "" {
		series = []string{"20.11", "22.05", "24.11", "26.05"}
	}
	quick := []string{"--stable-rpcs", "40", "--stable-jobs", "4"}
	for _, s := range series {
		rel := realRelease(t, s)
		if rel == "" {
			t.Errorf("no daemon root of Slurm %s in %s", s, daemonCache(t))
			continue
		}
		dir := testenv.PluginDir(t, rel)
		for _, c := range []struct {
			plugin string
			want   []string // the MUST clauses that fail
		}{
			{"auth_munge.so", nil},
			{"cred_munge.so", nil},
			{"auth_none.so", []string{"E2E-REFUSE"}},
		} {
			c := c
			t.Run(rel+"/"+c.plugin, func(t *testing.T) {
				t.Parallel()
				failed, out, code := e2eVerdict(t, filepath.Join(dir, c.plugin), quick...)
				if strings.Join(failed, " ") != strings.Join(c.want, " ") {
					t.Errorf("failed MUST clauses %v, want %v (exit %d)\n%s", failed, c.want, code, out)
				}
				if want := map[bool]int{true: 1, false: 0}[len(c.want) > 0]; code != want {
					t.Errorf("exit %d, want %d", code, want)
				}
				// Not tested is never passed: every other MUST clause
				// ran and passed (E2E-REFUSE of cred/munge included: a
				// node with another munge key refuses the job credential).
				for _, m := range e2eLine.FindAllStringSubmatch(out, -1) {
					if m[3] == "MUST" && m[1] == "not tested" {
						t.Errorf("%s not tested:\n%s", m[2], out)
					}
				}
			})
		}
	}
}

// TestAgreementMatrix is make agreement: the unit suite and e2e over every
// fixture plugin and the real plugins of every release with daemons, in a
// table written to $PLUGINCHECK_AGREEMENT (docs/agreement.md).
func TestAgreementMatrix(t *testing.T) {
	out := os.Getenv("PLUGINCHECK_AGREEMENT")
	if out == "" {
		t.Skip("make agreement sets PLUGINCHECK_AGREEMENT")
	}
	if os.Geteuid() != 0 {
		t.Skip("the daemons' namespace needs root")
	}
	fixtures, _ := filepath.Glob(filepath.Join(filepath.Dir(testenv.Fixture(t, "auth_good_2205.so")), "*.so"))
	var rows []agreeRow
	credKey := keyFile(t)
	for _, f := range fixtures {
		name := filepath.Base(f)
		p, err := loader.InspectPlugin(f)
		if err != nil || p.Version == nil || (p.Kind() != "auth" && p.Kind() != "cred") || p.Minor() == "" {
			continue // not a loadable plugin of a release (auth_bad_type.so): no daemon can run it
		}
		rel := realRelease(t, p.Version.Series())
		if rel == "" {
			continue
		}
		lib := filepath.Join(testenv.PluginDir(t, rel), "libslurmfull.so")
		if _, err := loader.Open(f, loader.Options{HostOptions: loader.HostOptions{SlurmLib: lib}}); err != nil {
			continue // not loadable (auth_needsmissing.so): neither side can run it
		}
		row := agreeRow{name: name, plugin: f, slurmLib: lib,
			e2eArgs: []string{"--stable-rpcs", "100", "--stable-jobs", "10"}}
		if p.Kind() == "auth" {
			row.e2eArgs = append(row.e2eArgs, "--refuse-auth-info", "key="+keyFile(t))
		} else {
			row.e2eArgs = append(row.e2eArgs, "--conf-line", "JobCredentialPrivateKey="+credKey,
				"--conf-line", "JobCredentialPublicCertificate="+credKey)
		}
		rows = append(rows, row)
	}
	for _, s := range []string{"20.11", "22.05", "24.11", "26.05"} {
		if rel := realRelease(t, s); rel != "" {
			for _, pl := range []string{"auth_munge.so", "auth_none.so", "cred_munge.so"} {
				rows = append(rows, agreeRow{name: rel + "/" + pl, plugin: filepath.Join(testenv.PluginDir(t, rel), pl),
					slurmLib: filepath.Join(testenv.PluginDir(t, rel), "libslurmfull.so"),
					e2eArgs:  []string{"--stable-rpcs", "100", "--stable-jobs", "10"}})
			}
		}
	}
	// PLUGINCHECK_AGREEMENT_RUN: a regular expression choosing rows by name.
	if re := os.Getenv("PLUGINCHECK_AGREEMENT_RUN"); re != "" {
		pick := regexp.MustCompile(re)
		var kept []agreeRow
		for _, r := range rows {
			if pick.MatchString(r.name) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	var mu sync.Mutex
	outcomes := map[string]*agreeOutcome{}
	sem := make(chan struct{}, 2)
	t.Run("rows", func(t *testing.T) {
		for _, row := range rows {
			row := row
			t.Run(row.name, func(t *testing.T) {
				t.Parallel()
				sem <- struct{}{}
				defer func() { <-sem }()
				o := runAgreement(t, row)
				mu.Lock()
				outcomes[row.name] = o
				mu.Unlock()
				if err := o.agrees(); err != nil {
					t.Errorf("%v\n%s", err, o.e2eOut)
				}
			})
		}
	})
	var b strings.Builder
	b.WriteString("# Agreement: unit verdicts against real Slurm daemons\n\n")
	b.WriteString("Written by `make agreement` (cmd/plugincheck/agreement_test.go, TestAgreementMatrix).\n")
	b.WriteString("For each plugin: the MUST clauses of the unit suite it fails (`plugincheck run --label-filter MUST`),\n")
	b.WriteString("the MUST E2E clauses it fails (`plugincheck e2e`, one node, 100 RPCs and 10 jobs), and whether\n")
	b.WriteString("they agree: a plugin that fails an E2E clause must fail a MUST unit clause.\n")
	if re := os.Getenv("PLUGINCHECK_AGREEMENT_RUN"); re != "" {
		b.WriteString(fmt.Sprintf("\nRows chosen with PLUGINCHECK_AGREEMENT_RUN=`%s` (not the full matrix).\n", re))
	}
	b.WriteString("\n")
	b.WriteString("| plugin | unit: MUST failed | unit: MUST not tested | e2e: MUST failed | agree |\n|---|---|---|---|---|\n")
	names := make([]string, 0, len(outcomes))
	for n := range outcomes {
		names = append(names, n)
	}
	sort.Strings(names)
	disagree := 0
	done := map[string]bool{}
	for _, n := range names {
		o := outcomes[n]
		agree := "yes"
		if o.agrees() != nil {
			agree, disagree = "**no**", disagree+1
		}
		b.WriteString(fmt.Sprintf("| %s | %s | %s | %s | %s |\n", n, listOrNone(o.unitFailed), listOrNone(o.unitUntest), listOrNone(o.e2eFailed), agree))
		done[n] = true
	}
	// Rows of an earlier run that this one did not repeat (a partial run
	// with PLUGINCHECK_AGREEMENT_RUN) are kept.
	if old, err := os.ReadFile(out); err == nil {
		for _, l := range strings.Split(string(old), "\n") {
			f := strings.Split(l, " | ")
			if strings.HasPrefix(l, "| ") && len(f) == 5 && !done[strings.TrimPrefix(f[0], "| ")] && f[0] != "| plugin" {
				b.WriteString(l + "\n")
				names = append(names, strings.TrimPrefix(f[0], "| "))
				if strings.Contains(l, "**no**") {
					disagree++
				}
			}
		}
	}
	b.WriteString(fmt.Sprintf("\n%d plugins, %d disagreements.\n", len(names), disagree))
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "—"
	}
	return strings.Join(l, ", ")
}
