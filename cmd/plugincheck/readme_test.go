package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

// TestReadmeGoTestExample builds and runs the README's `go test` example,
// taken from the README itself so the two cannot drift, in a scratch
// module that uses this checkout: on the good 22.05 fixture it passes, on a
// fixture that breaks a MUST clause it fails.
func TestReadmeGoTestExample(t *testing.T) {
	root := testenv.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- readme-example: ([a-z_]+\\.go) -->\n```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- readme-example: FILE --> go block")
	}
	host := need(t, filepath.Join(realDir(t, "22.05"), "libslurmfull.so"))
	for _, c := range []struct {
		fixture string
		pass    bool
	}{{"auth_good_2205.so", true}, {"auth_bad_tamper.so", false}} {
		t.Run(c.fixture, func(t *testing.T) {
			dir := t.TempDir()
			src := strings.Replace(string(m[2]), `"build/auth_mine.so"`, `"`+filepath.Join(fixtures(t), c.fixture)+`"`, 1)
			if err := os.WriteFile(filepath.Join(dir, string(m[1])), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			gomod := "module example.org/auth_mine\n\ngo 1.24\n\nrequire github.com/plugincheck/plugincheck v0.0.0\n\nreplace github.com/plugincheck/plugincheck => " + root + "\n"
			if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
				t.Fatal(err)
			}
			goCmd := func(args ...string) ([]byte, error) {
				cmd := exec.Command("go", args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "SLURM_LIB="+host, "GOFLAGS=-mod=mod")
				return cmd.CombinedOutput()
			}
			if out, err := goCmd("mod", "tidy"); err != nil {
				t.Fatalf("go mod tidy: %v\n%s", err, out)
			}
			out, err := goCmd("test", "-count=1", "./...")
			switch {
			case c.pass && err != nil:
				t.Errorf("go test of the README's example on %s failed: %v\n%s", c.fixture, err, out)
			case !c.pass && (err == nil || !strings.Contains(string(out), "NOT conformant")):
				t.Errorf("go test of the README's example on %s: %v, want a failure saying NOT conformant\n%s", c.fixture, err, out)
			}
		})
	}
}
