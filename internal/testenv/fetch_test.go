package testenv_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

// TestRootStamps: every root's stamp records where its packages came from
// and the SHA-256 of the host library and of every plugin, and the files
// the tests load are those bytes. Under PLUGINCHECK_REQUIRE_PINS (CI) the
// roots must come from the snapshot and be the pinned builds.
func TestRootStamps(t *testing.T) {
	for _, rel := range testenv.Releases(t) {
		root := filepath.Join(testenv.SlurmCache(t), rel)
		data, err := os.ReadFile(filepath.Join(root, ".complete"))
		if err != nil {
			t.Fatal(err)
		}
		var source string
		hashed := 0
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			switch {
			case len(f) >= 2 && f[0] == "source":
				source = f[1]
			case len(f) == 3 && f[0] == "sha256":
				b, err := os.ReadFile(filepath.Join(root, f[1]))
				if err != nil {
					t.Fatal(err)
				}
				if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f[2] {
					t.Errorf("%s/%s: SHA-256 %x, the stamp says %s", rel, f[1], sum, f[2])
				}
				hashed++
			}
		}
		if source == "" || hashed < 5 {
			t.Errorf("%s: stamp names source %q and hashes %d files; want a source and libslurmfull.so plus the plugins", rel, source, hashed)
		}
		if testenv.RequirePins() {
			if source != "snapshot" {
				t.Errorf("%s: built from the %s; CI tests the snapshot", rel, source)
			}
			if have, want := testenv.PackageVersion(t, rel, testenv.BasePackage), testenv.PinnedBuilds[rel]; have != want {
				t.Errorf("%s: Debian build %s, the pins were made on %s", rel, have, want)
			}
		}
	}
}

// TestSnapshotRefusesAlteredDebs: hack/fetch-slurm.sh builds nothing from
// a snapshot whose .debs do not match their SHA256SUMS, or that holds a
// .deb the sums do not list.
func TestSnapshotRefusesAlteredDebs(t *testing.T) {
	snap := os.Getenv("PLUGINCHECK_DEBIAN_SNAPSHOT")
	if snap == "" {
		snap = filepath.Join(testenv.RepoRoot(t), "..", "shared", "debian")
	}
	sums, err := os.ReadFile(filepath.Join(snap, "SHA256SUMS"))
	if err != nil {
		t.Skipf("no Debian snapshot: %v", err)
	}
	var first string // the first bullseye .deb the sums list
	for _, line := range strings.Split(string(sums), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[1], "./bullseye/") {
			first = strings.TrimPrefix(f[1], "./")
			break
		}
	}
	if first == "" {
		t.Fatal("the snapshot lists no bullseye .deb")
	}
	for _, c := range []struct {
		name  string
		alter func(dir string)
		want  string
	}{
		{"a changed byte", func(dir string) { appendTo(t, filepath.Join(dir, first), "x") }, "does not match its SHA256SUMS line"},
		{"an unlisted .deb", func(dir string) { appendTo(t, filepath.Join(dir, "bullseye", "extra_1_amd64.deb"), "x") }, "is not listed in SHA256SUMS"},
		{"a listed .deb missing", func(dir string) { os.Remove(filepath.Join(dir, first)) }, "is listed in SHA256SUMS but missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(snap)); err != nil {
				t.Fatal(err)
			}
			filepath.WalkDir(dir, func(p string, _ os.DirEntry, _ error) error { return os.Chmod(p, 0o755) })
			c.alter(dir)
			cmd := exec.Command(filepath.Join(testenv.RepoRoot(t), "hack", "fetch-slurm.sh"), "--snapshot", dir, filepath.Join(t.TempDir(), "cache"))
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), c.want) {
				t.Errorf("fetch-slurm.sh: %v, want a failure saying %q:\n%s", err, c.want, out)
			}
		})
	}
}

func appendTo(t *testing.T, path, s string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(s)
}
