package suite_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// workerIdentity is who workers run as (see loader.NewSandbox).
func workerIdentity() (uid, gid int) {
	if os.Geteuid() == 0 {
		return loader.NobodyUID, loader.WorkerGID
	}
	return os.Getuid(), os.Getgid()
}

// secretFile writes a key only the worker's uid may read, as auth/jwt
// (26.05) and auth/slurm insist.
func secretFile(t *testing.T, dir, name string, n int) string {
	key := make([]byte, n)
	rand.Read(key)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	uid, gid := workerIdentity()
	if os.Geteuid() == 0 {
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// jwtFor mints the HS256 token auth/jwt expects in $SLURM_JWT.
func jwtFor(t *testing.T, keyFile, user string) string {
	key, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	now := time.Now().Unix()
	unsigned := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		enc.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d,"iat":%d,"sun":%q}`, now+3600, now, user)))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}

func keyDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "plugincheck-keys-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	return dir
}

// realAuthSetup is how each real auth plugin is set up so the suite can
// exercise it as Slurm would; the variables it needs are the run's --env
// settings, so that runs can go on at once.
func realAuthSetup(t *testing.T, plugin string, cfg *suite.Config) {
	switch plugin {
	case "auth_none", "auth_munge":
		cfg.AuthTTL = 1 // auth/munge: AuthInfo ttl=1; auth/none has no lifetime
	case "auth_jwt":
		// Keys are loaded only in slurmctld and slurmdbd; credentials carry
		// the token in $SLURM_JWT. Its lifetime is the token's, so
		// AUTH-EXPIRY is not tested.
		key := secretFile(t, keyDir(t), "jwt_hs256.key", 32)
		uid, _ := workerIdentity()
		u, err := user.LookupId(strconv.Itoa(uid))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Env = append(cfg.Env, "SLURM_JWT="+jwtFor(t, key, u.Username))
		cfg.Daemon = "slurmctld"
		cfg.ConfLines = []string{"AuthAltTypes=auth/jwt", "AuthAltParameters=jwt_key=" + key}
	case "auth_slurm":
		// A daemon signs with $SLURM_SACK_KEY itself; SLURM_CONFIG_FETCH
		// keeps it from opening its SACK listener.
		cfg.Env = append(cfg.Env, "SLURM_SACK_KEY="+secretFile(t, keyDir(t), "slurm.key", 64), "SLURM_CONFIG_FETCH=1")
		cfg.Daemon = "slurmctld"
		cfg.AuthTTL = 1
	}
}

// TestRealAuthPlugins pins what the suite finds in every real Debian auth
// plugin of the four generations (suite/testdata/real-plugins.txt); each
// finding is explained, and checked against the plugin's source, in
// docs/real-plugins.md.
func TestRealAuthPlugins(t *testing.T) {
	var names []string
	var runs []*pendingRun
	for _, rel := range testenv.Releases(t) {
		for _, plugin := range []string{"auth_none", "auth_munge", "auth_jwt", "auth_slurm"} {
			path := filepath.Join(testenv.PluginDir(t, rel), plugin+".so")
			if _, err := os.Stat(path); err != nil {
				continue
			}
			cfg := suite.Config{Plugin: path}
			realAuthSetup(t, plugin, &cfg)
			names = append(names, rel+"/"+plugin)
			runs = append(runs, startRun(cfg, quiet))
		}
	}
	t.Parallel()
	var got []string
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			s := runs[i].wait(t)
			logFindings(t, s)
			got = append(got, findings(name, s)...)
		})
	}
	if len(names) < 14 {
		t.Errorf("checked %d real auth plugins, want the 14 of the four Debian generations", len(names))
	}
	compareFindings(t, "real-plugins.txt", names, got)
}

// TestRealCredPlugins pins what the suite finds in Debian's cred plugins
// (key API up to 23.02, CRED2 from 23.11), in the same file.
func TestRealCredPlugins(t *testing.T) {
	var names, paths []string
	var runs []*pendingRun
	for _, rel := range testenv.Releases(t) {
		for _, plugin := range []string{"cred_none", "cred_munge"} {
			path := filepath.Join(testenv.PluginDir(t, rel), plugin+".so")
			names, paths = append(names, rel+"/"+plugin), append(paths, path)
			var run *pendingRun
			if _, err := os.Stat(path); err == nil {
				run = startRun(suite.Config{Plugin: path}, quiet)
			}
			runs = append(runs, run)
		}
	}
	t.Parallel()
	var got []string
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			testenv.Need(t, "plugin", paths[i])
			s := runs[i].wait(t)
			logFindings(t, s)
			got = append(got, findings(name, s)...)
		})
	}
	compareFindings(t, "real-plugins.txt", names, got)
}
