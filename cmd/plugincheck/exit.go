package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
)

// interruptGrace is how long an interrupted command has to stop its
// workers, write what it has and return before the process exits anyway.
const interruptGrace = 20 * time.Second

// cliMain is main past the worker check, and the one way every command
// ends: signals caught, stale temporary directories of dead runs swept,
// whatever is still registered undone, standard output checked.
func cliMain(args []string) int {
	cleanup.Handle(interruptGrace)
	cleanup.Sweep(os.TempDir())
	out := &checkedWriter{w: os.Stdout}
	code := run(args, out, os.Stderr)
	cleanup.Run()
	if err := out.Err(); err != nil && code < 128 {
		fmt.Fprintln(os.Stderr, "plugincheck: writing to standard output: "+pathless(err))
		code = 2
	}
	return code
}

// interrupted turns a command's end after a signal into one line and the
// signal's exit status: the command's own error is then mostly a
// consequence (a worker killed), so it is shown only when it is the
// command's report of the interrupt.
func interrupted(err error, stderr io.Writer) (int, bool) {
	sig, _ := cleanup.Interrupted()
	if sig == 0 {
		return 0, false
	}
	msg := "interrupted by " + cleanup.Name(sig)
	var exit *exitStatus
	if errors.As(err, &exit) && exit.code == cleanup.ExitCode(sig) {
		msg = exit.Error()
	}
	fmt.Fprintln(stderr, "plugincheck: "+oneLine(errors.New(msg)))
	return cleanup.ExitCode(sig), true
}

// checkedWriter remembers the first write error.
type checkedWriter struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *checkedWriter) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// checkOutput makes sure a file the command ends by writing can be
// written, before the work that fills it: its directory exists and the
// file can be created, or opened for writing. A file it creates to find
// out is removed again.
func checkOutput(flagName, path string) error {
	if path == "" {
		return nil
	}
	bad := func(err error) error {
		return &usageError{fmt.Sprintf("--%s %s: cannot be written: %s", flagName, path, pathless(err))}
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return &usageError{fmt.Sprintf("--%s %s is a directory, not a file", flagName, path)}
	case err == nil:
		// O_NONBLOCK: a FIFO nobody reads is an error, not a hang.
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return bad(err)
		}
		return f.Close()
	case errors.Is(err, os.ErrNotExist):
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return bad(err)
		}
		f.Close()
		return os.Remove(path)
	}
	return bad(err)
}

// pathless is err without the path a *PathError repeats.
func pathless(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// checkDir makes sure a directory the command writes findings into exists
// (it is made when missing) and takes a new file.
func checkDir(flagName, dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return &usageError{fmt.Sprintf("--%s %s: %s", flagName, dir, pathless(err))}
	}
	f, err := os.CreateTemp(dir, ".plugincheck-check-*")
	if err != nil {
		return &usageError{fmt.Sprintf("--%s %s: cannot be written: %s", flagName, dir, pathless(err))}
	}
	f.Close()
	return os.Remove(f.Name())
}
