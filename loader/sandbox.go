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

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader/internal/worker"
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
	// Daemon is the Slurm daemon workers pretend to be ("slurmctld", …);
	// empty for a client process.
	Daemon string
	// UID and GID for workers; nil means NobodyUID when root, else our own.
	UID, GID *int
	// CallTimeout bounds each plugin call (default DefaultCallTimeout).
	CallTimeout time.Duration
	// StartTimeout bounds loading host and plugin (default 30s).
	StartTimeout time.Duration
	// AddressSpace bounds a worker's virtual memory (default 8 GiB).
	AddressSpace uint64
	// Env are NAME=VALUE settings the plugin sees on top of the caller's
	// environment (see WorkerEnv).
	Env []string
	// WorkerBinary is the program workers run, taken as it is: a run's
	// spec processes take their parent's choice (Sandbox.WorkerBinary)
	// rather than check it again. Empty: the dedicated worker binary when
	// one built from this source is at hand, else this program.
	WorkerBinary string
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
	// workerBinary is the program workers run: this program or the
	// dedicated worker binary (workerBinary); worker is its reachable path.
	workerBinary, worker string
	loader               string // dynamic loader of a sysroot, "" for the machine's
	libraryPath          []string
	opts                 SandboxOptions
	confLines            []string // of the generated slurm.conf
	forget               func()   // the interrupt's removal of Dir
	// keyAccess: workers get CAP_DAC_READ_SEARCH (keyaccess.go).
	keyAccess bool
}

// DefaultCallTimeout bounds a plugin call when SandboxOptions give no
// bound: long enough for a munged under load, short enough that a hang is
// found within a run.
const DefaultCallTimeout = 10 * time.Second

// OpenSandbox opens the plugin at path (Open) and prepares a sandbox for
// its workers (NewSandbox).
func OpenSandbox(path string, opts Options, sandbox SandboxOptions) (*Sandbox, error) {
	t, err := Open(path, opts)
	if err != nil {
		return nil, err
	}
	return t.NewSandbox(sandbox)
}

// NewSandbox prepares the files workers of t need. Close removes them.
func (t *Target) NewSandbox(opts SandboxOptions) (*Sandbox, error) {
	if opts.CallTimeout == 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 30 * time.Second
	}
	if opts.AddressSpace == 0 {
		opts.AddressSpace = 8 << 30
	}
	uid, gid := workerIdentity()
	if opts.UID != nil {
		uid = *opts.UID
	}
	if opts.GID != nil {
		gid = *opts.GID
	}
	if err := checkTempDir(uid, gid); err != nil {
		return nil, err
	}
	dir, forget, err := cleanup.MkdirTemp("")
	if err != nil {
		return nil, err
	}
	s := &Sandbox{Target: t, Dir: dir, opts: opts, UID: uid, GID: gid, forget: forget}
	s.keyAccess = s.UID != os.Geteuid() && mayGrantKeyAccess()
	if err := s.stage(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// workerIdentity is the uid and gid workers run as by default: nobody
// when plugincheck runs as root, else plugincheck's own.
func workerIdentity() (uid, gid int) {
	if os.Geteuid() == 0 {
		return NobodyUID, WorkerGID
	}
	return os.Getuid(), os.Getgid()
}

// confUnsafe are the characters a path cannot carry in slurm.conf: a
// comment, a quote, an escape, a list separator (PluginDir is a colon
// list, AuthInfo a comma list) or white space.
const confUnsafe = "#\"\\:, \t\n\r"

// CheckTempDir checks, before anything is started, that the temporary
// directory can hold what the workers use: sandboxes, key files and
// munged's socket live there, so the workers' user must be able to reach
// it, and its path must go into slurm.conf as it is.
func CheckTempDir() error {
	uid, gid := workerIdentity()
	return checkTempDir(uid, gid)
}

func checkTempDir(uid, gid int) error {
	dir := os.TempDir()
	if i := strings.IndexAny(dir, confUnsafe); i >= 0 {
		return &InputError{Msg: fmt.Sprintf("TMPDIR %s: its %q cannot be written in slurm.conf (PluginDir, AuthInfo socket)", dir, dir[i:i+1]),
			Hint: "set TMPDIR to a path without white space, '#', ':', ',', quotes or backslashes"}
	}
	if uid == os.Geteuid() {
		return nil
	}
	if !reachableBy(dir, uid, gid) {
		return &InputError{Msg: fmt.Sprintf("TMPDIR %s: the workers' user (uid %d) cannot reach it", dir, uid),
			Hint: "workers run as nobody when plugincheck runs as root; make it searchable (chmod o+x) or set TMPDIR=/tmp"}
	}
	return nil
}

// Binary is this program, or the sandbox's copy of it when the workers'
// uid cannot reach the original: processes that start workers of their
// own (a run's spec processes) run it, and need no copy then. Workers run
// it too unless a dedicated worker binary fits (workerBinary).
func (s *Sandbox) Binary() string { return s.binary }

// WorkerBinary is the program workers run: this program, or the dedicated
// worker binary built from the same source.
func (s *Sandbox) WorkerBinary() string { return s.workerBinary }

// Close removes the sandbox directory.
func (s *Sandbox) Close() error {
	err := os.RemoveAll(s.Dir)
	if s.forget != nil {
		s.forget()
	}
	return err
}

func (s *Sandbox) stage() error {
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate own binary: %w", err)
	}
	t := s.Target
	if s.binary, err = s.reachBinary(exe); err != nil {
		return err
	}
	if s.workerBinary = s.opts.WorkerBinary; s.workerBinary == "" {
		if s.workerBinary, err = workerBinary(exe); err != nil {
			return err
		}
	}
	s.worker = s.binary
	if s.workerBinary != exe {
		if s.worker, err = s.reachBinary(s.workerBinary); err != nil {
			return err
		}
	}
	if s.hostLib, err = s.reach(t.Host.Lib.Path, "host"); err != nil {
		return err
	}
	if s.plugin, err = s.reach(t.Plugin.Path, "plugin"); err != nil {
		return err
	}
	// PluginDir is a colon list with no quoting Slurm reads the same way in
	// every release: a plugin whose directory has white space, ':' or '#'
	// is loaded from a copy in the sandbox, whose path has none.
	if s.opts.SlurmConf == "" && strings.ContainsAny(filepath.Dir(s.plugin), confUnsafe) {
		if s.plugin, err = copyInto(s.plugin, filepath.Join(s.Dir, "plugin")); err != nil {
			return err
		}
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
		v, err := confValue("AuthInfo", s.opts.AuthInfo)
		if err != nil {
			return err
		}
		lines = append(lines, "AuthInfo="+v)
	}
	lines = append(lines, s.opts.ExtraConf...)
	s.confLines = lines
	s.Conf = filepath.Join(s.Dir, "slurm.conf")
	return os.WriteFile(s.Conf, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// confValue is v as slurm.conf carries it: quoted when it holds white
// space, refused when it holds what no quoting protects in every release
// (a comment sign, a quote, a backslash, a line break).
func confValue(key, v string) (string, error) {
	if i := strings.IndexAny(v, "#\"\\\n\r"); i >= 0 {
		return "", &InputError{Msg: fmt.Sprintf("%s value %q: slurm.conf cannot carry its %q", key, v, v[i:i+1])}
	}
	if strings.ContainsAny(v, " \t") {
		return `"` + v + `"`, nil
	}
	return v, nil
}

// confName names the slurm.conf workers load in an error: the user's file,
// or the lines written for the run (the file itself is gone by the time
// the error is read).
func (s *Sandbox) confName() string {
	if s.opts.SlurmConf != "" {
		return "slurm.conf " + s.opts.SlurmConf
	}
	return "slurm.conf written for the run (" + strings.Join(s.confLines, "; ") + ")"
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

// reachBinary is reach for this program: a hard link in the sandbox when
// the workers' uid may run the file and only a directory on the way bars
// it (a test binary in Go's private build directory), which costs no copy
// of tens of megabytes per sandbox, and no window in which the copy is
// open for writing while another goroutine forks (exec would fail with
// ETXTBSY). A copy otherwise.
func (s *Sandbox) reachBinary(exe string) (string, error) {
	abs, err := filepath.Abs(exe)
	if err != nil || s.reachable(abs) {
		return abs, err
	}
	if st, err := os.Stat(abs); err == nil && st.Mode().Perm()&0o005 == 0o005 {
		dir := filepath.Join(s.Dir, "bin")
		link := filepath.Join(dir, filepath.Base(abs))
		if os.MkdirAll(dir, 0o755) == nil && os.Link(abs, link) == nil {
			return link, nil
		}
	}
	return copyInto(abs, filepath.Join(s.Dir, "bin"))
}

// reachable reports whether the worker's uid can traverse to and read path.
func (s *Sandbox) reachable(path string) bool {
	if s.UID == os.Geteuid() {
		return true
	}
	return reachableBy(path, s.UID, s.GID)
}

// reachableBy reports whether uid and gid can traverse to path and read it
// (search it, when it is a directory).
func reachableBy(path string, uid, gid int) bool {
	for p := path; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return false
		}
		need := os.FileMode(0o1) // search
		if p == path && !st.IsDir() {
			need = 0o4 // read
		}
		if !permits(st, need, uid, gid) {
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

// Daemons are the names SandboxOptions.Daemon accepts.
func Daemons() []string { return worker.DaemonNames() }
