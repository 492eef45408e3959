package suite_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// fixtureHost is the release series each fixture is built for; the
// broken ones not listed are 22.05 builds, except cred_bad2_* (24.11).
var fixtureHost = map[string]string{
	"auth_good_2011.so":    "20.11",
	"auth_good_2011deb.so": "20.11",
	"auth_good_2205.so":    "22.05",
	"auth_good_2411.so":    "24.11",
	"auth_good_2605.so":    "26.05",
	"auth_good_cache.so":   "22.05",
	"cred_good_key.so":     "22.05",
	"cred_good_replay.so":  "22.05",
	"cred_good_seed.so":    "22.05",
	"cred_good2.so":        "24.11",
	"cred_good2_2605.so":   "26.05",
}

// fixtureGeneration names the API generation of fixtures whose symbols do
// not tell it: the seed document's str_error(void) changes a signature,
// not a name.
var fixtureGeneration = map[string]string{
	"cred_good_seed.so": "seed-cred",
}

// hostForm lists the fixtures whose generation is the one the host
// library's calls give: the replay form (6-argument verify_sign), found by
// reading Debian's 22.05.8-4+deb12u3 libslurmfull, which passes
// replay_okay (loader.ReadVerifySignForm).
var hostForm = map[string]bool{
	"cred_good_replay.so": true,
	"cred_bad_replay.so":  true,
}

// keyFormGeneration is the generation of the key-API cred fixtures not
// named above: they are built for the 5-argument verify_sign of upstream
// 22.05.0-.10, so they are called that way even on a host (Debian's
// 22.05.8-4+deb12u3) that passes replay_okay, whose form the suite
// otherwise reads from the host library (loader.ReadVerifySignForm).
const keyFormGeneration = "cred-key"

// fixtureKeyVariable names, per fixture, the environment variable through
// which its run gets a good key file (LIFE-BADCONF then breaks that file).
var fixtureKeyVariable = map[string]string{
	"auth_bad_badenv.so": "SLURM_AUTH_GOOD_KEY",
}

// defectFiles list the broken fixtures, per family.
var defectFiles = []string{"auth/defects.tsv", "cred/defects.tsv", "cred2/defects.tsv"}

// defect is one row of fixtures/auth/defects.tsv.
type defect struct{ fixture, clause, level, what string }

func readDefects(t *testing.T) []defect {
	var out []defect
	for _, file := range defectFiles {
		f, err := os.Open(filepath.Join(testenv.RepoRoot(t), "fixtures", file))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for first := true; sc.Scan(); first = false {
			cols := strings.Split(sc.Text(), "\t")
			if first || len(cols) < 4 {
				continue // header
			}
			out = append(out, defect{cols[0], cols[1], cols[2], cols[3]})
		}
		f.Close()
	}
	return out
}

func generationOf(name string) string {
	if g := fixtureGeneration[name]; g != "" {
		return g
	}
	if strings.HasPrefix(name, "cred_") && keyAPIHost(hostOf(name)) && !hostForm[name] {
		return keyFormGeneration
	}
	return ""
}

// hostOf is the release series a fixture is built for.
func hostOf(name string) string {
	switch series := fixtureHost[name]; {
	case series != "":
		return series
	case strings.HasPrefix(name, "cred_bad2_"): // cred2/cred2.c's GEN=2411 builds
		return "24.11"
	default:
		return "22.05"
	}
}

// keyAPIHost: cred plugins of this series have the key API (up to 23.02).
func keyAPIHost(series string) bool { return series < "23.11" }

// fixtureConfig is how the suite runs on a fixture: on the host it is
// built for, with a one-second lifetime so expiry is tested.
func fixtureConfig(t *testing.T, name string) suite.Config {
	cfg := suite.Config{
		Plugin: testenv.Fixture(t, name),
		Loader: loader.Options{
			HostOptions: loader.HostOptions{SlurmLib: testenv.Plugin(t, hostOf(name), "libslurmfull.so")},
			Generation:  generationOf(name),
		},
		AuthTTL: 1,
	}
	if v := fixtureKeyVariable[name]; v != "" {
		cfg.Env = []string{v + "=" + secretFile(t, keyDir(t), "auth.key", 32)}
	}
	return cfg
}

// quiet are the run options of the table tests.
var quiet = suite.RunOptions{NoColor: true, Quiet: true}

// startFixtures starts a run of the suite on each fixture.
func startFixtures(t *testing.T, names []string) []*pendingRun {
	runs := make([]*pendingRun, len(names))
	for i, name := range names {
		runs[i] = startRun(fixtureConfig(t, name), quiet)
	}
	return runs
}

// goodFixtures are the correct fixtures, sorted.
func goodFixtures() []string {
	var names []string
	for name := range fixtureHost {
		if strings.Contains(name, "_good") && goodElsewhere[name] == "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// TestGoodFixtures: each correct plugin passes every clause (or the clause
// does not apply to its generation, or is a MAY the suite cannot run), with
// no warnings, and exits 0.
func TestGoodFixtures(t *testing.T) {
	names := goodFixtures()
	runs := startFixtures(t, names)
	t.Parallel() // the runs are queued already: see startRun
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			s := runs[i].wait(t)
			for _, c := range s.Clauses {
				ok := c.Result == suite.Passed || c.Result == suite.NotApplicable ||
					c.Result == suite.NotTested && c.Level == suite.May
				if !ok {
					t.Errorf("%s %s: %s", c.ID, c.Result, c.Reason)
				}
			}
			if s.ExitCode() != 0 {
				t.Errorf("exit status %d: %s", s.ExitCode(), s.Verdict)
			}
		})
	}
}

// goodElsewhere are the good fixtures of an API generation that no host
// here runs, with the clause the host they are checked on fails them by.
// auth_good_2011 is the upstream 20.11.0–.8 API; Debian's 20.11.4
// backported the 20.11.9 one, whose framework looks up auth_p_get_data:
// its slurmctld exits at start ("Plugin loading failed due to missing
// symbols", make agreement), and the unit suite must say so too.
var goodElsewhere = map[string]string{
	"auth_good_2011.so": "PLG-SYMBOLS",
}

// TestGoodFixturesElsewhere: a good fixture of a generation its host does
// not load fails exactly the clause that says so, and passes the rest.
func TestGoodFixturesElsewhere(t *testing.T) {
	var names []string
	for name := range goodElsewhere {
		names = append(names, name)
	}
	sort.Strings(names)
	runs := startFixtures(t, names)
	t.Parallel()
	for i, name := range names {
		clause := goodElsewhere[name]
		t.Run(name, func(t *testing.T) {
			s := runs[i].wait(t)
			for _, c := range s.Clauses {
				switch {
				case c.ID == clause || c.ID == "PLG-GENERATION":
					// The symbol set is no longer the host's generation.
					if c.Result != suite.Failed {
						t.Errorf("%s %s, want FAILED: this host's daemons refuse the plugin", c.ID, c.Result)
					}
				case c.Result != suite.Passed && c.Result != suite.NotApplicable && !(c.Result == suite.NotTested && c.Level == suite.May):
					t.Errorf("%s %s: %s", c.ID, c.Result, c.Reason)
				}
			}
		})
	}
}

// TestBrokenFixtures: each broken plugin fails its target clause (MUST) or
// warns on it (SHOULD, MAY), and every other clause that does not pass is
// pinned in suite/testdata/fixtures.txt as expected collateral. Every
// fixture runs once, all its clauses in that one run, several fixtures at
// a time.
func TestBrokenFixtures(t *testing.T) {
	defects := readDefects(t)
	var files []string
	for _, d := range defects {
		files = append(files, d.fixture)
	}
	runs := startFixtures(t, files)
	t.Parallel()
	caught := map[string]bool{}
	var names, got []string
	for i, d := range defects {
		name := strings.TrimSuffix(d.fixture, ".so")
		names = append(names, name)
		t.Run(name, func(t *testing.T) {
			s := runs[i].wait(t)
			want := suite.Failed
			if d.level != "MUST" {
				want = suite.Warning
			}
			var target *suite.ClauseResult
			for i := range s.Clauses {
				if s.Clauses[i].ID == d.clause {
					target = &s.Clauses[i]
				}
			}
			if target == nil || target.Result != want {
				t.Errorf("%s (%s) should make %s %s; got %+v", d.fixture, d.what, d.clause, want, target)
			} else {
				caught[d.clause] = true
			}
			logFindings(t, s)
			got = append(got, findings(name, s)...)
		})
	}
	// Every clause is caught by a broken fixture, except the oracle
	// clauses of the reference models.
	for _, c := range suite.Clauses {
		if !strings.HasPrefix(c.ID, "ORACLE-") && !caught[c.ID] {
			t.Errorf("no broken fixture is caught by %s", c.ID)
		}
	}
	compareFindings(t, "fixtures.txt", names, got)
	if *update {
		writeMatrix(t, defects, got)
	}
}

// writeMatrix regenerates the fixture matrix in fixtures/README.md between
// its markers.
func writeMatrix(t *testing.T, defects []defect, lines []string) {
	other := map[string][]string{}
	for _, l := range lines {
		f := strings.Fields(l)
		if f[1] != "verdict" {
			other[f[0]] = append(other[f[0]], f[1]+" "+strings.ReplaceAll(f[2], "-", " "))
		}
	}
	var b strings.Builder
	b.WriteString("| fixture | defect | target clause | every clause that does not pass (the target, then collateral) |\n|---|---|---|---|\n")
	for _, d := range defects {
		name := strings.TrimSuffix(d.fixture, ".so")
		found := other[name]
		sort.SliceStable(found, func(i, j int) bool {
			return strings.HasPrefix(found[i], d.clause+" ") && !strings.HasPrefix(found[j], d.clause+" ")
		})
		fmt.Fprintf(&b, "| `%s` | %s | %s (%s) | %s |\n", d.fixture, d.what, d.clause, d.level, strings.Join(found, "; "))
	}
	path := filepath.Join(testenv.RepoRoot(t), "fixtures", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- matrix:begin (go test ./suite -run TestBrokenFixtures -args -update) -->", "<!-- matrix:end -->"
	s := string(data)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		s += "\n## Self-validation matrix\n\n" + begin + "\n" + b.String() + end + "\n"
	} else {
		s = s[:i+len(begin)] + "\n" + b.String() + s[j:]
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
