// Package testenv finds the real inputs tests run against: the Slurm cache
// that `make slurm` fills and the fixtures `make fixtures` builds.
package testenv

import (
	"crypto/rand"
	"os"
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
