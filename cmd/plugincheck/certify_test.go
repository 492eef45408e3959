package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/bundle"
	"github.com/plugincheck/plugincheck/internal/testenv"
)

// asCLI makes certify's child process this test binary acting as
// plugincheck (see TestMain).
func asCLI(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	old := selfCommand
	selfCommand = func(args ...string) *exec.Cmd {
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1")
		return cmd
	}
	t.Cleanup(func() { selfCommand = old })
}

func productYAML(t *testing.T, body string) string {
	return write(t, "product.yaml", []byte(body))
}

func goodProduct(t *testing.T, plugin string) string {
	return productYAML(t, "vendor: Example Org\nproduct: Example Auth\nversion: 1.0\ncontact: auth@example.org\n"+
		"url: https://example.org/auth\nplugin: "+filepath.Base(plugin)+"\ndescription: a fixture\n")
}

// certifyArgs are the arguments of a certification run of a 22.05 fixture.
func certifyArgs(t *testing.T, plugin, out string, extra ...string) []string {
	args := []string{"certify", plugin, "--slurm-lib", testenv.Plugin(t, "22.05", "libslurmfull.so"),
		"--auth-ttl", "1", "--product", goodProduct(t, plugin), "--out", out}
	return append(args, extra...)
}

func copyBundle(t *testing.T, src string) string {
	dst := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// editJSON rewrites a JSON file of the bundle through f, then recomputes
// MANIFEST, as a forger without the signing key would.
func editJSON(t *testing.T, dir, name string, f func(v any) any) {
	t.Helper()
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if data, err = json.MarshalIndent(f(v), "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir); err != nil {
		t.Fatal(err)
	}
}

// editClauses applies f to summary.json's clauses.
func editClauses(f func(cs []any) []any) func(v any) any {
	return func(v any) any {
		m := v.(map[string]any)
		m["clauses"] = f(m["clauses"].([]any))
		return m
	}
}

// setClauseResult sets one clause's result in summary.json.
func setClauseResult(id, result string) func(v any) any {
	return editClauses(func(cs []any) []any {
		for _, c := range cs {
			if m := c.(map[string]any); m["id"] == id {
				m["result"] = result
			}
		}
		return cs
	})
}

// inE2EReport applies f to the e2e report in e2e.json (its "clauses" are
// edited like summary.json's).
func inE2EReport(f func(v any) any) func(v any) any {
	return func(v any) any {
		m := v.(map[string]any)
		m["report"] = f(m["report"])
		return m
	}
}

// e2eArgs make certify's e2e run short, and tell it how to make a client
// of auth/good_* that must be refused: another key file.
func e2eArgs(t *testing.T) []string {
	key := write(t, "other.key", []byte("not the fixture's key: a client with it must be refused\n"))
	return []string{"--daemons", daemonCache(t), "--stable-rpcs", "40", "--stable-jobs", "4", "--refuse-env", "SLURM_AUTH_GOOD_KEY=" + key}
}

func setField(key string, val any) func(v any) any {
	return func(v any) any {
		v.(map[string]any)[key] = val
		return v
	}
}

// TestCertifyAndVerify certifies the good 22.05 fixture once, signed, then
// checks that verify accepts the bundle and rejects every way of changing it.
func TestCertifyAndVerify(t *testing.T) {
	asCLI(t)
	plugin := testenv.Fixture(t, "auth_good_2205.so")
	other := testenv.Fixture(t, "auth_bad_tamper.so")
	keys := t.TempDir()
	key, wrongKey := filepath.Join(keys, "vendor.key"), filepath.Join(keys, "other.key")
	for _, k := range []string{key, wrongKey} {
		if r := cli(t, "certify", "--gen-key", k); r.code != 0 {
			t.Fatalf("--gen-key: exit %d: %s", r.code, r.stderr)
		}
	}
	pub, wrongPub := key+".pub", wrongKey+".pub"

	dir := filepath.Join(t.TempDir(), "bundle")
	r := cli(t, certifyArgs(t, plugin, dir, append(e2eArgs(t), "--sign-key", key)...)...)
	if r.code != 0 {
		t.Fatalf("certify: exit %d\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	if !strings.Contains(r.stdout, "certified: auth/good_2205: conformant") || !strings.Contains(r.stdout, "Running Suite") ||
		!strings.Contains(r.stdout, "E2E clauses passed in the Slurm 22.05.8 daemons") {
		t.Errorf("certify's output lacks the run or the verdict:\n%s", r.stdout)
	}
	var files []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		files = append(files, e.Name())
	}
	want := append([]string{bundle.Manifest, bundle.Signature, bundle.ReportHTML, bundle.E2EJSON}, bundle.Required...)
	sort.Strings(want)
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("bundle holds %v, want %v", files, want)
	}
	console, _ := os.ReadFile(filepath.Join(dir, bundle.ConsoleLog))
	for _, s := range []string{"Running Suite", "AUTH-TAMPER", "conformant for generation 22.05", "# exit status 0",
		"# run: plugincheck e2e", "passed     E2E-REFUSE", "e2e passed: auth/good_2205"} {
		if !bytes.Contains(console, []byte(s)) {
			t.Errorf("console.log lacks %q", s)
		}
	}
	var info bundle.PluginInfo
	data, _ := os.ReadFile(filepath.Join(dir, bundle.PluginJSON))
	if err := json.Unmarshal(data, &info); err != nil {
		t.Fatal(err)
	}
	sum, _, _ := bundle.FileSHA256(plugin)
	if info.SHA256 != sum || len(info.BuildID) != 40 || info.Generation != "22.05" || info.Host.SlurmVersion != "22.05.8" || len(info.Host.SHA256) != 64 {
		t.Errorf("plugin.json: %+v", info)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", "--strict", bundle.Manifest)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c MANIFEST: %v\n%s", err, out)
		}
	}

	otherSum, _, _ := bundle.FileSHA256(other)
	rows := []struct {
		name   string
		edit   func(t *testing.T, dir string)
		args   []string
		code   int
		output string // in stdout when the code is 0, else in the error line
	}{
		{"intact", nil, nil, 0, "verified: auth/good_2205: conformant"},
		{"intact, unsigned", nil, nil, 0, "E2E clauses passed in the Slurm 22.05.8 daemons (UNSIGNED: integrity only)\n"},
		{"intact, the E2E clauses", nil, nil, 0, "E2E            6 clauses in the Slurm 22.05.8 daemons, 1 node(s): 5 passed, 1 not tested\n"},
		{"E2E clause failed, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, inE2EReport(setClauseResult("E2E-JOB", "FAILED")))
		}, nil, 1, "bundle intact; plugin not conformant: E2E-JOB FAILED (srun -N1 id and sbatch"},
		{"E2E MUST clause not tested, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, inE2EReport(setClauseResult("E2E-REFUSE", "not tested")))
		}, nil, 1, "plugin not conformant: E2E-REFUSE not tested"},
		{"E2E clause removed, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, inE2EReport(editClauses(func(cs []any) []any { return cs[1:] })))
		}, nil, 2, "e2e.json: clause E2E-START is missing"},
		{"E2E left out", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, func(any) any { return map[string]any{"ran": false, "left_out": "--no-e2e"} })
		}, nil, 0, "(unit clauses only; E2E left out: --no-e2e)"},
		{"E2E left out without a reason", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, func(any) any { return map[string]any{"ran": false} })
		}, nil, 2, "e2e.json: neither a report nor why the E2E clauses were left out"},
		{"E2E record removed, manifest recomputed", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bundle.E2EJSON))
			bundle.WriteManifest(dir)
		}, nil, 2, "e2e.json: missing: certify records the E2E clauses, or why they were left out"},
		{"bundle of format 1, before e2e.json", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, bundle.E2EJSON))
			editJSON(t, dir, bundle.EnvJSON, setField("bundle_format", 1))
		}, nil, 0, "conformant for generation 22.05 on host Slurm 22.05.8 — 37 passed, 0 failed, 0 warnings, 0 not tested, 1 not applicable (no E2E record)"},
		{"E2E report of another plugin", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.E2EJSON, inE2EReport(setField("plugin_type", "auth/other")))
		}, nil, 2, `e2e.json: plugin_type "auth/other" differs from summary.json's "auth/good_2205"`},
		{"intact, signed and the plugin", nil, []string{"--pubkey", pub, "--plugin", plugin}, 0, "matches " + plugin},
		{"intact, signed", nil, []string{"--pubkey", pub}, 0, "MANIFEST.sig   verified with key "},
		{"--rerun without --plugin", nil, []string{"--rerun"}, 2, "--rerun needs --plugin FILE"},
		{"signature by another key", nil, []string{"--pubkey", wrongPub}, 2, "MANIFEST.sig: signature of MANIFEST does not verify"},
		{"signature deleted", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.Signature)) },
			[]string{"--pubkey", pub}, 2, "MANIFEST.sig: missing"},
		{"signature deleted, none required", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.Signature)) },
			nil, 0, "verified:"},
		{"another plugin", nil, []string{"--plugin", other}, 2, "SHA-256 " + otherSum + " differs from the certified plugin's " + sum},
		{"file removed", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, bundle.JUnit)) },
			nil, 2, "junit.xml: listed in MANIFEST but missing"},
		{"file added", func(t *testing.T, dir string) { os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644) },
			nil, 2, "extra.txt: not listed in MANIFEST"},
		{"MUST clause removed, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.SummaryJSON, editClauses(func(cs []any) []any {
				var out []any
				for _, c := range cs {
					if c.(map[string]any)["id"] != "AUTH-TAMPER" {
						out = append(out, c)
					}
				}
				return out
			}))
		}, nil, 2, "MUST clause AUTH-TAMPER is missing"},
		{"MUST clause not tested, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.SummaryJSON, editClauses(func(cs []any) []any {
				for _, c := range cs {
					if m := c.(map[string]any); m["id"] == "AUTH-EXPIRY" {
						m["result"], m["reason"] = "not tested", "no short TTL configured"
					}
				}
				return cs
			}))
		}, nil, 1, "bundle intact; plugin not conformant: AUTH-EXPIRY not tested (no short TTL configured)"},
		{"MUST clause with a SHOULD spec's warning", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.SummaryJSON, setClauseResult("AUTH-DATA", "warning"))
		}, nil, 0, "verified:"},
		{"MUST clause with an unknown result", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.SummaryJSON, setClauseResult("AUTH-DATA", "ok"))
		}, nil, 2, `summary.json: clause AUTH-DATA has an unknown result "ok"`},
		{"run filtered, manifest recomputed", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.GinkgoJSON, func(v any) any {
				v.([]any)[0].(map[string]any)["SuiteConfig"].(map[string]any)["FocusStrings"] = []string{"AUTH-"}
				return v
			})
		}, nil, 2, "ginkgo.json: the run was filtered (--focus AUTH-)"},
		{"newer summary schema", func(t *testing.T, dir string) { editJSON(t, dir, bundle.SummaryJSON, setField("schema_version", 999)) },
			nil, 2, "made by a newer plugincheck ((devel), summary schema 999; this one reads schema 1); upgrade to verify it"},
		{"newer bundle format", func(t *testing.T, dir string) { editJSON(t, dir, bundle.EnvJSON, setField("bundle_format", 999)) },
			nil, 2, "newer plugincheck"},
		{"product statement made invalid", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, bundle.ProductYAML), []byte("vendor: [x]\n"), 0o644)
			bundle.WriteManifest(dir)
		}, nil, 2, `product.yaml: line 1: key "vendor" must be a string, not a list`},
		{"plugin.json of another plugin", func(t *testing.T, dir string) {
			editJSON(t, dir, bundle.PluginJSON, setField("plugin_type", "auth/other"))
		}, nil, 2, `summary.json: plugin_type "auth/good_2205" differs from plugin.json's "auth/other"`},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			d := copyBundle(t, dir)
			if row.edit != nil {
				row.edit(t, d)
			}
			r := cli(t, append([]string{"verify", d}, row.args...)...)
			if r.code != row.code {
				t.Fatalf("exit %d, want %d\nstderr: %s\nstdout: %s", r.code, row.code, r.stderr, r.stdout)
			}
			if row.code == 0 {
				if r.stderr != "" || !strings.Contains(r.stdout, row.output) {
					t.Errorf("stdout %q lacks %q (stderr %q)", r.stdout, row.output, r.stderr)
				}
				return
			}
			oneLineError(t, r, row.output)
		})
	}

	// A reviewer re-runs the certified run: it agrees with an intact
	// bundle, and catches a summary edited and re-hashed into MANIFEST,
	// which plain verify cannot tell from the real one.
	t.Run("rerun", func(t *testing.T) {
		d := copyBundle(t, dir)
		r := cli(t, "verify", d, "--plugin", plugin, "--rerun")
		if r.code != 0 || !strings.Contains(r.stdout, "re-run agrees: all ") {
			t.Fatalf("rerun of an intact bundle: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		editJSON(t, d, bundle.SummaryJSON, setClauseResult("AUTH-DATA", "warning"))
		if r := cli(t, "verify", d); r.code != 0 {
			t.Fatalf("plain verify of the edited bundle: exit %d, want 0 (it cannot tell)", r.code)
		}
		r = cli(t, "verify", d, "--plugin", plugin, "--rerun")
		if r.code != 1 || !regexp.MustCompile(`(?m)^AUTH-DATA +warning +passed$`).MatchString(r.stdout) {
			t.Fatalf("rerun of the edited bundle: exit %d, want 1 and a row for AUTH-DATA\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		oneLineError(t, r, "the re-run disagrees with the bundle on 1 clause(s): first AUTH-DATA (bundle warning, re-run passed)")
	})

	// Changing any one byte of any file is caught and named.
	for _, name := range want {
		for _, signed := range []bool{true, false} {
			if !signed && (name == bundle.Manifest || name == bundle.Signature) {
				continue // without a key, MANIFEST can be rewritten at will: see the rows above
			}
			t.Run("edited "+name+map[bool]string{true: " signed", false: ""}[signed], func(t *testing.T) {
				d := copyBundle(t, dir)
				path := filepath.Join(d, name)
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				data[len(data)/2] ^= 0x01
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				args := []string{"verify", d}
				wantMsg := name + ": SHA-256 differs from MANIFEST"
				if signed {
					args = append(args, "--pubkey", pub)
					if name == bundle.Manifest || name == bundle.Signature {
						wantMsg = "MANIFEST.sig: "
					}
				}
				r := cli(t, args...)
				if r.code != 2 {
					t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
				}
				oneLineError(t, r, wantMsg)
				if !strings.Contains(r.stderr, name) {
					t.Errorf("message %q does not name %s", r.stderr, name)
				}
			})
		}
	}

	t.Run("bundle from a newer plugincheck", func(t *testing.T) {
		old := toolVersion
		t.Cleanup(func() { toolVersion = old })
		toolVersion = func() string { return "v1.2.0" }
		for _, row := range []struct {
			made string
			code int
		}{{"v1.3.0", 2}, {"v1.2.1-0.20260101120000-abcdef012345", 2}, {"v1.2.0", 0}, {"v1.1.9", 0}, {"(devel)", 0}} {
			d := copyBundle(t, dir)
			editJSON(t, d, bundle.EnvJSON, setField("plugincheck_version", row.made))
			r := cli(t, "verify", d)
			if r.code != row.code {
				t.Errorf("made by %s: exit %d, want %d: %s", row.made, r.code, row.code, r.stderr)
			}
			if row.code == 2 {
				oneLineError(t, r, "made by a newer plugincheck ("+row.made+"; this is v1.2.0); upgrade to verify it")
			}
		}
	})
}

// TestCertifyNotConformant: a plugin that fails a MUST clause gets a
// bundle all the same, and both commands say why, with exit status 1.
func TestCertifyNotConformant(t *testing.T) {
	asCLI(t)
	plugin := testenv.Fixture(t, "auth_bad_tamper.so")
	dir := filepath.Join(t.TempDir(), "bundle")
	r := cli(t, certifyArgs(t, plugin, dir, "--no-e2e")...)
	if r.code != 1 {
		t.Fatalf("certify: exit %d, want 1\nstderr: %s\nstdout: %s", r.code, r.stderr, r.stdout)
	}
	oneLineError(t, r, "bundle written to "+dir+"; plugin not conformant: AUTH-TAMPER FAILED")
	if _, err := os.Stat(filepath.Join(dir, bundle.Manifest)); err != nil {
		t.Fatalf("no MANIFEST: %v", err)
	}
	v := cli(t, "verify", dir, "--plugin", plugin)
	if v.code != 1 {
		t.Fatalf("verify: exit %d, want 1\nstderr: %s", v.code, v.stderr)
	}
	oneLineError(t, v, "bundle intact; plugin not conformant: AUTH-TAMPER FAILED")
	if !strings.Contains(v.stdout, "matches "+plugin) {
		t.Errorf("verify did not check the plugin:\n%s", v.stdout)
	}
	if !strings.Contains(v.stdout, "E2E            left out: --no-e2e (the bundle certifies the unit clauses only)") {
		t.Errorf("verify does not say the E2E clauses were left out:\n%s", v.stdout)
	}
}

// TestCertifyBadInput: bad arguments and bad bundles are one line and exit
// status 2, before any run starts.
func TestCertifyBadInput(t *testing.T) {
	asCLI(t)
	good := func(t *testing.T) string { return testenv.Fixture(t, "auth_good_2205.so") }
	out := func(t *testing.T) string { return filepath.Join(t.TempDir(), "bundle") }
	withProduct := func(body string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			return []string{"certify", good(t), "--product", productYAML(t, body), "--out", out(t)}
		}
	}
	rows := []badInput{
		{"certify with --focus", func(t *testing.T) []string {
			return append(certifyArgs(t, good(t), out(t)), "--focus", "AUTH-")
		}, "certify runs every spec; --focus is not allowed"},
		{"certify with --skip", func(t *testing.T) []string {
			return append(certifyArgs(t, good(t), out(t)), "--skip=AUTH-TAMPER")
		}, "certify runs every spec; --skip is not allowed"},
		{"certify with --label-filter", func(t *testing.T) []string {
			return append(certifyArgs(t, good(t), out(t)), "--label-filter", "MUST")
		}, "certify runs every spec; --label-filter is not allowed"},
		{"certify without --product", func(t *testing.T) []string {
			return []string{"certify", good(t), "--out", out(t)}
		}, "certify needs --product FILE"},
		{"certify without --out", func(t *testing.T) []string {
			return []string{"certify", good(t), "--product", goodProduct(t, good(t))}
		}, "certify needs --out DIR"},
		{"certify without a plugin", func(t *testing.T) []string { return []string{"certify"} }, "certify takes one plugin"},
		{"--init-product with a plugin", func(t *testing.T) []string { return []string{"certify", "--init-product", good(t)} },
			"--init-product takes nothing else"},
		{"product with an unknown key", withProduct("vendor: V\nproduct: P\nversion: 1\ncontact: c@example.org\nplugin: auth_good_2205.so\ncolour: blue\n"),
			`line 6: unknown key "colour"`},
		{"product with a wrong type", withProduct("vendor: [V, W]\nproduct: P\nversion: 1\ncontact: c@example.org\nplugin: auth_good_2205.so\n"),
			`line 1: key "vendor" must be a string, not a list`},
		{"product without contact", withProduct("vendor: V\nproduct: P\nversion: 1\nplugin: auth_good_2205.so\n"),
			`key "contact_email_address" is required`},
		{"product of another plugin", withProduct("vendor: V\nproduct: P\nversion: 1\ncontact: c\nplugin: auth_other.so\n"),
			`plugin "auth_other.so" is not the file being certified, "auth_good_2205.so"`},
		{"product not YAML", withProduct("vendor: V\n  product: : P\n"), "not valid YAML"},
		{"product missing", func(t *testing.T) []string {
			return []string{"certify", good(t), "--product", "/nonexistent/product.yaml", "--out", out(t)}
		}, "no such file"},
		{"out not empty", func(t *testing.T) []string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "x"), nil, 0o644)
			return certifyArgs(t, good(t), d)
		}, "is not empty"},
		{"bad signing key", func(t *testing.T) []string {
			return certifyArgs(t, good(t), out(t), "--sign-key", write(t, "k", []byte("short")))
		}, "--sign-key: "},
		{"plugin missing", func(t *testing.T) []string {
			return []string{"certify", "/nonexistent/auth_good_2205.so", "--product", goodProduct(t, "auth_good_2205.so"), "--out", out(t)}
		}, "no such file"},
		{"the run's setup fails", func(t *testing.T) []string {
			return certifyArgs(t, good(t), out(t), "--slurm-conf", "/nonexistent/slurm.conf")
		}, "/nonexistent/slurm.conf: no such file or directory; bundle not finished, no MANIFEST written"},
		{"gen-key over an existing file", func(t *testing.T) []string {
			return []string{"certify", "--gen-key", write(t, "k", nil)}
		}, "exists; not overwriting a key"},
		{"verify of a missing directory", func(t *testing.T) []string { return []string{"verify", "/nonexistent/bundle"} },
			"/nonexistent/bundle: no such directory"},
		{"verify of a directory without MANIFEST", func(t *testing.T) []string { return []string{"verify", t.TempDir()} },
			"no MANIFEST"},
		{"verify of a file", func(t *testing.T) []string { return []string{"verify", write(t, "f", nil)} }, "not a directory"},
		{"verify without a directory", func(t *testing.T) []string { return []string{"verify"} }, "verify takes one bundle directory"},
		{"verify with a bad public key", func(t *testing.T) []string {
			return []string{"verify", t.TempDir(), "--pubkey", write(t, "k.pub", []byte("nope"))}
		}, "--pubkey: "},
		{"verify with a malformed MANIFEST", func(t *testing.T) []string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "MANIFEST"), []byte("not a manifest\n"), 0o644)
			return []string{"verify", d}
		}, "MANIFEST: line 1 is not"},
		{"verify with MANIFEST naming a file outside", func(t *testing.T) []string {
			d := t.TempDir()
			os.WriteFile(filepath.Join(d, "MANIFEST"), []byte(strings.Repeat("0", 64)+"  ../etc/passwd\n"), 0o644)
			return []string{"verify", d}
		}, "outside the bundle"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			if r := row.check(t); strings.Contains(r.stdout, "Running Suite") {
				t.Errorf("the suite ran")
			}
		})
	}
}
