package loader_test

import (
	"path/filepath"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
)

// TestWorkerEnvironment: the plugin sees the caller's environment, as a
// daemon inherits its own, with --env settings on top; the variables that
// would change how the worker runs are not passed.
func TestWorkerEnvironment(t *testing.T) {
	t.Setenv("PLUGIN_KEY_FILE", "/etc/from-the-caller")
	t.Setenv("OVERRIDDEN", "caller")
	t.Setenv("LD_BIND_NOW", "1")
	t.Setenv("MALLOC_PERTURB_", "165")
	plugin := testenv.Plugin(t, "22.05", "auth_none.so")
	w := start(t, plugin, loader.Options{}, loader.SandboxOptions{Env: []string{"OVERRIDDEN=--env", "ONLY_ENV=yes"}})
	getenv := func(name string) string {
		r, err := w.Call("getenv", loader.CString(name))
		ok(t, "getenv", err)
		if r.Ptr() == 0 {
			return "(unset)"
		}
		s, _, err := w.CStringAt(r.Ptr(), 4096)
		ok(t, "read", err)
		return s
	}
	for name, want := range map[string]string{
		"PLUGIN_KEY_FILE": "/etc/from-the-caller", "OVERRIDDEN": "--env", "ONLY_ENV": "yes",
		"LD_BIND_NOW": "(unset)", "MALLOC_PERTURB_": "(unset)", "GOMAXPROCS": "1",
		"SLURM_CONF": filepath.Join(filepath.Dir(getenv("SLURM_CONF")), "slurm.conf"),
	} {
		if got := getenv(name); got != want {
			t.Errorf("the plugin sees %s=%q, want %q", name, got, want)
		}
	}
	if err := loader.CheckEnv([]string{"LD_PRELOAD=/x.so"}); err == nil {
		t.Errorf("--env LD_PRELOAD accepted")
	}
	if err := loader.CheckEnv([]string{"NOEQUALS"}); err == nil {
		t.Errorf("--env without = accepted")
	}
}
