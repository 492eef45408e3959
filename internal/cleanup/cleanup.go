// Package cleanup is the one way a plugincheck process ends when it is
// interrupted: everything that outlives a function call (workers, munged,
// child processes, temporary directories and keys) registers how to undo
// it, and a signal (INT, TERM, HUP, QUIT) runs those undos at once, then
// lets the command finish its report and exit with 128+signal.
//
// Without Handle (tests, a plugin author's `go test`) the registry only
// records and forgets: nothing catches signals.
package cleanup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	mu     sync.Mutex
	nextID int
	undos  = map[int]func(){}

	sig      syscall.Signal // 0 until interrupted
	sigAt    time.Time
	ctx, end = context.WithCancelCause(context.Background())
)

// Signals are the signals Handle catches.
var Signals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Add registers undo to run if the process is interrupted. The returned
// function forgets it: the normal path calls it once it has undone the
// thing itself. After an interrupt Add runs undo at once.
func Add(undo func()) (forget func()) {
	mu.Lock()
	if sig != 0 {
		mu.Unlock()
		undo()
		return func() {}
	}
	id := nextID
	nextID++
	undos[id] = undo
	mu.Unlock()
	return func() {
		mu.Lock()
		delete(undos, id)
		mu.Unlock()
	}
}

// Run runs every registered undo, newest first, and forgets them.
func Run() {
	mu.Lock()
	ids := make([]int, 0, len(undos))
	for id := range undos {
		ids = append(ids, id)
	}
	fns := make([]func(), 0, len(ids))
	sort.Sort(sort.Reverse(sort.IntSlice(ids)))
	for _, id := range ids {
		fns = append(fns, undos[id])
		delete(undos, id)
	}
	mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// ErrInterrupted is what work refused after an interrupt returns.
var ErrInterrupted = errors.New("interrupted")

// Interrupted returns the signal that interrupted the process (0 when
// none) and when it came.
func Interrupted() (syscall.Signal, time.Time) {
	mu.Lock()
	defer mu.Unlock()
	return sig, sigAt
}

// Context is cancelled when the process is interrupted.
func Context() context.Context { return ctx }

// Check returns an error wrapping ErrInterrupted after an interrupt.
func Check() error {
	if s, _ := Interrupted(); s != 0 {
		return fmt.Errorf("%w by %s", ErrInterrupted, Name(s))
	}
	return nil
}

// Sleep waits d or until an interrupt; it reports whether d elapsed.
func Sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// PassOn passes the interrupt on to a child process that handles it
// itself (SIGTERM when there was none): the child stops what it started
// and exits. One still there after grace is killed with its process
// group, which it leads.
func PassOn(pid int, grace time.Duration) {
	s, _ := Interrupted()
	if s == 0 {
		s = syscall.SIGTERM
	}
	syscall.Kill(pid, s)
	time.AfterFunc(grace, func() { syscall.Kill(-pid, syscall.SIGKILL) })
}

// ExitCode is the shell's status for a process ended by s: 128+s.
func ExitCode(s syscall.Signal) int { return 128 + int(s) }

// Name is the signal's conventional name ("SIGINT").
func Name(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return "signal " + strconv.Itoa(int(s))
}

// interrupt records s as the interrupt (the first one wins), cancels
// Context and runs the undos. It reports whether s was the first.
func interrupt(s syscall.Signal) bool {
	mu.Lock()
	first := sig == 0
	if first {
		sig, sigAt = s, time.Now()
	}
	mu.Unlock()
	if first {
		end(fmt.Errorf("%w by %s", ErrInterrupted, Name(s)))
	}
	Run()
	return first
}

var handleOnce sync.Once

// Handle catches Signals for the rest of the process's life. The first
// one runs every undo at once and leaves the program grace to finish its
// report and return through Exit; a second one, or grace running out,
// runs the undos again and exits with 128+signal straight away.
func Handle(grace time.Duration) {
	handleOnce.Do(func() {
		c := make(chan os.Signal, 4)
		signal.Notify(c, Signals...)
		go func() {
			for s := range c {
				ss := s.(syscall.Signal)
				if interrupt(ss) {
					go func() {
						time.Sleep(grace)
						first, _ := Interrupted()
						Run()
						fmt.Fprintf(os.Stderr, "plugincheck: interrupted by %s; stopped after %v without a report\n", Name(first), grace)
						os.Exit(ExitCode(first))
					}()
					continue
				}
				first, _ := Interrupted()
				fmt.Fprintf(os.Stderr, "plugincheck: interrupted by %s again; stopped at once\n", Name(first))
				os.Exit(ExitCode(first))
			}
		}()
	})
}

// TempPrefix starts the name of every temporary directory plugincheck
// makes: "plugincheck-" then, for Sweep, the owner's PID.
const TempPrefix = "plugincheck-"

// MkdirTemp makes a temporary directory named for kind and this process
// ("plugincheck-munged-1234-…"), removed on an interrupt until forget is
// called.
func MkdirTemp(kind string) (dir string, forget func(), err error) {
	if err := Check(); err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp("", TempPattern(kind))
	if err != nil {
		return "", nil, err
	}
	return dir, Add(func() { os.RemoveAll(dir) }), nil
}

// TempPattern is the os.MkdirTemp pattern of a temporary directory of kind
// owned by this process, for one that must be made even after an
// interrupt (Sweep removes it if the process dies first).
func TempPattern(kind string) string {
	prefix := TempPrefix
	if kind != "" {
		prefix += kind + "-"
	}
	return prefix + strconv.Itoa(os.Getpid()) + "-"
}

// Sweep removes the temporary directories in dir that plugincheck
// processes which no longer run left behind (killed with SIGKILL, or by a
// crash): only directories owned by this user whose name carries a PID that
// no process has. It returns what it removed.
func Sweep(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		pid, ok := ownerPID(e.Name())
		if !ok || !e.IsDir() || pid == os.Getpid() || alive(pid) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		st, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Geteuid() {
			continue
		}
		if os.RemoveAll(path) == nil {
			removed = append(removed, path)
		}
	}
	return removed
}

// ownerPID reads the PID in "plugincheck-[kind-]PID-random".
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, TempPrefix)
	if !ok {
		return 0, false
	}
	parts := strings.Split(rest, "-")
	if len(parts) == 3 && !isDigits(parts[0]) {
		parts = parts[1:] // the kind
	}
	if len(parts) != 2 || !isDigits(parts[0]) || !isDigits(parts[1]) {
		return 0, false
	}
	pid, err := strconv.Atoi(parts[0])
	return pid, err == nil && pid > 0
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// alive reports whether a process pid exists (a zombie counts as gone).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z' && stat[i+2] != 'X'
	}
	return true
}
