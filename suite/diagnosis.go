package suite

import (
	"fmt"
	"os"
	"strings"

	"github.com/plugincheck/plugincheck/loader"
)

// diagnose sets s.Diagnosis when most clauses that did not pass fail the
// same way, which almost always means the plugin was not set up as it
// expects (a key it cannot read, a variable it does not get) rather than
// that it breaks each clause: one line that says so, with what the plugin
// was given, reads better than twenty identical rows.
func diagnose(rs *runState, s *Summary) {
	count := map[string]int{}
	bad := 0
	for _, c := range s.Clauses {
		if c.Result == Failed || c.Result == Warning {
			bad++
			count[c.Reason]++
		}
	}
	reason, most := "", 0
	for r, n := range count {
		if n > most || n == most && r < reason {
			reason, most = r, n
		}
	}
	if most < 4 || most*2 < bad {
		return
	}
	var given []string
	sb := rs.sandbox
	given = append(given, fmt.Sprintf("ran as uid %d gid %d", sb.UID, sb.GID))
	if rs.cfg.Daemon != "" {
		given = append(given, "as "+rs.cfg.Daemon)
	}
	if rs.authInfo != "" {
		given = append(given, fmt.Sprintf("AuthInfo %q", rs.authInfo))
	}
	if k := rs.keys; k != nil && !k.generated {
		given = append(given, "key files "+strings.Join(nonEmpty(k.private, k.public), ", "))
	}
	if len(rs.cfg.ConfLines) > 0 {
		given = append(given, "slurm.conf lines "+strings.Join(rs.cfg.ConfLines, "; "))
	}
	env := fmt.Sprintf("the caller's environment (%d variables)", len(loader.EnvNames(loader.WorkerEnv(os.Environ(), nil))))
	if len(rs.cfg.Env) > 0 {
		env += " and --env " + strings.Join(loader.EnvNames(rs.cfg.Env), " ")
	}
	given = append(given, env)
	s.Diagnosis = fmt.Sprintf("%d of %d clauses that did not pass fail the same way: %s. The plugin %s.",
		most, bad, reason, strings.Join(given, ", "))
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
