// Package munged runs a private MUNGE daemon with a fresh key in a temporary
// directory, for tests and for `plugincheck --munged auto`. It never touches
// the machine's own munged, key or socket.
package munged

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/internal/fileinfo"
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
	stop    sync.Once
	forget  func()
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
	dir, forget, err := cleanup.MkdirTemp("munged")
	if err != nil {
		return nil, err
	}
	defer forget() // from here on, Stop's own registration removes dir
	// munged insists on a socket directory every client may search.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
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
	d.forget = cleanup.Add(func() { d.Stop() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		// Ready when the socket accepts a connection, not when it appears.
		if st, err := os.Stat(d.Socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			if c, err := net.DialTimeout("unix", d.Socket, time.Second); err == nil {
				c.Close()
				return d, nil
			}
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
	var err error
	d.stop.Do(func() {
		if d.cmd.Process != nil {
			syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		}
		<-d.done
		err = os.RemoveAll(d.Dir)
		if d.forget != nil {
			d.forget()
		}
	})
	return err
}

// Probe checks that socket is the socket of a running munged: a Unix socket
// that accepts a connection. A missing file, another kind of file or a
// socket nobody listens on is an error that says which.
func Probe(socket string) error {
	st, err := os.Stat(socket)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New("no such socket")
	case err != nil:
		return err
	case st.Mode()&os.ModeSocket == 0:
		return fmt.Errorf("is not a socket but %s", fileinfo.Kind(st.Mode()))
	}
	c, err := net.DialTimeout("unix", socket, 2*time.Second)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err
		}
		return fmt.Errorf("no munged answers: %w", err)
	}
	return c.Close()
}
