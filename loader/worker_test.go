package loader_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// start opens path and starts one worker for it.
func start(t testing.TB, path string, opts loader.Options, sbOpts loader.SandboxOptions) *loader.Worker {
	t.Helper()
	tg, err := loader.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	sb, err := tg.NewSandbox(sbOpts)
	if err != nil {
		t.Fatalf("NewSandbox: %v", err)
	}
	t.Cleanup(func() { sb.Close() })
	w, err := sb.Start(context.Background())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func ok(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// workerIDs is the uid and gid a worker runs as.
func workerIDs() (uint32, uint32) {
	if os.Geteuid() == 0 {
		return loader.NobodyUID, loader.WorkerGID
	}
	return uint32(os.Getuid()), uint32(os.Getgid())
}

func shortHostname(t testing.TB) string {
	h, err := os.Hostname()
	ok(t, "hostname", err)
	h, _, _ = strings.Cut(h, ".")
	return h
}

// TestAuthNoneEveryGeneration drives the real auth_none of each Debian
// generation through the whole life cycle.
func TestAuthNoneEveryGeneration(t *testing.T) {
	for _, rel := range generations(t) {
		t.Run(rel, func(t *testing.T) {
			w := start(t, realPlugin(t, rel[:5], "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
			a, err := w.Auth()
			ok(t, "Auth", err)
			r, err := a.Init()
			ok(t, "init", err)
			if r.Int() != 0 {
				t.Fatalf("init = %d", r.Int())
			}
			cred, r, err := a.Create("", profile.SlurmAuthUIDAny, []byte("payload"))
			ok(t, "create", err)
			if cred == 0 {
				t.Fatalf("create returned NULL, errno %d", r.Errno)
			}
			series := a.Series
			packed, rc, _, err := a.PackBytes(cred, series.Protocol)
			ok(t, "pack", err)
			uid, gid := workerIDs()
			host := shortHostname(t)
			want := binary.BigEndian.AppendUint32(nil, uid)
			want = binary.BigEndian.AppendUint32(want, gid)
			want = binary.BigEndian.AppendUint32(want, uint32(len(host)+1))
			want = append(append(want, host...), 0)
			if rc != 0 || !bytes.Equal(packed, want) {
				t.Fatalf("pack = %d, % x; want 0, % x", rc, packed, want)
			}
			back, consumed, r, err := a.UnpackBytes(packed, series.Protocol)
			ok(t, "unpack", err)
			if back == 0 || consumed != len(packed) {
				t.Fatalf("unpack = %#x consuming %d of %d bytes, errno %d", back, consumed, len(packed), r.Errno)
			}
			if rc, r, err := a.Verify(back, ""); err != nil || rc != 0 {
				t.Fatalf("verify = %d, errno %d, %v", rc, r.Errno, err)
			}
			gotUID, gotGID, _, _, err := a.IDs(back)
			ok(t, "ids", err)
			if gotUID != uid || gotGID != gid {
				t.Errorf("ids = %d/%d, want %d/%d", gotUID, gotGID, uid, gid)
			}
			for _, c := range []uintptr{cred, back} {
				if rc, r, err := a.Destroy(c); err != nil || rc != 0 {
					t.Fatalf("destroy = %d, errno %d, %v", rc, r.Errno, err)
				}
			}
			if w.Has("fini") {
				_, err := a.Fini()
				ok(t, "fini", err)
			}
		})
	}
}

// TestCredNoneEveryGeneration signs and verifies with cred_none where the
// generation has the key API, and runs init and fini on the 23.11+ API.
func TestCredNoneEveryGeneration(t *testing.T) {
	for _, rel := range generations(t) {
		t.Run(rel, func(t *testing.T) {
			w := start(t, realPlugin(t, rel[:5], "cred_none.so"), loader.Options{}, loader.SandboxOptions{})
			c, err := w.Cred()
			ok(t, "Cred", err)
			r, err := c.Init()
			ok(t, "init", err)
			if r.Int() != 0 {
				t.Fatalf("init = %d", r.Int())
			}
			if c.Profile.Has(profile.OpSign) {
				key, _, err := c.ReadPrivateKey(nil)
				ok(t, "read_private_key", err)
				data := []byte("job credential")
				sig, rc, _, err := c.Sign(key, data)
				ok(t, "sign", err)
				got, err := c.SignatureBytes(sig)
				ok(t, "signature", err)
				if rc != 0 || string(got) != "fake signature" {
					t.Fatalf("sign = %d, %q", rc, got)
				}
				if rc, _, err := c.VerifySign(key, data, got, false); err != nil || rc != 0 {
					t.Fatalf("verify_sign = %d, %v", rc, err)
				}
				ok(t, "free signature", c.FreeSignature(sig))
				_, err = c.DestroyKey(key)
				ok(t, "destroy_key", err)
			}
			_, err = c.Fini()
			ok(t, "fini", err)
		})
	}
}

// TestMunge2205 runs the 22.05 auth_munge and cred_munge against a private
// munged.
func TestMunge2205(t *testing.T) {
	authPath, credPath := realPlugin(t, "22.05", "auth_munge.so"), realPlugin(t, "22.05", "cred_munge.so")
	d, err := munged.Start(context.Background())
	if errors.Is(err, munged.ErrNotInstalled) && os.Getenv("PLUGINCHECK_REQUIRE_REAL") == "" {
		t.Skip(err)
	}
	ok(t, "munged", err)
	defer d.Stop()
	sbOpts := loader.SandboxOptions{AuthInfo: d.AuthInfo(0)}
	uid, gid := workerIDs()

	t.Run("auth_munge", func(t *testing.T) {
		w := start(t, authPath, loader.Options{}, sbOpts)
		a, _ := w.Auth()
		r, err := a.Init()
		ok(t, "init", err)
		if r.Int() != 0 {
			t.Fatalf("init = %d", r.Int())
		}
		payload := []byte("munge payload")
		cred, r, err := a.Create(d.AuthInfo(0), profile.SlurmAuthUIDAny, payload)
		ok(t, "create", err)
		if cred == 0 {
			t.Fatalf("create = NULL, errno %d; stderr %s", r.Errno, w.Stderr())
		}
		// auth_munge blocks SIGALRM around munge_encode and reinstalls the
		// handler without SA_ONSTACK (design.md trap 2): the worker saw it
		// and put Go's handler back.
		if !containsSignal(r.SignalsChanged, syscall.SIGALRM) {
			t.Errorf("create changed signals %v, want SIGALRM among them", r.SignalsChanged)
		}
		packed, rc, _, err := a.PackBytes(cred, 0x2600)
		ok(t, "pack", err)
		if rc != 0 || !bytes.Contains(packed, []byte("MUNGE:")) {
			t.Fatalf("pack = %d, %q", rc, packed)
		}
		back, consumed, _, err := a.UnpackBytes(packed, 0x2600)
		ok(t, "unpack", err)
		if back == 0 || consumed != len(packed) {
			t.Fatalf("unpack = %#x, consumed %d of %d", back, consumed, len(packed))
		}
		if rc, r, err := a.Verify(back, d.AuthInfo(0)); err != nil || rc != 0 {
			t.Fatalf("verify = %d, errno %d, %v; stderr %s", rc, r.Errno, err, w.Stderr())
		}
		gotUID, gotGID, _, _, err := a.IDs(back)
		ok(t, "ids", err)
		if gotUID != uid || gotGID != gid {
			t.Errorf("ids = %d/%d, want %d/%d", gotUID, gotGID, uid, gid)
		}
		data, rc, _, err := a.Data(back)
		ok(t, "get_data", err)
		if rc != 0 || !bytes.Equal(data, payload) {
			t.Errorf("get_data = %d, %q", rc, data)
		}
		for _, c := range []uintptr{cred, back} {
			if rc, _, err := a.Destroy(c); err != nil || rc != 0 {
				t.Fatalf("destroy = %d, %v", rc, err)
			}
		}
	})

	t.Run("cred_munge", func(t *testing.T) {
		w := start(t, credPath, loader.Options{}, sbOpts)
		c, _ := w.Cred()
		r, err := c.Init()
		ok(t, "init", err)
		if r.Int() != 0 {
			t.Fatalf("init = %d", r.Int())
		}
		priv, _, err := c.ReadPrivateKey(nil)
		ok(t, "read_private_key", err)
		pub, _, err := c.ReadPublicKey(nil)
		ok(t, "read_public_key", err)
		data := []byte("packed job credential")
		sig, rc, _, err := c.Sign(priv, data)
		ok(t, "sign", err)
		if rc != 0 || sig.Ptr == 0 {
			t.Fatalf("sign = %d; stderr %s", rc, w.Stderr())
		}
		sigBytes, err := c.SignatureBytes(sig)
		ok(t, "signature", err)
		if rc, _, err := c.VerifySign(pub, data, sigBytes, false); err != nil || rc != 0 {
			t.Fatalf("verify_sign = %d, %v; stderr %s", rc, err, w.Stderr())
		}
		tampered := append([]byte(nil), data...)
		tampered[0] ^= 1
		if rc, _, err := c.VerifySign(pub, tampered, sigBytes, true); err != nil || rc != 5000 {
			t.Errorf("verify_sign(tampered data) = %d, %v; want 5000 (ESIG_BUF_DATA_MISMATCH)", rc, err)
		}
		msg, okStr, _, err := c.StrError(5000)
		ok(t, "str_error", err)
		if !okStr || msg != "Credential data mismatch" {
			t.Errorf("str_error(5000) = %q", msg)
		}
		ok(t, "free signature", c.FreeSignature(sig))
		c.DestroyKey(priv)
		c.DestroyKey(pub)
		_, err = c.Fini()
		ok(t, "fini", err)
	})
}

func containsSignal(sigs []syscall.Signal, s syscall.Signal) bool {
	for _, x := range sigs {
		if x == s {
			return true
		}
	}
	return false
}

// TestMisbehavingPlugins shows that a plugin that crashes, aborts, exits,
// hangs, floods its output or closes descriptors in auth_p_verify becomes a
// typed error naming that function, and leaves no process behind.
func TestMisbehavingPlugins(t *testing.T) {
	host := realPlugin(t, "22.05", "libslurmfull.so")
	cases := []struct {
		fixture string
		check   func(t *testing.T, w *loader.Worker, rc int32, err error)
	}{
		{"auth_segv.so", wantCrash(syscall.SIGSEGV)},
		{"auth_abort.so", wantCrash(syscall.SIGABRT)},
		{"auth_exit.so", func(t *testing.T, w *loader.Worker, rc int32, err error) {
			var e *loader.ExitError
			if !errors.As(err, &e) || e.Status != 3 || e.Func != "auth_p_verify" {
				t.Fatalf("got %v (%T), want ExitError status 3 in auth_p_verify", err, err)
			}
		}},
		{"auth_loop.so", wantHang},
		{"auth_sleep.so", wantHang},
		{"auth_flood.so", func(t *testing.T, w *loader.Worker, rc int32, err error) {
			if err != nil || rc != 0 {
				t.Fatalf("verify = %d, %v; want a normal return", rc, err)
			}
			w.Close() // waits for the output to drain
			out, errOut := w.OutputBytes()
			if out < 10<<20 || errOut < 10<<20 {
				t.Errorf("captured %d bytes of stdout and %d of stderr, want 10 MiB each", out, errOut)
			}
			if len(w.Stdout()) > 64<<10 || len(w.Stderr()) > 64<<10 {
				t.Errorf("kept %d and %d bytes of output, want at most 64 KiB each", len(w.Stdout()), len(w.Stderr()))
			}
		}},
		{"auth_closefds.so", func(t *testing.T, w *loader.Worker, rc int32, err error) {
			var e *loader.ClobberError
			if !errors.As(err, &e) || e.Func != "auth_p_verify" {
				t.Fatalf("got %v (%T), want ClobberError in auth_p_verify", err, err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			w := start(t, fixture(t, c.fixture), loader.Options{HostOptions: loader.HostOptions{SlurmLib: host}},
				loader.SandboxOptions{CallTimeout: time.Second})
			a, _ := w.Auth()
			_, err := a.Init()
			ok(t, "init", err)
			cred, _, err := a.Create("", profile.SlurmAuthUIDAny, nil)
			ok(t, "create", err)
			packed, _, _, err := a.PackBytes(cred, 0x2600)
			ok(t, "pack", err)
			back, _, _, err := a.UnpackBytes(packed, 0x2600)
			ok(t, "unpack", err)
			rc, _, err := a.Verify(back, "")
			c.check(t, w, rc, err)
			if err != nil {
				if _, _, again := a.Destroy(back); again == nil {
					t.Errorf("a call after the worker failed succeeded")
				}
			}
			pid := w.Pid
			w.Close()
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("worker %d still exists after Close: kill(0) = %v", pid, err)
			}
			if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d still has members after Close", pid)
			}
		})
	}
}

func wantCrash(sig syscall.Signal) func(*testing.T, *loader.Worker, int32, error) {
	return func(t *testing.T, w *loader.Worker, rc int32, err error) {
		var e *loader.CrashError
		if !errors.As(err, &e) || e.Signal != sig || e.Func != "auth_p_verify" {
			t.Fatalf("got %v (%T), want CrashError %v in auth_p_verify", err, err, sig)
		}
		if strings.Contains(e.Stderr, "goroutine ") {
			t.Errorf("stderr evidence carries the Go runtime's report: %q", e.Stderr)
		}
	}
}

func wantHang(t *testing.T, w *loader.Worker, rc int32, err error) {
	var e *loader.HangError
	if !errors.As(err, &e) || e.Func != "auth_p_verify" || e.Deadline != time.Second {
		t.Fatalf("got %v (%T), want HangError in auth_p_verify after 1s", err, err)
	}
}

// TestAuthCycles runs 1,000 cycles on four threads inside one worker.
func TestAuthCycles(t *testing.T) {
	w := start(t, realPlugin(t, "22.05", "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
	a, _ := w.Auth()
	a.Init()
	res, err := a.Cycles(4, 250, "", []byte("x"), 0x2600)
	ok(t, "cycles", err)
	uid, gid := workerIDs()
	if res.Completed != 1000 || res.Failed != 0 || res.UID != uid || res.GID != gid {
		t.Errorf("cycles: %+v", res)
	}
	if res.HeapGrowth > 64<<10 {
		t.Errorf("auth_none grew the heap by %d bytes over 1,000 cycles", res.HeapGrowth)
	}
}
