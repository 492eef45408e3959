package suite

import (
	"crypto/rand"
	"os"
	"path/filepath"

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
