package suite

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
)

// keyFiles are the key files cred specs pass to read_private_key and
// read_public_key: the good pair, and one file for each way a key can be
// bad.
type keyFiles struct {
	dir                 string
	private, public     string
	missing, unreadable string
	empty, corrupt      string
	generated           bool
	forget              func() // the interrupt's removal of dir
}

// makeKeyFiles writes a 32-byte shared key (used as both the private and
// the public key) unless the user gave key files, and the bad variants.
// Files the worker must read belong to its uid, mode 0600, as key files
// should.
func makeKeyFiles(cfg *Config, rs *runState) (_ *keyFiles, err error) {
	dir, forget, err := cleanup.MkdirTemp("keys")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
			forget()
		}
	}()
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	k := &keyFiles{dir: dir, forget: forget, private: cfg.PrivateKey, public: cfg.PublicKey}
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = loader.NobodyUID, loader.WorkerGID
	}
	write := func(name string, data []byte, mode os.FileMode, owner bool) (string, error) {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, mode); err != nil {
			return "", err
		}
		if owner && os.Geteuid() == 0 {
			return path, os.Chown(path, uid, gid)
		}
		return path, nil
	}
	if k.private == "" || k.public == "" {
		key := make([]byte, 32)
		rand.Read(key)
		if k.private, err = write("private.key", key, 0o600, true); err != nil {
			return nil, err
		}
		if k.public, err = write("public.key", key, 0o600, true); err != nil {
			return nil, err
		}
		k.generated = true
	}
	k.missing = filepath.Join(dir, "missing.key")
	// Unreadable: owned by someone else (root) when the worker is another
	// uid, or mode 0 when it is us.
	mode := os.FileMode(0o600)
	if os.Geteuid() != 0 {
		mode = 0
	}
	if k.unreadable, err = write("unreadable.key", []byte("0123456789abcdef0123456789abcdef"), mode, false); err != nil {
		return nil, err
	}
	if k.empty, err = write("empty.key", nil, 0o600, true); err != nil {
		return nil, err
	}
	if k.corrupt, err = write("corrupt.key", []byte("xyz"), 0o600, true); err != nil {
		return nil, err
	}
	return k, nil
}

// keyPaths are the files the run configures the plugin with, where a
// daemon would read them: --private-key and --public-key, absolute paths
// in AuthInfo (key=/etc/slurm/x.key), and SLURM_* variables of the
// workers' environment that name files. name says where each came from.
func (rs *runState) keyPaths() (paths []string, name map[string]string) {
	name = map[string]string{}
	add := func(path, from string) {
		if st, err := os.Stat(path); path == "" || err == nil && !st.Mode().IsRegular() {
			return
		}
		if _, seen := name[path]; !seen {
			paths = append(paths, path)
			name[path] = from
		}
	}
	add(rs.cfg.PrivateKey, "--private-key")
	add(rs.cfg.PublicKey, "--public-key")
	for _, kv := range strings.Split(rs.authInfo, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(v, "/") && k != "socket" {
			add(v, "AuthInfo "+k+"=")
		}
	}
	for _, v := range fileVariables(rs.cfg.Env) {
		add(v[1], "$"+v[0])
	}
	return paths, name
}

// fileVariables are the SLURM_* variables workers get whose value is the
// path of a regular file, sorted by name: the caller's environment with
// the run's --env settings over it (extra), as WorkerEnv gives it.
func fileVariables(extra []string) [][2]string {
	env := map[string]string{}
	for _, kv := range append(os.Environ(), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	var out [][2]string
	for k, v := range env {
		if !strings.HasPrefix(k, "SLURM_") || k == "SLURM_CONF" || !strings.HasPrefix(v, "/") {
			continue
		}
		if st, err := os.Stat(v); err == nil && st.Mode().IsRegular() {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

// unreadableKeys says, one line each, which configured key files the
// workers cannot read (a daemon running as root would).
func (rs *runState) unreadableKeys() []string {
	paths, name := rs.keyPaths()
	var out []string
	for _, p := range paths {
		if ok, why := rs.sandbox.CanRead(p); !ok {
			out = append(out, fmt.Sprintf("the worker cannot read the key file %s (%s): %s; specs that need it will fail", p, name[p], why))
		}
	}
	return out
}
