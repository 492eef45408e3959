package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader/fuzz"
	"github.com/plugincheck/plugincheck/reference/pack"
)

// TestFuzzFindsBadUnpack is the acceptance, shortened: a fuzz run on
// auth_bad_unpack finds its over-read, writes a minimized reproducer with
// its sidecar, and --repro replays it (exit 1, naming kind and function);
// the good build does not fail on it (exit 0).
func TestFuzzFindsBadUnpack(t *testing.T) {
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	plugin := need(t, filepath.Join(fixtures(t), "auth_bad_unpack.so"))
	dir := t.TempDir()
	crashers, corpus := filepath.Join(dir, "crashers"), filepath.Join(dir, "corpus")
	var stdout, stderr bytes.Buffer
	code := run([]string{"fuzz", "--slurm-lib", host, "--duration", "3s", "--crashers", crashers, "--corpus", corpus, "--json", plugin}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %s", code, stderr.String())
	}
	var rep fuzz.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	if len(rep.Unique) != 1 || rep.Execs == 0 || rep.Corpus == 0 || rep.Failures < 1 {
		t.Fatalf("report %+v", rep)
	}
	u := rep.Unique[0]
	if u.Kind != "crash" || u.Signal != "SIGSEGV" || u.Function != "auth_p_unpack" || !u.Reproducible || u.Target != "unpack" {
		t.Fatalf("failure %+v", u)
	}
	data, err := os.ReadFile(u.File)
	if err != nil || len(data) != u.Size || u.Size >= u.OriginalSize || u.MinimizeTries == 0 {
		t.Fatalf("reproducer %s: %d bytes (%v), record %+v", u.File, len(data), err, u)
	}
	if _, err := os.Stat(u.File + ".json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "execs") || !strings.Contains(stderr.String(), "corpus") {
		t.Errorf("no status line on stderr: %q", stderr.String())
	}
	if !strings.Contains(stderr.String(), "found: crash (SIGSEGV) in auth_p_unpack") {
		t.Errorf("the failure was not printed as it was found: %q", stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code = run([]string{"fuzz", "--slurm-lib", host, "--repro", u.File, plugin}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "still fails: crash (SIGSEGV) in auth_p_unpack") {
		t.Fatalf("--repro: exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	good := need(t, filepath.Join(fixtures(t), "auth_good_2205.so"))
	code = run([]string{"fuzz", "--slurm-lib", host, "--repro", u.File, "--json", good}, &stdout, &stderr)
	var rr ReproReport
	if code != 0 || json.Unmarshal(stdout.Bytes(), &rr) != nil || rr.Reproduced {
		t.Fatalf("--repro on the good build: exit %d, %s %s", code, stdout.String(), stderr.String())
	}
}

// TestBenchFuzzBadInput: bad input to bench and fuzz is one line and exit
// status 2.
func TestBenchFuzzBadInput(t *testing.T) {
	checkBadInputs(t, []badInput{
		{"bench: no plugin", func(t *testing.T) []string { return []string{"bench"} }, "bench takes one plugin"},
		{"bench: two plugins", func(t *testing.T) []string { return []string{"bench", "a.so", "b.so"} }, "bench takes one plugin"},
		{"bench: threads", func(t *testing.T) []string { return []string{"bench", "--threads", "0", "x.so"} }, "--threads must be"},
		{"bench: duration", func(t *testing.T) []string { return []string{"bench", "--duration", "-1s", "x.so"} }, "--duration must be"},
		{"bench: not a duration", func(t *testing.T) []string { return []string{"bench", "--duration", "soon", "x.so"} }, "invalid value"},
		{"bench: runs", func(t *testing.T) []string { return []string{"bench", "--runs", "0", "x.so"} }, "--runs must be"},
		{"bench: compare missing", func(t *testing.T) []string {
			return []string{"bench", "--compare", "/nonexistent/b.json", "x.so"}
		}, "--compare"},
		{"bench: compare not a result", func(t *testing.T) []string {
			return []string{"bench", "--compare", write(t, "b.json", []byte(`{"schema_version": 99}`)), "x.so"}
		}, "schema_version 99"},
		{"bench: native missing", func(t *testing.T) []string { return []string{"bench", "--native", "/nonexistent/bn", "x.so"} }, "--native"},
		{"bench: plugin missing", func(t *testing.T) []string { return []string{"bench", "/nonexistent/auth_x.so"} }, "no such file"},
		{"bench: not a plugin", func(t *testing.T) []string {
			return []string{"bench", need(t, filepath.Join(fixtures(t), "libplain.so"))}
		}, "not a Slurm plugin"},
		{"bench: 23.11 cred API", func(t *testing.T) []string {
			return []string{"bench", need(t, filepath.Join(realDir(t, "24.11"), "cred_none.so"))}
		}, "no sign/verify_sign"},
		{"fuzz: no plugin", func(t *testing.T) []string { return []string{"fuzz"} }, "fuzz takes one plugin"},
		{"fuzz: duration", func(t *testing.T) []string { return []string{"fuzz", "--duration", "0s", "x.so"} }, "--duration must be"},
		{"fuzz: jobs", func(t *testing.T) []string { return []string{"fuzz", "--jobs", "0", "x.so"} }, "--jobs must be"},
		{"fuzz: mem-limit", func(t *testing.T) []string { return []string{"fuzz", "--mem-limit", "10", "x.so"} }, "--mem-limit"},
		{"fuzz: repro missing", func(t *testing.T) []string { return []string{"fuzz", "--repro", "/nonexistent/crash", "x.so"} }, "--repro"},
		{"fuzz: repro sidecar not JSON", func(t *testing.T) []string {
			f := write(t, "crash", []byte("x"))
			os.WriteFile(f+".json", []byte("{"), 0o644)
			return []string{"fuzz", "--repro", f, "x.so"}
		}, "not a reproducer record"},
		{"fuzz: corpus is a file", func(t *testing.T) []string {
			return []string{"fuzz", "--corpus", write(t, "c", nil), "x.so"}
		}, "not a directory"},
		{"fuzz: unknown target", func(t *testing.T) []string {
			return []string{"fuzz", "--target", "frobnicate", need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so"))}
		}, `no fuzz target "frobnicate"`},
		{"fuzz: plugin missing", func(t *testing.T) []string { return []string{"fuzz", "/nonexistent/auth_x.so"} }, "no such file"},
	})
}

// identity packs an identity_t as Slurm 23.11 and later do
// (src/common/identity.c, unpack_identity): uid, gid, four strings, the gid
// array, then the group names.
func identity(ngids int, names ...string) []byte {
	var e pack.Encoder
	e.U32(1000)
	e.U32(1000)
	for range 4 {
		e.NullStr()
	}
	e.U32(uint32(ngids))
	for i := range ngids {
		e.U32(uint32(1000 + i))
	}
	e.U32(uint32(len(names)))
	for _, n := range names {
		e.Str(n)
	}
	return e.Bytes()
}

// TestFuzzWritesCorpus: inputs with outcomes a worker had not seen are
// written to --corpus. On a plugin that does not crash every batch
// completes, so this does not depend on how fast the machine is (on a
// crashing plugin a batch's finds are lost with its worker).
func TestFuzzWritesCorpus(t *testing.T) {
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	plugin := need(t, filepath.Join(fixtures(t), "auth_good_2205.so"))
	corpus := filepath.Join(t.TempDir(), "corpus")
	var stdout, stderr bytes.Buffer
	code := run([]string{"fuzz", "--slurm-lib", host, "--duration", "2s", "--jobs", "1", "--corpus", corpus, "--crashers", t.TempDir(), plugin}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, want 0; stderr %s", code, stderr.String())
	}
	if entries, _ := os.ReadDir(corpus); len(entries) == 0 {
		t.Errorf("nothing written to --corpus")
	}
}

// TestFuzzReproUnpackIdentity pins what the fuzzer found in Debian's 24.11
// and 26.05 cred plugins (docs/real-plugins.md): when the group names do
// not match the gids, unpack_identity's error path frees ngids group names
// from an array that has fewer. With 15,000 gids and 2 names,
// sbcast_p_unpack reads 120 KB of pointers past a 3-slot array and frees
// them: whatever the heap holds there, it crashes. The same credential with
// as many names as gids is refused without a crash. Pinned on the
// snapshot's builds (testenv.PinnedBuilds): 24.11.5-4+deb13u1, whose
// security update left unpack_identity as it was but moved sbcast_p_unpack
// to four arguments (read from the host library, see loader.HostForms),
// and 26.05.5-1.
func TestFuzzReproUnpackIdentity(t *testing.T) {
	const ngids = 15000
	names := make([]string, ngids)
	for i := range names {
		names[i] = "g"
	}
	for _, release := range []string{"24.11", "26.05"} {
		plugin := need(t, filepath.Join(realDir(t, release), "cred_none.so"))
		r := testenv.Pinned(t, testenv.Release(t, release))
		for _, c := range []struct {
			name  string
			ident []byte
			crash bool
		}{
			{"mismatch", identity(ngids, "aa", "bb"), true},
			{"consistent", identity(ngids, names...), false},
		} {
			// The consistent credential is 150 KB, past --max-len's default.
			// The series' own protocol version: from 25.11 the step id
			// (sluid, job, step, het component) comes first.
			e := pack.Encoder{}
			if release == "26.05" {
				e.U64(0)
				e.U32(5)
				e.U32(0)
				e.U32(0xfffffffe)
			}
			e.Raw(c.ident)
			// The rest of an sbcast credential: ctime, expiration, (job,)
			// het job, (step,) nodes, signature.
			e.U64(1)
			e.U64(2)
			e.U32(3)
			e.U32(4)
			e.U32(5)
			e.Str("node1")
			e.Str("sig")
			file := write(t, c.name, e.Bytes())
			var stdout, stderr bytes.Buffer
			code := run([]string{"fuzz", "--target", "sbcast_unpack", "--max-len", "262144", "--repro", file, plugin}, &stdout, &stderr)
			if c.crash && (code != 1 || !strings.Contains(stderr.String(), "still fails: crash (") ||
				!strings.Contains(stderr.String(), ") in sbcast_p_unpack")) {
				r.Errorf("%s %s: exit %d, stderr %q", release, c.name, code, stderr.String())
			}
			if !c.crash && (code != 0 || !strings.Contains(stdout.String(), "no failure")) {
				r.Errorf("%s %s: exit %d, stdout %q, stderr %q", release, c.name, code, stdout.String(), stderr.String())
			}
		}
	}
}
