// Package testenv finds the real inputs tests run against: the Slurm cache
// that `make slurm` fills and the fixtures `make fixtures` builds.
package testenv

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
	}
	t.Fatal("no go.mod above the test")
	return ""
}

// Need returns path when it exists. Otherwise it skips the test, unless the
// run demands real inputs (make test sets PLUGINCHECK_REQUIRE_REAL), where it
// fails: a missing input must never pass for a passing test.
func Need(t testing.TB, what, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("PLUGINCHECK_REQUIRE_REAL") != "" {
			t.Fatalf("%s missing at %s (run make slurm fixtures)", what, path)
		}
		t.Skipf("%s missing at %s (run make slurm fixtures)", what, path)
	}
	return path
}

// SlurmCache is the directory of unpacked Debian Slurm releases.
func SlurmCache(t testing.TB) string {
	if c := os.Getenv("PLUGINCHECK_SLURM_CACHE"); c != "" {
		return Need(t, "Slurm cache", c)
	}
	return Need(t, "Slurm cache", filepath.Join(RepoRoot(t), ".cache", "slurm"))
}

// Fixture is a built fixture plugin or program.
func Fixture(t testing.TB, name string) string {
	dir := os.Getenv("PLUGINCHECK_FIXTURES")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "fixtures", "build")
	}
	return Need(t, "fixture", filepath.Join(dir, name))
}

// Releases lists the releases in the Slurm cache ("20.11.4", "22.05.8", …).
func Releases(t testing.TB) []string {
	entries, err := os.ReadDir(SlurmCache(t))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Release finds the cached release of a series ("22.05" → "22.05.8").
func Release(t testing.TB, series string) string {
	for _, r := range Releases(t) {
		if strings.HasPrefix(r, series+".") {
			return r
		}
	}
	Need(t, "Slurm "+series, filepath.Join(SlurmCache(t), series+".x"))
	return ""
}

// PluginDir is where a cached release keeps its plugins.
func PluginDir(t testing.TB, release string) string {
	return filepath.Join(SlurmCache(t), release, "usr/lib/x86_64-linux-gnu/slurm-wlm")
}

// Plugin is a real plugin (or libslurmfull.so) of a series.
func Plugin(t testing.TB, series, name string) string {
	return Need(t, "plugin", filepath.Join(PluginDir(t, Release(t, series)), name))
}

// BasePackage is the package whose Debian version names a release's build
// in pins: it ships libslurmfull.so, which hosts every plugin, and the
// root's other Slurm packages are built from the same source version.
const BasePackage = "slurm-wlm-basic-plugins"

// PackageVersion is the Debian version of a package in a cached release, as
// its root's stamp (.complete, written by hack/fetch-slurm.sh) records it.
func PackageVersion(t testing.TB, release, pkg string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(SlurmCache(t), release, ".complete"))
	if err != nil {
		t.Fatalf("release %s: %v (run make slurm)", release, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "package" && f[1] == pkg {
			return f[2]
		}
	}
	t.Fatalf("release %s: its stamp names no package %s", release, pkg)
	return ""
}

// RequirePins reports whether a real plugin's behaviour must match its pins
// exactly whatever Debian build this machine has (PLUGINCHECK_REQUIRE_PINS=1,
// set by CI, which always tests the snapshot the pins were made on).
func RequirePins() bool { return os.Getenv("PLUGINCHECK_REQUIRE_PINS") == "1" }

// PinnedBuilds are the Debian builds (of BasePackage) that the expectations
// written in Go about real plugins were checked against: the snapshot's.
// Expectations kept in files (suite/testdata/real-plugins.txt) carry their
// own pin lines.
var PinnedBuilds = map[string]string{
	"20.11.4": "20.11.7+really20.11.4-2+deb11u1",
	"22.05.8": "22.05.8-4+deb12u3",
	"24.11.5": "24.11.5-4+deb13u1",
	"26.05.5": "26.05.5-1",
}

// Pinned returns t itself when this machine has the build of release that
// the test's expectations were pinned on, or when RequirePins. On another
// build it returns a TB whose failures are logged as differences from the
// pinned build instead (and whose Fatal ends the test as skipped): the test
// still runs the real plugin, and a tool failure still shows, but Debian
// moving on does not fail a user's clone.
func Pinned(t testing.TB, release string) testing.TB {
	t.Helper()
	have, pinned := PackageVersion(t, release, BasePackage), PinnedBuilds[release]
	if have == pinned || RequirePins() {
		return t
	}
	return unpinned{TB: t, note: fmt.Sprintf("differs from the pinned build %s (this machine: %s; PLUGINCHECK_REQUIRE_PINS=1 fails it): ", orNone(pinned), have)}
}

type unpinned struct {
	testing.TB
	note string
}

func (u unpinned) Error(args ...any) { u.TB.Helper(); u.TB.Log(append([]any{u.note}, args...)...) }
func (u unpinned) Errorf(format string, args ...any) {
	u.TB.Helper()
	u.TB.Logf(u.note+format, args...)
}
func (u unpinned) Fail()             { u.TB.Helper(); u.TB.Log(u.note + "failed") }
func (u unpinned) FailNow()          { u.TB.Helper(); u.TB.Skip(u.note + "failed") }
func (u unpinned) Fatal(args ...any) { u.TB.Helper(); u.TB.Skip(append([]any{u.note}, args...)...) }
func (u unpinned) Fatalf(format string, args ...any) {
	u.TB.Helper()
	u.TB.Skipf(u.note+format, args...)
}

func orNone(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// RootOnlyKey writes a random 32-byte key file only root may read (owner
// root, mode 0600, in a 0755 directory), as daemons' keys are kept; tests
// that need it run as root.
func RootOnlyKey(t testing.TB) string {
	if os.Geteuid() != 0 {
		t.Skip("workers run as another uid only when plugincheck runs as root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	path := filepath.Join(dir, "root.key")
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// WorkerBinary is a dedicated worker binary (cmd/plugincheck-worker) built
// from this source: the one make test names in PLUGINCHECK_WORKER_BINARY,
// else one built for the test in a directory any uid may search, as
// workers running as nobody must.
func WorkerBinary(t testing.TB) string {
	t.Helper()
	if path := os.Getenv("PLUGINCHECK_WORKER_BINARY"); path != "" {
		return Need(t, "worker binary", path)
	}
	dir, err := os.MkdirTemp("", "test-worker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "plugincheck-worker")
	cmd := exec.Command("go", "build", "-o", path, "./cmd/plugincheck-worker")
	cmd.Dir, cmd.Env = RepoRoot(t), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/plugincheck-worker: %v\n%s", err, out)
	}
	return path
}
