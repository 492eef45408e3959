package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/suite"
)

// TestInterrupts stops run, certify and fuzz on auth/munge mid-run with
// SIGINT, SIGTERM and SIGHUP, and checks what the issue asked: exit status
// 128+signal, no process of the run left (by process group and by parent:
// the test is a child subreaper, so an orphan would become its child), the
// run's TMPDIR empty, and no clause FAILED because of the interrupt.
func TestInterrupts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nine runs of auth/munge")
	}
	plugin := need(t, filepath.Join(realDir(t, "22.05"), "auth_munge.so"))
	if _, err := os.Stat("/usr/sbin/munged"); err != nil {
		testenv.Need(t, "munged", "/usr/sbin/munged")
	}
	// Clauses auth/munge 22.05 really fails (suite/testdata/real-plugins.txt):
	// any other FAILED clause would be the interrupt's.
	realFailures := map[string]bool{"ERR-RETURN": true, "ERR-SET": true}
	if err := setSubreaper(true); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer setSubreaper(false)

	type command struct {
		name string
		args func(out string) []string
		// midRun reports that the command is well into its work.
		midRun func(out string, stderr []byte) bool
		check  func(t *testing.T, out string, stdout []byte)
	}
	commands := []command{
		{"run", func(out string) []string {
			return []string{"run", "--auth-ttl", "30", "--summary-json", filepath.Join(out, "summary.json"),
				"--junit-report", filepath.Join(out, "junit.xml"), "--no-color", plugin}
		}, func(_ string, stderr []byte) bool { return bytes.Contains(stderr, specsBegun) },
			func(t *testing.T, out string, stdout []byte) {
				var sum suite.Summary
				data, err := os.ReadFile(filepath.Join(out, "summary.json"))
				if err != nil || json.Unmarshal(data, &sum) != nil {
					t.Fatalf("no summary JSON after the interrupt: %v", err)
				}
				if !sum.Interrupted || sum.Conformant || sum.Signal == "" || !strings.Contains(sum.Verdict, "no verdict") {
					t.Errorf("summary: interrupted %v, signal %q, conformant %v, verdict %q", sum.Interrupted, sum.Signal, sum.Conformant, sum.Verdict)
				}
				notRun := 0
				for _, c := range sum.Clauses {
					if c.Result == suite.Failed && !realFailures[c.ID] {
						t.Errorf("clause %s FAILED: %s", c.ID, c.Reason)
					}
					for _, s := range c.Specs {
						if s.Reason == "not run (interrupted)" {
							notRun++
						}
					}
				}
				if notRun == 0 {
					t.Error("no spec says \"not run (interrupted)\"")
				}
				checkTable(t, stdout, realFailures)
				if st, err := os.Stat(filepath.Join(out, "junit.xml")); err != nil || st.Size() == 0 {
					t.Errorf("no JUnit report of the interrupted run: %v", err)
				}
			}},
		{"certify", func(out string) []string {
			product := filepath.Join(out, "product.yaml")
			os.WriteFile(product, []byte("vendor: Example Org\nproduct: Example Auth\nversion: 1.0\ncontact: auth@example.org\nplugin: auth_munge.so\n"), 0o644)
			return []string{"certify", "--auth-ttl", "30", "--product", product, "--out", filepath.Join(out, "bundle"), plugin}
		}, func(out string, _ []byte) bool {
			log, _ := os.ReadFile(filepath.Join(out, "bundle", "console.log"))
			return bytes.Contains(log, specsBegun)
		}, func(t *testing.T, out string, stdout []byte) {
			if _, err := os.Stat(filepath.Join(out, "bundle")); !os.IsNotExist(err) {
				t.Errorf("the unfinished bundle is still there (%v)", err)
			}
			checkTable(t, stdout, realFailures)
		}},
		{"fuzz", func(out string) []string {
			return []string{"fuzz", "--duration", "2m", "--jobs", "1", "--status-every", "300ms", "--crashers", filepath.Join(out, "crashers"), plugin}
		}, func(_ string, stderr []byte) bool { return bytes.Contains(stderr, []byte("execs")) },
			func(t *testing.T, out string, stdout []byte) {
				if entries, _ := os.ReadDir(filepath.Join(out, "crashers")); len(entries) > 0 {
					t.Errorf("the interrupt left findings in --crashers: %v", entries)
				}
				if !bytes.Contains(stdout, []byte("interrupted before the campaign's duration")) || !bytes.Contains(stdout, []byte(" 0 failure(s)")) {
					t.Errorf("report: %s", stdout)
				}
			}},
	}
	for _, c := range commands {
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			t.Run(c.name+"/"+sig.String(), func(t *testing.T) {
				// The run's TMPDIR: searchable by the workers' user.
				tmp, err := os.MkdirTemp("", "interrupt-tmpdir-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(tmp)
				os.Chmod(tmp, 0o755)
				out := t.TempDir()
				var stdout, stderr lockedBuffer
				cmd := exec.Command(os.Args[0], c.args(out)...)
				cmd.Env = append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1", "TMPDIR="+tmp)
				cmd.Stdout, cmd.Stderr = &stdout, &stderr
				cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pid := cmd.Process.Pid
				done := make(chan error, 1)
				go func() { done <- cmd.Wait() }()
				deadline := time.Now().Add(90 * time.Second)
				for !c.midRun(out, stderr.Bytes()) {
					select {
					case err := <-done:
						t.Fatalf("ended before the interrupt (%v): %s", err, stderr.Bytes())
					case <-time.After(100 * time.Millisecond):
					}
					if time.Now().After(deadline) {
						syscall.Kill(-pid, syscall.SIGKILL)
						t.Fatalf("not mid-run after 90s: %s", stderr.Bytes())
					}
				}
				seen := descendants(pid)
				if len(seen) == 0 {
					t.Fatal("no process of the run found mid-run")
				}
				syscall.Kill(pid, sig)
				select {
				case <-done:
				case <-time.After(40 * time.Second):
					syscall.Kill(-pid, syscall.SIGKILL)
					t.Fatalf("still running 40s after %v", sig)
				}
				if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
					t.Errorf("exit status %d (%v), want %d", code, cmd.ProcessState, 128+int(sig))
				}
				last := lastLine(string(stderr.Bytes()))
				if !strings.HasPrefix(last, "plugincheck: ") || !strings.Contains(last, "interrupted by "+signalName(sig)) {
					t.Errorf("last line of stderr %q does not say the interrupt", last)
				}
				if bytes.Contains(stderr.Bytes(), []byte("goroutine ")) {
					t.Errorf("stack trace on stderr")
				}
				time.Sleep(300 * time.Millisecond) // let the kernel deliver Pdeathsig
				for _, p := range seen {
					if alive(p) {
						t.Errorf("process %d (%s) of the run still runs", p, comm(p))
					}
				}
				for _, p := range processes() {
					if p.pgid == pid && p.state != 'Z' {
						t.Errorf("process %d (%s) still in the run's process group", p.pid, p.comm)
					}
					if p.ppid == os.Getpid() && p.state != 'Z' {
						t.Errorf("orphan %d (%s) of the run reparented to the test", p.pid, p.comm)
					}
					if p.ppid == os.Getpid() && p.state == 'Z' {
						var ws syscall.WaitStatus
						syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
					}
				}
				if left, _ := os.ReadDir(tmp); len(left) > 0 {
					var names []string
					for _, e := range left {
						names = append(names, e.Name())
					}
					t.Errorf("TMPDIR holds %v after the run", names)
				}
				c.check(t, out, stdout.Bytes())
			})
		}
	}
}

// specsBegun in a run's progress says it is well into its work: the second
// spec has begun. The specs that begin first are the long ones (waits of
// the 30 s lifetime, leak windows), so with the default --procs two spec
// processes then have workers and a credential lifetime under way, and
// most specs have not run.
var specsBegun = []byte("[2/")

// checkTable checks the summary table of an interrupted run: FAILED only
// where the plugin really fails, and the verdict says no verdict.
func checkTable(t *testing.T, stdout []byte, real map[string]bool) {
	t.Helper()
	row := regexp.MustCompile(`^([A-Z0-9-]+)\s+(MUST|SHOULD|MAY)\s+FAILED\s+(.*)$`)
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	verdict := false
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil && !real[m[1]] {
			t.Errorf("table: %s FAILED: %s", m[1], m[3])
		}
		if strings.Contains(sc.Text(), "interrupted by SIG") && strings.Contains(sc.Text(), "no verdict") {
			verdict = true
		}
	}
	if !verdict {
		t.Error("no 'interrupted …, no verdict' line in the table")
	}
}

func signalName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP"}[s]
}

// lockedBuffer is a bytes.Buffer the child's output goroutine and the
// test read at once.
type lockedBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (l *lockedBuffer) lock() {
	if l.mu == nil {
		l.mu = make(chan struct{}, 1)
	}
	l.mu <- struct{}{}
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.lock()
	defer func() { <-l.mu }()
	return l.buf.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.lock()
	defer func() { <-l.mu }()
	return append([]byte(nil), l.buf.Bytes()...)
}

// proc is a line of /proc/PID/stat.
type proc struct {
	pid, ppid, pgid int
	state           byte
	comm            string
}

func processes() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			out = append(out, p)
		}
	}
	return out
}

func readProc(pid int) (proc, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return proc{}, false
	}
	s := string(data)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < 0 || end+2 >= len(s) {
		return proc{}, false
	}
	f := strings.Fields(s[end+2:])
	if len(f) < 3 {
		return proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return proc{pid: pid, ppid: ppid, pgid: pgid, state: f[0][0], comm: s[open+1 : end]}, true
}

// descendants lists root and every process below it.
func descendants(root int) []int {
	children := map[int][]int{}
	for _, p := range processes() {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

func alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

func comm(pid int) string {
	p, _ := readProc(pid)
	return p.comm
}

// setSubreaper makes this process the one orphans of its descendants are
// reparented to (PR_SET_CHILD_SUBREAPER).
func setSubreaper(on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, 36, v, 0); errno != 0 {
		return errno
	}
	return nil
}

// TestKilledRunSwept: SIGKILL cannot be caught; the workers and munged die
// with the run (Pdeathsig), and the next plugincheck to start removes the
// directories it left, munge.key included.
func TestKilledRunSwept(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a run of auth/munge")
	}
	plugin := need(t, filepath.Join(realDir(t, "22.05"), "auth_munge.so"))
	testenv.Need(t, "munged", "/usr/sbin/munged")
	tmp, err := os.MkdirTemp("", "killed-tmpdir-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	os.Chmod(tmp, 0o755)
	env := append(os.Environ(), "PLUGINCHECK_TEST_AS_CLI=1", "TMPDIR="+tmp)
	var stderr lockedBuffer
	cmd := exec.Command(os.Args[0], "run", "--auth-ttl", "30", plugin)
	cmd.Env, cmd.Stderr = env, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for !bytes.Contains(stderr.Bytes(), specsBegun) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	seen := descendants(cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(300 * time.Millisecond)
	for _, p := range seen {
		if alive(p) {
			t.Errorf("process %d (%s) outlived the killed run", p, comm(p))
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) == 0 {
		t.Fatal("the killed run left nothing to sweep: the test proves nothing")
	}
	next := exec.Command(os.Args[0], "version")
	next.Env = env
	if out, err := next.CombinedOutput(); err != nil {
		t.Fatalf("version: %v %s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the next plugincheck did not sweep %v", left)
	}
}
