// Package munged runs a private MUNGE daemon with a fresh key in a temporary
// directory, for tests and for `plugincheck --munged auto`. It never touches
// the machine's own munged, key or socket.
package munged

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Daemon is a running munged.
type Daemon struct {
	Dir     string // 0755 directory holding socket, key, pid and seed files
	Socket  string
	KeyFile string
	Key     []byte
	cmd     *exec.Cmd
	stderr  strings.Builder
	done    chan struct{}
}

// Binary is where Debian's munge package installs the daemon.
var Binary = "/usr/sbin/munged"

// ErrNotInstalled reports that munged is not on this machine.
var ErrNotInstalled = errors.New("munged is not installed (Debian package: munge)")

// Start runs munged in the foreground of a child process with a new
// 1024-byte key, and returns once its socket accepts connections.
func Start(ctx context.Context) (*Daemon, error) {
	if _, err := os.Stat(Binary); err != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "plugincheck-munged-")
	if err != nil {
		return nil, err
	}
	// munged insists on a socket directory every client may search.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	d := &Daemon{Dir: dir, Socket: filepath.Join(dir, "munge.sock"), KeyFile: filepath.Join(dir, "munge.key"), done: make(chan struct{})}
	d.Key = make([]byte, 1024)
	rand.Read(d.Key)
	if err := os.WriteFile(d.KeyFile, d.Key, 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.cmd = exec.Command(Binary, "--foreground",
		"--socket="+d.Socket, "--key-file="+d.KeyFile,
		"--pid-file="+filepath.Join(dir, "munged.pid"), "--seed-file="+filepath.Join(dir, "munged.seed"),
		"--group-update-time=-1", "--num-threads=2")
	d.cmd.Stderr = &d.stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start munged: %w", err)
	}
	go func() { d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(d.Socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			return d, nil
		}
		select {
		case <-d.done:
			os.RemoveAll(dir)
			return nil, fmt.Errorf("munged exited at start: %s", strings.TrimSpace(d.stderr.String()))
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, errors.New("munged socket did not appear within 10s")
		}
	}
}

// AuthInfo is the slurm.conf AuthInfo value that points Slurm at this
// daemon, with a credential TTL when ttl > 0.
func (d *Daemon) AuthInfo(ttl int) string {
	if ttl > 0 {
		return fmt.Sprintf("socket=%s,ttl=%d", d.Socket, ttl)
	}
	return "socket=" + d.Socket
}

// Stop kills the daemon and removes its directory. SIGTERM makes munged
// linger about two seconds; its state is throwaway, so it gets SIGKILL.
func (d *Daemon) Stop() error {
	if d.cmd.Process != nil {
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	}
	<-d.done
	return os.RemoveAll(d.Dir)
}
