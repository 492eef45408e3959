package loader

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NobodyUID and WorkerGID are the unprivileged identity workers take when
// plugincheck runs as root: uid 0 would let a zeroed struct pass for a
// verified root user, and a gid different from the uid catches a plugin that
// reports one for the other.
const (
	NobodyUID = 65534
	WorkerGID = 65533
)

// SandboxOptions configure the files and identity workers run with.
type SandboxOptions struct {
	// SlurmConf is the user's slurm.conf; empty means write a minimal one.
	SlurmConf string
	// AuthInfo is the AuthInfo line of the generated slurm.conf
	// ("socket=/path,ttl=2").
	AuthInfo string
	// ExtraConf lines are appended to the generated slurm.conf.
	ExtraConf []string
	// Env sets variables of the workers' environment ("NAME=value"), over
	// the SLURM_* variables they inherit.
	Env []string
	// Daemon is the Slurm daemon workers pretend to be ("slurmctld", …);
	// empty for a client process.
	Daemon string
	// UID and GID for workers; nil means NobodyUID when root, else our own.
	UID, GID *int
	// CallTimeout bounds each plugin call (default 10s).
	CallTimeout time.Duration
	// StartTimeout bounds loading host and plugin (default 30s).
	StartTimeout time.Duration
	// AddressSpace bounds a worker's virtual memory (default 8 GiB).
	AddressSpace uint64
}

// Sandbox holds what workers of one target share: a 0755 directory with the
// slurm.conf and, when workers run under another uid that cannot reach the
// originals, copies of the binary, host library, plugin and libraries.
type Sandbox struct {
	Target *Target
	Dir    string
	// Conf is the slurm.conf workers load.
	Conf     string
	UID, GID int

	binary, hostLib, plugin string
	loader                  string // dynamic loader of a sysroot, "" for the machine's
	libraryPath             []string
	opts                    SandboxOptions
	// keyAccess: workers get CAP_DAC_READ_SEARCH (keyaccess.go).
	keyAccess bool
}

// NewSandbox prepares the files workers of t need. Close removes them.
func (t *Target) NewSandbox(opts SandboxOptions) (*Sandbox, error) {
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 10 * time.Second
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.AddressSpace == 0 {
		opts.AddressSpace = 8 << 30
	}
	dir, err := os.MkdirTemp("", "plugincheck-")
	if err != nil {
		return nil, err
	}
	s := &Sandbox{Target: t, Dir: dir, opts: opts, UID: os.Getuid(), GID: os.Getgid()}
	if os.Geteuid() == 0 {
		s.UID, s.GID = NobodyUID, WorkerGID
	}
	if opts.UID != nil {
		s.UID = *opts.UID
	}
	if opts.GID != nil {
		s.GID = *opts.GID
	}
	s.keyAccess = s.UID != os.Geteuid() && mayGrantKeyAccess()
	if err := s.stage(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close removes the sandbox directory.
func (s *Sandbox) Close() error { return os.RemoveAll(s.Dir) }

func (s *Sandbox) stage() error {
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate own binary: %w", err)
	}
	t := s.Target
	if s.binary, err = s.reach(exe, "bin"); err != nil {
		return err
	}
	if s.hostLib, err = s.reach(t.Host.Lib.Path, "host"); err != nil {
		return err
	}
	if s.plugin, err = s.reach(t.Plugin.Path, "plugin"); err != nil {
		return err
	}
	// Libraries: keep reachable directories; copy the resolved DT_NEEDED
	// libraries out of the others.
	libDir := filepath.Join(s.Dir, "lib")
	copied := false
	for _, d := range t.Host.LibraryPath {
		if s.reachable(d) {
			s.libraryPath = append(s.libraryPath, d)
			continue
		}
		for _, path := range t.Linkage.Needed {
			if path != "" && filepath.Dir(path) == d {
				if _, err := copyInto(path, libDir); err != nil {
					return err
				}
				copied = true
			}
		}
	}
	if copied {
		s.libraryPath = append([]string{libDir}, s.libraryPath...)
	}
	if sr := t.Host.Sysroot; sr != nil {
		s.loader = sr.Loader
		if !s.reachable(sr.Loader) {
			// Copy the whole C library: the loader, libc, and what it pulls in.
			dst := filepath.Join(s.Dir, "sysroot")
			for _, d := range sr.LibDirs {
				if err := copyFiles(d, dst); err != nil {
					return err
				}
			}
			s.loader = filepath.Join(dst, filepath.Base(sr.Loader))
			s.libraryPath = append(s.libraryPath, dst)
		}
	}
	if s.Conf = s.opts.SlurmConf; s.Conf != "" {
		if s.Conf, err = s.reach(s.Conf, "etc"); err != nil {
			return err
		}
		return nil
	}
	return s.writeConf()
}

// writeConf writes the smallest slurm.conf the framework accepts
// (munge-and-loader.md §6.4), with SlurmUser and SlurmdUser set to the
// worker's uid so cred plugins accept what the worker itself signed. The
// uid is written as a number: every release accepts that, while a name
// depends on the sysroot C library's NSS setup (sid's could not resolve
// "nobody").
func (s *Sandbox) writeConf() error {
	lines := []string{
		"ClusterName=plugincheck",
		"SlurmctldHost=localhost",
		"PluginDir=" + filepath.Dir(s.plugin),
		"SlurmUser=" + strconv.Itoa(s.UID),
		"SlurmdUser=" + strconv.Itoa(s.UID),
	}
	if s.opts.AuthInfo != "" {
		lines = append(lines, "AuthInfo="+s.opts.AuthInfo)
	}
	lines = append(lines, s.opts.ExtraConf...)
	s.Conf = filepath.Join(s.Dir, "slurm.conf")
	return os.WriteFile(s.Conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// reach returns path itself when the worker uid can read it, else a copy in
// the sandbox.
func (s *Sandbox) reach(path, sub string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if s.reachable(abs) {
		return abs, nil
	}
	return copyInto(abs, filepath.Join(s.Dir, sub))
}

// reachable reports whether the worker's uid can traverse to and read path.
func (s *Sandbox) reachable(path string) bool {
	if s.UID == os.Geteuid() {
		return true
	}
	for p := path; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return false
		}
		need := os.FileMode(0o1) // search
		if p == path && !st.IsDir() {
			need = 0o4 // read
		}
		if !permits(st, need, s.UID, s.GID) {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

func permits(st os.FileInfo, bit os.FileMode, uid, gid int) bool {
	mode := st.Mode().Perm()
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case ok && int(sys.Uid) == uid:
		return mode&(bit<<6) != 0
	case ok && int(sys.Gid) == gid:
		return mode&(bit<<3) != 0
	default:
		return mode&bit != 0
	}
}

func copyInto(src, dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	dst := filepath.Join(dir, filepath.Base(src))
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm()|0o444)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// copyFiles copies the regular files (and symlinks, resolved) directly in
// src into dst.
func copyFiles(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		path := filepath.Join(src, e.Name())
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		if _, err := copyInto(path, dst); err != nil {
			return err
		}
	}
	return nil
}
