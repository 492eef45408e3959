package main

import (
	"path/filepath"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

func TestE2EBadInput(t *testing.T) {
	plugin := func(t *testing.T) string { return testenv.Plugin(t, "22.05", "auth_munge.so") }
	checkBadInputs(t, []badInput{
		{"no plugin", func(t *testing.T) []string { return []string{"e2e"} }, "usage: plugincheck e2e PLUGIN"},
		{"no nodes", func(t *testing.T) []string { return []string{"e2e", plugin(t), "--nodes", "0"} }, "--nodes must be 1 to 16"},
		{"refuse-env", func(t *testing.T) []string { return []string{"e2e", plugin(t), "--refuse-env", "X"} }, "is not VAR=VALUE"},
		{"no daemons", func(t *testing.T) []string {
			return []string{"e2e", plugin(t), "--daemons", filepath.Join(t.TempDir(), "none")}
		}, "no daemon roots"},
		{"not a plugin", func(t *testing.T) []string {
			return []string{"e2e", testenv.Plugin(t, "22.05", "libslurmfull.so"), "--daemons", t.TempDir()}
		}, "not a Slurm plugin"},
	})
}
