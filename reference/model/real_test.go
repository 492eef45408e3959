package model_test

// The models against Debian's real plugins of the four generations: the
// bytes a real auth/none packs are predicted exactly, a real cred/none
// signs and verifies as its model says, a real auth/jwt in a client packs
// the token the model predicts. Workers are this test binary re-executed
// (loader), so no plugin code runs in the test process.

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/reference/model"
)

func TestMain(m *testing.M) {
	loader.ServeWorkerIfRequested()
	os.Exit(m.Run())
}

// start loads a real plugin in a worker and calls init.
func start(t *testing.T, path string, opts loader.SandboxOptions) (*loader.Worker, *loader.Sandbox) {
	t.Helper()
	target, err := loader.Open(path, loader.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := target.NewSandbox(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	w, err := sb.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	init := target.Profile.Func(profile.OpInit)
	if r, err := w.Call(init.Symbol); err != nil || r.Int() != 0 {
		t.Fatalf("init: %d %v", r.Int(), err)
	}
	return w, sb
}

func release(s *profile.Series) model.Release {
	return model.Release{Major: int(s.Major), Minor: int(s.Minor)}
}

func shortHost(t *testing.T) string {
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for i := range h {
		if h[i] == '.' {
			return h[:i]
		}
	}
	return h
}

// TestRealAuthNonePrediction: the model predicts, byte for byte, what the
// real auth/none of every Debian generation packs, at every protocol
// version the release accepts; and the plugin takes the model's bytes for
// any identity at face value, as the model says it does.
func TestRealAuthNonePrediction(t *testing.T) {
	host := shortHost(t)
	checked := 0
	for _, rel := range testenv.Releases(t) {
		t.Run(rel, func(t *testing.T) {
			path := testenv.Need(t, "plugin", filepath.Join(testenv.PluginDir(t, rel), "auth_none.so"))
			w, sb := start(t, path, loader.SandboxOptions{})
			a, err := w.Auth()
			if err != nil {
				t.Fatal(err)
			}
			m := model.AuthNone{Release: release(a.Series)}
			self := model.NoneCred{Identity: model.Identity{UID: uint32(sb.UID), GID: uint32(sb.GID)}, Host: &host}
			cred, r, err := a.Create("", profile.SlurmAuthUIDAny, []byte("prediction"))
			if err != nil || cred == 0 {
				t.Fatalf("create: %v errno %d", err, r.Errno)
			}
			for _, pv := range a.Series.ProtocolVersions() {
				body, rc, _, err := a.PackBytes(cred, pv)
				if err != nil || rc != 0 {
					t.Fatalf("pack at %#x: %d %v", pv, rc, err)
				}
				want := m.Body(self, pv)
				if string(body) != string(want) {
					t.Errorf("protocol %#x: the plugin packs % x; the model predicts % x", pv, body, want)
				}
				if err := m.Check(body, self, pv); err != nil {
					t.Errorf("protocol %#x: %v", pv, err)
				}
			}
			forged := model.NoneCred{Identity: model.Identity{UID: 0, GID: 0}, Host: ptr("elsewhere")}
			body := m.Body(forged, a.Series.Protocol)
			got, consumed, _, err := a.UnpackBytes(body, a.Series.Protocol)
			if err != nil || got == 0 || consumed != len(body) {
				t.Fatalf("unpack of the model's bytes: %#x, %d of %d bytes, %v", got, consumed, len(body), err)
			}
			if rc, _, err := a.Verify(got, ""); err != nil || rc != 0 {
				t.Errorf("verify of a forged root credential: %d %v (auth/none accepts anything)", rc, err)
			}
			uid, gid, _, _, err := a.IDs(got)
			if err != nil || uid != 0 || gid != 0 {
				t.Errorf("ids of the forged credential: %d %d %v", uid, gid, err)
			}
			if h, ok, _, err := a.Host(got); err != nil || !ok || h != "elsewhere" {
				t.Errorf("host of the forged credential: %q %v %v", h, ok, err)
			}
			checked++
		})
	}
	if checked < 4 && os.Getenv("PLUGINCHECK_REQUIRE_REAL") != "" {
		t.Errorf("predicted %d generations of auth/none, want the four Debian ones", checked)
	}
}

func ptr(s string) *string { return &s }

// TestRealCredNone: the key-API cred/none (20.11, 22.05) signs with the
// model's constant and verifies exactly as the model predicts.
func TestRealCredNone(t *testing.T) {
	for _, rel := range testenv.Releases(t) {
		path := filepath.Join(testenv.PluginDir(t, rel), "cred_none.so")
		target, err := loader.Open(testenv.Need(t, "plugin", path), loader.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !target.Profile.Has(profile.OpSign) {
			continue // 23.11+: the whole-credential API
		}
		t.Run(rel, func(t *testing.T) {
			w, _ := start(t, path, loader.SandboxOptions{})
			cr, err := w.Cred()
			if err != nil {
				t.Fatal(err)
			}
			key, _, err := cr.ReadPrivateKey(ptr("/nonexistent"))
			if err != nil || key == 0 {
				t.Fatalf("read_private_key: %#x %v", key, err)
			}
			var m model.CredNone
			data := []byte("signed by cred/none")
			sig, rc, _, err := cr.Sign(key, data)
			if err != nil || rc != 0 {
				t.Fatalf("sign: %d %v", rc, err)
			}
			b, err := cr.SignatureBytes(sig)
			if err != nil || string(b) != string(m.Signature()) {
				t.Errorf("signature %q (%d bytes), the model's is %q (%d)", b, len(b), m.Signature(), len(m.Signature()))
			}
			for _, s := range []string{"fake signature", "fake", "fake signature\x00xyz", "fake signaturX", "MUNGE:AAAA:"} {
				rc, _, err := cr.VerifySign(key, []byte("another buffer"), []byte(s), false)
				if err != nil {
					t.Fatal(err)
				}
				if want := m.Verify(nil, []byte(s)); (rc == 0) != (want == 0) || rc != 0 && rc != int32(want) {
					t.Errorf("verify_sign(%q) = %d; the model predicts %d", s, rc, want)
				}
			}
		})
	}
}

// TestRealAuthJWTClient: in a client, auth/jwt packs $SLURM_JWT and the
// thread's (NULL) user name, as the model predicts.
func TestRealAuthJWTClient(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Now().Unix()
	token := model.MintHS256(key, model.Claims{Exp: now + 3600, Iat: now, Sun: "nobody"})
	t.Setenv("SLURM_JWT", token)
	for _, rel := range testenv.Releases(t) {
		path := filepath.Join(testenv.PluginDir(t, rel), "auth_jwt.so")
		if _, err := os.Stat(path); err != nil {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			w, _ := start(t, path, loader.SandboxOptions{})
			a, err := w.Auth()
			if err != nil {
				t.Fatal(err)
			}
			cred, r, err := a.Create("", profile.SlurmAuthUIDAny, []byte("jwt"))
			if err != nil || cred == 0 {
				t.Fatalf("create: %v errno %d", err, r.Errno)
			}
			body, rc, _, err := a.PackBytes(cred, a.Series.Protocol)
			if err != nil || rc != 0 {
				t.Fatalf("pack: %d %v", rc, err)
			}
			m := model.AuthJWT{Release: release(a.Series)}
			if want := m.Body(&token, nil); string(body) != string(want) {
				t.Errorf("the plugin packs % x…; the model predicts % x…", body[:min(len(body), 16)], want[:16])
			}
			tok, user, n, err := m.Unpack(body)
			if err != nil || n != len(body) || tok == nil || user != nil {
				t.Fatalf("model unpack: %v %v %d %v", tok, user, n, err)
			}
			if c, err := model.ParseHS256(*tok, key, time.Now()); err != nil || c.User() != "nobody" {
				t.Errorf("the packed token: %+v %v", c, err)
			}
		})
	}
}
