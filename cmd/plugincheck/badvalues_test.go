package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestRefusedWithOneLine is rows 4-13 of issue 16 that plugincheck must
// refuse: reports that cannot be written, option values out of range, a
// munged that is not there, a TMPDIR the workers cannot use, slurm.conf
// values it cannot carry, and files that are not regular. Each is exit
// status 2 and one "plugincheck: " line (progress lines of a run that
// happened aside), never a stack trace.
func TestRefusedWithOneLine(t *testing.T) {
	none := func(t *testing.T) string { return need(t, filepath.Join(realDir(t, "22.05"), "auth_none.so")) }
	munge := func(t *testing.T) string { return need(t, filepath.Join(realDir(t, "22.05"), "auth_munge.so")) }
	quick := []string{"--focus", "PLG-SYMBOLS", "--no-color"}
	rows := []badInput{
		// 4: reports
		{"junit report on a full device", func(t *testing.T) []string {
			return append(quick, "--junit-report", "/dev/full", none(t))
		}, "--junit-report /dev/full: write: no space left on device"},
		{"summary into a missing directory", func(t *testing.T) []string {
			return append(quick, "--summary-json", filepath.Join(t.TempDir(), "missing", "s.json"), none(t))
		}, "--summary-json"},
		{"report under a regular file", func(t *testing.T) []string {
			return append(quick, "--json-report", filepath.Join(write(t, "file", nil), "r.json"), none(t))
		}, "cannot be written: stat: not a directory"},
		{"report is a directory", func(t *testing.T) []string {
			return append(quick, "--junit-report", t.TempDir(), none(t))
		}, "is a directory, not a file"},
		{"fuzz --crashers under a regular file", func(t *testing.T) []string {
			return []string{"fuzz", "--crashers", filepath.Join(write(t, "file", nil), "crashers"), none(t)}
		}, "--crashers"},
		// 5-8: option values
		{"bad --focus regexp", func(t *testing.T) []string { return []string{"--focus", "(", none(t)} }, `bad --focus "("`},
		{"bad --skip regexp", func(t *testing.T) []string { return []string{"--skip", "[", none(t)} }, `bad --skip "["`},
		{"--auth-ttl of years", func(t *testing.T) []string { return []string{"--auth-ttl", "999999999", none(t)} }, "--auth-ttl: must be a whole number from 0 to 3600"},
		{"--auth-ttl that overflows", func(t *testing.T) []string { return []string{"--auth-ttl", "18446744074", none(t)} }, "--auth-ttl: must be"},
		{"--call-timeout 1ns", func(t *testing.T) []string { return []string{"--call-timeout", "1ns", none(t)} }, "--call-timeout: must be from 100ms"},
		{"--call-timeout negative", func(t *testing.T) []string { return []string{"--call-timeout", "-5s", none(t)} }, "--call-timeout: must be from 100ms"},
		{"--call-timeout 0", func(t *testing.T) []string { return []string{"--call-timeout", "0", none(t)} }, "--call-timeout: must be from 100ms"},
		{"--as-daemon bogus", func(t *testing.T) []string { return []string{"--as-daemon", "bogus", none(t)} }, "--as-daemon: must be one of sackd, slurmctld"},
		{"fuzz --call-timeout 1ns", func(t *testing.T) []string { return []string{"fuzz", "--call-timeout", "1ns", none(t)} }, "--call-timeout: must be"},
		// 9: munged
		{"--munged socket missing", func(t *testing.T) []string { return []string{"--munged", "/nonexistent.sock", munge(t)} }, "--munged /nonexistent.sock: no such socket"},
		{"--munged not a socket", func(t *testing.T) []string { return []string{"--munged", write(t, "sock", nil), munge(t)} }, "is not a socket but a regular file"},
		// 10: TMPDIR
		{"TMPDIR with a space", func(t *testing.T) []string {
			dir := filepath.Join(t.TempDir(), "sp ace")
			os.Mkdir(dir, 0o755)
			t.Setenv("TMPDIR", dir)
			return []string{none(t)}
		}, `its " " cannot be written in slurm.conf`},
		{"TMPDIR the workers cannot reach", func(t *testing.T) []string {
			if os.Geteuid() != 0 {
				t.Skip("workers run as another user only when plugincheck runs as root")
			}
			t.Setenv("TMPDIR", t.TempDir()) // 0700, root's
			return []string{none(t)}
		}, "the workers' user (uid 65534) cannot reach it"},
		// 11: slurm.conf values
		{"AuthInfo with a comment sign", func(t *testing.T) []string { return []string{"--auth-info", "a#b", none(t)} }, `slurm.conf cannot carry its "#"`},
		// 13: not regular files
		{"FIFO as the plugin", func(t *testing.T) []string { return []string{"inspect", fifo(t)} }, "is a FIFO or pipe, not a shared object"},
		{"/dev/zero as the plugin", func(t *testing.T) []string { return []string{"inspect", "/dev/zero"} }, "is a character device, not a shared object"},
		{"a pipe as the plugin", func(t *testing.T) []string {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close(); w.Close() })
			return []string{"inspect", "/dev/fd/" + strconv.Itoa(int(r.Fd()))}
		}, "is a FIFO or pipe"},
		{"FIFO as --config", func(t *testing.T) []string { return []string{"run", "--config", fifo(t), "x.so"} }, "--config " /* path */},
		{"/dev/zero as --config", func(t *testing.T) []string { return []string{"run", "--config", "/dev/zero", "x.so"} }, "is a character device, not a regular file"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			r := cli(t, row.args(t)...)
			if r.code != 2 {
				t.Errorf("exit status %d, want 2; stderr %q", r.code, r.stderr)
			}
			r.stderr = withoutProgress(r.stderr)
			oneLineError(t, r, row.want)
		})
	}
}

// TestAwkwardPathsRun: what used to fail for the wrong reason now works: a
// plugin in a directory with a space, ':' or '#' (PluginDir is written for
// a copy in the sandbox), and a plugin file of 2 GB, read without reading
// it all.
func TestAwkwardPathsRun(t *testing.T) {
	dir := realDir(t, "22.05")
	host := need(t, filepath.Join(dir, "libslurmfull.so"))
	for _, name := range []string{"sp ace", "co:lon", "ha#sh"} {
		t.Run(name, func(t *testing.T) {
			d := filepath.Join(t.TempDir(), name)
			os.Mkdir(d, 0o755)
			os.Chmod(filepath.Dir(d), 0o755)
			plugin := copyFile(t, filepath.Join(dir, "auth_none.so"), d)
			r := cli(t, "--slurm-lib", host, "--focus", "PLG-SYMBOLS", "--no-color", plugin)
			if r.code == 2 || strings.Contains(r.stderr, "rejected") {
				t.Errorf("exit %d: %s", r.code, r.stderr)
			}
		})
	}
	t.Run("2 GB file", func(t *testing.T) {
		big := copyFile(t, filepath.Join(dir, "auth_none.so"), t.TempDir())
		if err := os.Truncate(big, 2<<30); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "inspect", "--slurm-lib", host, big)
		cmd.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), `"auth/none"`) {
			t.Fatalf("inspect: %v\n%s", err, out)
		}
		if rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; rss > 200<<10 {
			t.Errorf("inspect of a 2 GB file used %d MB", rss>>10)
		}
	})
}

func fifo(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "p.so")
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// withoutProgress drops the progress lines of a run ("plugincheck: [3/45] …").
func withoutProgress(stderr string) string {
	var keep []string
	for _, l := range strings.SplitAfter(stderr, "\n") {
		if !strings.HasPrefix(l, "plugincheck: [") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "")
}

// TestStdoutLost: a report lost on standard output is exit 2 and one line.
func TestStdoutLost(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	cmd := exec.Command(os.Args[0], "list")
	cmd.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = full, &stderr
	cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != 2 || stderr.String() != "plugincheck: writing to standard output: write: no space left on device\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}
