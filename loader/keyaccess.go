package loader

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Key files a daemon reads. slurmctld and slurmd run as root (or as
// SlurmUser) and read keys only root may read (mode 0600, owner root);
// workers run as an unprivileged uid so that the identity clauses mean
// something. When plugincheck runs as root, workers keep one privilege of
// the daemon, reading any file: the ambient capability CAP_DAC_READ_SEARCH,
// raised by the kernel across the worker's setuid and exec (Go's
// SysProcAttr.AmbientCaps). It bypasses read and search permission checks
// only: the worker's uid, gid and every other privilege stay those of the
// unprivileged identity.

// capDACReadSearch is CAP_DAC_READ_SEARCH (linux/capability.h).
const capDACReadSearch = 2

// mayGrantKeyAccess reports whether this process can hand
// CAP_DAC_READ_SEARCH to a worker of another uid: it is root and holds the
// capability in its permitted and bounding sets.
func mayGrantKeyAccess() bool {
	if os.Geteuid() != 0 {
		return false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	has := func(field string) bool {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, field+":"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				return err == nil && mask&(1<<capDACReadSearch) != 0
			}
		}
		return false
	}
	return has("CapPrm") && has("CapBnd")
}

// KeyAccess reports whether workers read files as the daemon would (see
// above): true when they run as another uid with CAP_DAC_READ_SEARCH.
func (s *Sandbox) KeyAccess() bool { return s.keyAccess }

// CanRead reports whether a worker can read the file at path, and why
// not.
func (s *Sandbox) CanRead(path string) (bool, string) {
	st, err := os.Stat(path)
	if err != nil {
		return false, err.Error()
	}
	if s.keyAccess || s.UID == os.Geteuid() && s.readableByUs(path) {
		return true, ""
	}
	if s.UID != os.Geteuid() && s.reachable(path) {
		return true, ""
	}
	owner := "?"
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		owner = strconv.Itoa(int(sys.Uid))
	}
	return false, fmt.Sprintf("owner uid %s, mode %04o, and the worker runs as uid %d without CAP_DAC_READ_SEARCH",
		owner, st.Mode().Perm(), s.UID)
}

func (s *Sandbox) readableByUs(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	f.Close()
	return true
}
