package loader

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

// script writes an executable shell script.
func script(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestWorkerBinaryChoice: a worker binary beside the program is used only
// when built from the same source; one the variable names must be, or
// nothing starts.
func TestWorkerBinaryChoice(t *testing.T) {
	t.Setenv(WorkerBinaryEnv, "")
	real := testenv.WorkerBinary(t)

	dir := t.TempDir()
	self := filepath.Join(dir, "plugincheck")
	if got, err := workerBinary(self); got != self || err != nil {
		t.Errorf("nothing beside: %s, %v; want %s", got, err, self)
	}
	beside := filepath.Join(dir, WorkerBinaryName)
	script(t, beside, "echo 0123456789abcdef")
	if got, err := workerBinary(self); got != self || err != nil {
		t.Errorf("one from other source beside: %s, %v; want %s", got, err, self)
	}
	if err := os.Remove(beside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, beside); err != nil {
		t.Fatal(err)
	}
	if got, err := workerBinary(self); got != beside || err != nil {
		t.Errorf("this source's beside: %s, %v; want %s", got, err, beside)
	}

	other := filepath.Join(t.TempDir(), "other-worker")
	script(t, other, "echo 0123456789abcdef")
	for _, named := range []string{other, filepath.Join(dir, "missing")} {
		t.Setenv(WorkerBinaryEnv, named)
		got, err := workerBinary(self)
		var input *InputError
		if !errors.As(err, &input) || !strings.Contains(err.Error(), WorkerBinaryEnv+"="+named) {
			t.Errorf("%s=%s: %q, %v; want an input error naming it", WorkerBinaryEnv, named, got, err)
		}
	}
	t.Setenv(WorkerBinaryEnv, other)
	if _, err := workerBinary(self); err == nil || !strings.Contains(err.Error(), "built from other source") {
		t.Errorf("other source: %v", err)
	}
	t.Setenv(WorkerBinaryEnv, real)
	if got, err := workerBinary(self); got != real || err != nil {
		t.Errorf("%s=%s: %s, %v", WorkerBinaryEnv, real, got, err)
	}
}
