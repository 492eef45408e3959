package loader

import (
	"fmt"
	"sort"
	"strings"
)

// reservedEnv are the variables that would change how the worker itself
// loads or runs rather than what the plugin sees: the dynamic loader's,
// the Go runtime's, glibc's allocator tunables (the leak specs measure its
// heap), plugincheck's own, and SLURM_CONF (the run's slurm.conf). The
// caller's values of these never reach a worker, and --env cannot set them.
var reservedEnv = []string{"LD_", "GOTRACEBACK=", "GOMAXPROCS=", "GODEBUG=", "GOGC=", "GOMEMLIMIT=",
	"GLIBC_TUNABLES=", "MALLOC_", "PLUGINCHECK_", "SLURM_CONF="}

// ReservedEnv says whether a NAME=VALUE setting is one the worker keeps for
// itself (see reservedEnv).
func ReservedEnv(kv string) bool {
	for _, p := range reservedEnv {
		if strings.HasPrefix(kv, p) {
			return true
		}
	}
	return false
}

// WorkerEnv is the environment a plugin sees: the caller's, less the
// reserved variables, with extra (NAME=VALUE, which win) on top. PATH and
// LANG get plain defaults when the caller has none.
func WorkerEnv(caller, extra []string) []string {
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	for _, kv := range append(append([]string(nil), caller...), extra...) {
		if strings.Contains(kv, "=") && !ReservedEnv(kv) {
			env = append(env, kv)
		}
	}
	return env
}

// EnvNames lists the names of the variables in env, sorted and once each:
// what a bundle records of the plugin's environment (never the values,
// which may be secrets).
func EnvNames(env []string) []string {
	seen := map[string]bool{}
	var names []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// CheckEnv validates --env settings: NAME=VALUE, not a reserved variable.
func CheckEnv(settings []string) error {
	for _, kv := range settings {
		name, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok || name == "" || strings.ContainsAny(name, " \t\n"):
			return fmt.Errorf("--env %q: want NAME=VALUE", kv)
		case ReservedEnv(kv):
			return fmt.Errorf("--env %s: reserved, it would change how the worker itself runs", name)
		}
	}
	return nil
}
