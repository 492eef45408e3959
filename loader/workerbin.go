package loader

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/worker"
)

// Workers run in a binary of their own when one built from the same
// source is at hand: cmd/plugincheck-worker links the loader's worker and
// nothing else, so it starts in about a third of the CPU time of the whole
// program, whose package initialisation (Ginkgo, Gomega and the rest) every
// worker otherwise pays. A run starts a worker per spec and more, so this
// is a quarter of a run's CPU time. Otherwise workers are this program
// re-executed, as before.

// WorkerBinaryEnv names an environment variable that gives the dedicated
// worker binary's path: for a test binary that runs the suite (make test
// sets it), or a plugincheck installed apart from its worker. It must have
// been built from the same source as the program that uses it.
const WorkerBinaryEnv = "PLUGINCHECK_WORKER_BINARY"

// WorkerBinaryName is the dedicated worker's file name; plugincheck uses
// the one beside its own binary when it was built from the same source.
const WorkerBinaryName = "plugincheck-worker"

// WorkerMain is the whole main of the dedicated worker binary: it serves
// as a worker when a parent started it as one, prints its fingerprint
// (worker.Fingerprint) when asked with --fingerprint, and refuses
// anything else.
func WorkerMain() {
	ServeWorkerIfRequested()
	if len(os.Args) == 2 && os.Args[1] == "--fingerprint" {
		fmt.Println(worker.Fingerprint())
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "%s: plugincheck starts this program to run a plugin in; it is not run by hand\n", WorkerBinaryName)
	os.Exit(2)
}

// errOtherSource: a worker binary built from other source.
var errOtherSource = errors.New("built from other source than this program")

// workerBinary is the program workers run: the one WorkerBinaryEnv names
// (an error if it does not fit), else WorkerBinaryName beside self when it
// fits, else self.
func workerBinary(self string) (string, error) {
	if path := os.Getenv(WorkerBinaryEnv); path != "" {
		if err := checkWorkerBinary(path); err != nil {
			return "", &InputError{Msg: fmt.Sprintf("%s=%s: %v", WorkerBinaryEnv, path, err), Err: err,
				Hint: "build it from this source (make build), or unset " + WorkerBinaryEnv}
		}
		return path, nil
	}
	beside := filepath.Join(filepath.Dir(self), WorkerBinaryName)
	if _, err := os.Stat(beside); err == nil && checkWorkerBinary(beside) == nil {
		return beside, nil
	}
	return self, nil
}

// checked caches checkWorkerBinary per file: path, size and time of the
// last change.
var checked sync.Map

// checkWorkerBinary runs path --fingerprint and compares what it prints
// with this program's fingerprint.
func checkWorkerBinary(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	key := fmt.Sprint(path, st.Size(), st.ModTime().UnixNano())
	if r, ok := checked.Load(key); ok {
		return r.(checkResult).err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--fingerprint").Output()
	switch {
	case err != nil:
		err = fmt.Errorf("%s --fingerprint: %w", path, err)
	case string(bytes.TrimSpace(out)) != worker.Fingerprint():
		err = errOtherSource
	}
	checked.Store(key, checkResult{err})
	return err
}

type checkResult struct{ err error }
