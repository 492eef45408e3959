package loader_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
)

// TestDedicatedWorkerBinary: workers run the dedicated binary when the
// variable names it and this test binary when it does not, and the plugin
// is served the same in both.
func TestDedicatedWorkerBinary(t *testing.T) {
	dedicated := testenv.WorkerBinary(t)
	self, err := os.Executable()
	ok(t, "own binary", err)
	for _, binary := range []string{dedicated, ""} {
		t.Setenv(loader.WorkerBinaryEnv, binary)
		w := start(t, realPlugin(t, "22.05", "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", w.Pid))
		ok(t, "worker's executable", err)
		want := filepath.Base(self)
		if binary != "" {
			want = loader.WorkerBinaryName
		}
		if filepath.Base(exe) != want {
			t.Errorf("%s=%q: the worker runs %s, want a %s", loader.WorkerBinaryEnv, binary, exe, want)
		}
		a, err := w.Auth()
		ok(t, "auth", err)
		if r, err := a.Init(); err != nil || r.Int() != 0 {
			t.Errorf("%s=%q: init: %v, %v", loader.WorkerBinaryEnv, binary, r, err)
		}
	}
}

// TestWorkerRefusesOtherSource: a worker whose source differs from the
// parent's refuses to serve, even when it answered the parent's check
// (here a wrapper that answers for the real binary and then hands it
// another fingerprint, as a worker built from other source would see).
func TestWorkerRefusesOtherSource(t *testing.T) {
	dedicated := testenv.WorkerBinary(t)
	dir, err := os.MkdirTemp("", "test-worker-")
	ok(t, "temporary directory", err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	wrapper := filepath.Join(dir, loader.WorkerBinaryName)
	body := fmt.Sprintf(`#!/bin/sh
[ "$1" = --fingerprint ] && exec %[1]s --fingerprint
PLUGINCHECK_WORKER=$(printf '%%s' "$PLUGINCHECK_WORKER" | sed 's/"fingerprint":"[0-9a-f]*"/"fingerprint":"0123"/')
export PLUGINCHECK_WORKER
exec %[1]s
`, dedicated)
	ok(t, "wrapper", os.WriteFile(wrapper, []byte(body), 0o755))
	t.Setenv(loader.WorkerBinaryEnv, wrapper)
	tg, err := loader.Open(realPlugin(t, "22.05", "auth_none.so"), loader.Options{})
	ok(t, "open", err)
	sb, err := tg.NewSandbox(loader.SandboxOptions{})
	ok(t, "sandbox", err)
	defer sb.Close()
	w, err := sb.Start(context.Background())
	if err == nil {
		w.Close()
		t.Fatal("a worker built from other source served")
	}
	if !strings.Contains(err.Error(), "built from other source than plugincheck") {
		t.Errorf("error %q does not say the worker was built from other source", err)
	}
}
