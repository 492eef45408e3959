package cleanup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestOwnerPID(t *testing.T) {
	for name, want := range map[string]int{
		"plugincheck-123-456":        123,
		"plugincheck-munged-77-8":    77,
		"plugincheck-keys-9-1234567": 9,
		"plugincheck-4567890":        0, // no owner: an older plugincheck's, left alone
		"plugincheck-munged-1234567": 0,
		"plugincheck-x-y-z":          0,
		"other-123-456":              0,
	} {
		if got, _ := ownerPID(name); got != want {
			t.Errorf("ownerPID(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestSweep: directories of dead owners go, those of live ones and of
// unknown owners stay.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := strconv.Itoa(dead.ProcessState.Pid())
	mine := strconv.Itoa(os.Getpid())
	names := map[string]bool{ // name → swept
		"plugincheck-" + deadPID + "-1":        true,
		"plugincheck-munged-" + deadPID + "-2": true,
		"plugincheck-" + mine + "-3":           false,
		"plugincheck-1-4":                      false, // init lives
		"plugincheck-5555555":                  false,
		"unrelated-" + deadPID + "-5":          false,
	}
	for name := range names {
		if err := os.MkdirAll(filepath.Join(dir, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	Sweep(dir)
	for name, swept := range names {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := os.IsNotExist(err); gone != swept {
			t.Errorf("%s: removed %v, want %v", name, gone, swept)
		}
	}
}

func TestAddRunForget(t *testing.T) {
	var order []int
	forget1 := Add(func() { order = append(order, 1) })
	Add(func() { order = append(order, 2) })
	forget3 := Add(func() { order = append(order, 3) })
	forget3()
	Run()
	Run() // nothing left: each undo runs once
	forget1()
	if len(order) != 2 || order[0] != 2 || order[1] != 1 {
		t.Errorf("undos ran %v, want [2 1] (newest first, forgotten ones not at all)", order)
	}
}
