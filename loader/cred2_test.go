package loader_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// TestCred2Layouts builds an sbcast credential with Debian's cred/none of
// each 23.11+ release and reads it back through the layout tables.
func TestCred2Layouts(t *testing.T) {
	for _, rel := range testenv.Releases(t) {
		path := filepath.Join(testenv.PluginDir(t, rel), "cred_none.so")
		ver, err := profile.ParseVersion(rel)
		ok(t, "version", err)
		abi := profile.CredABIFor(ver)
		if abi == nil {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			w := start(t, path, loader.Options{}, loader.SandboxOptions{})
			cr, err := w.Cred()
			ok(t, "cred", err)
			_, err = cr.Init()
			ok(t, "init", err)
			_, err = w.Call("switch_g_init", loader.Int(0))
			ok(t, "switch_g_init", err)
			uid, gid := workerIDs()
			id := &loader.Identity{UID: uid, GID: gid, Name: "u", GIDs: []uint32{gid, 7}, GroupNames: []string{"a", "b"}}
			want := &loader.SbcastArg{JobID: 11, StepID: 3, HetJobID: 0, ID: id, Expiration: time.Now().Add(time.Hour).Unix(), Nodes: "n1"}
			pv := profile.SeriesOf(ver).Protocol
			p, r, err := cr.SbcastCreate(abi, want, pv)
			ok(t, "sbcast_p_create", err)
			if p == 0 {
				t.Fatalf("sbcast_p_create: NULL, errno %d", r.Errno)
			}
			v, err := cr.ReadSbcast(abi, p)
			ok(t, "read", err)
			t.Logf("%d bytes: % x", len(v.Buffer), v.Buffer)
			buf, err := w.NewGuardedBuf(v.Buffer)
			ok(t, "buf", err)
			u, r, err := cr.SbcastUnpack(buf, false, pv)
			ok(t, "sbcast_p_unpack", err)
			if u == 0 {
				t.Fatalf("sbcast_p_unpack: NULL, errno %d; stderr %s", r.Errno, w.Stderr())
			}
			got, err := cr.ReadSbcast(abi, u)
			ok(t, "read", err)
			t.Logf("%+v %+v", got.Sbcast, got.Sbcast.ID)
		})
	}
}
