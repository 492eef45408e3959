package loader_test

import (
	"context"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// TestKeyAccess: a key file only root may read (owner root, mode 0600)
// reaches a worker that runs as the unprivileged uid, as it reaches a
// daemon running as root; a worker started without key access cannot read
// it (the spec of unreadable key files needs that), and either way the
// credential says the worker's own uid.
func TestKeyAccess(t *testing.T) {
	key := testenv.RootOnlyKey(t)
	tg, err := loader.Open(fixture(t, "auth_good_2205.so"),
		loader.Options{HostOptions: loader.HostOptions{SlurmLib: realPlugin(t, "22.05", "libslurmfull.so")}})
	ok(t, "open", err)
	sb, err := tg.NewSandbox(loader.SandboxOptions{})
	ok(t, "sandbox", err)
	defer sb.Close()
	if !sb.KeyAccess() {
		t.Fatal("running as root with CAP_DAC_READ_SEARCH, workers should get it")
	}
	if can, why := sb.CanRead(key); !can {
		t.Fatalf("CanRead(%s): %s", key, why)
	}
	info := "key=" + key
	for _, tc := range []struct {
		name  string
		start func(context.Context) (*loader.Worker, error)
		reads bool
	}{{"with key access", sb.Start, true}, {"without key access", sb.StartWithoutKeyAccess, false}} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := tc.start(context.Background())
			ok(t, "start", err)
			defer w.Close()
			a, err := w.Auth()
			ok(t, "auth", err)
			_, err = a.Init()
			ok(t, "init", err)
			cred, r, err := a.Create(info, profile.SlurmAuthUIDAny, []byte("x"))
			ok(t, "create", err)
			if (cred != 0) != tc.reads {
				t.Fatalf("create with a root-only key: credential %#x, errno %d; want it read: %v", cred, r.Errno, tc.reads)
			}
			if cred == 0 {
				return
			}
			packed, _, _, err := a.PackBytes(cred, tg.Series.Protocol)
			ok(t, "pack", err)
			back, _, _, err := a.UnpackBytes(packed, tg.Series.Protocol)
			ok(t, "unpack", err)
			rc, _, err := a.Verify(back, info)
			ok(t, "verify", err)
			uid, gid, _, _, err := a.IDs(back)
			ok(t, "ids", err)
			wantUID, wantGID := workerIDs()
			if rc != 0 || uid != wantUID || gid != wantGID {
				t.Errorf("verify %d, uid %d gid %d; want 0, %d, %d", rc, uid, gid, wantUID, wantGID)
			}
		})
	}
}
