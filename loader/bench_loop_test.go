package loader_test

import (
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/loader"
)

// checkSteps: every step ran, and its figures are in order.
func checkSteps(t *testing.T, r loader.BenchRun, names ...string) {
	t.Helper()
	if r.Cycles == 0 || r.Failed != 0 {
		t.Fatalf("%d cycles, %d failed (%s)", r.Cycles, r.Failed, r.FirstFailure)
	}
	for _, name := range names {
		st := r.Step(name)
		if st == nil || st.Count == 0 {
			t.Fatalf("no %q step in %+v", name, r.Steps)
		}
		p50, p99 := st.Percentile(.5), st.Percentile(.99)
		if p50 <= 0 || p50 > p99 || st.Mean() <= 0 || st.Max < st.Mean() {
			t.Errorf("%s: p50 %v, p99 %v, mean %v, max %v out of order", name, p50, p99, st.Mean(), st.Max)
		}
	}
}

func TestBenchAuthNone(t *testing.T) {
	w := start(t, realPlugin(t, "22.05", "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
	a, _ := w.Auth()
	if _, err := a.Init(); err != nil {
		t.Fatal(err)
	}
	for _, usePurego := range []bool{false, true} {
		for _, threads := range []int{1, 2} {
			r, err := a.Bench(loader.BenchOptions{Threads: threads, Duration: 50 * time.Millisecond, Purego: usePurego})
			ok(t, "bench", err)
			checkSteps(t, r, "cycle")
			if r.Threads != threads || r.Wall < 50*time.Millisecond {
				t.Errorf("threads %d, wall %v", r.Threads, r.Wall)
			}
			r, err = a.Bench(loader.BenchOptions{Threads: threads, Duration: 50 * time.Millisecond, Steps: true,
				Data: []byte("payload"), Purego: usePurego})
			ok(t, "bench steps", err)
			checkSteps(t, r, "cycle", "create", "pack", "unpack", "verify", "ids", "destroy")
		}
		r, err := w.BenchCall(20*time.Millisecond, usePurego)
		ok(t, "bench call", err)
		if st := r.Step("call"); st == nil || st.Count < 1000 || st.Mean() <= 0 || st.Mean() > 100*time.Microsecond {
			t.Errorf("call overhead step %+v (purego %v)", st, usePurego)
		}
	}
	// The worker is still usable afterwards.
	if _, err := w.Call("auth_p_get_uid", loader.Null); err != nil {
		t.Fatal(err)
	}
}

// 23.02 and later return both ids from one call, through pointers.
func TestBenchAuthGetIDs(t *testing.T) {
	w := start(t, realPlugin(t, "24.11", "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
	a, _ := w.Auth()
	if _, err := a.Init(); err != nil {
		t.Fatal(err)
	}
	for _, usePurego := range []bool{false, true} {
		r, err := a.Bench(loader.BenchOptions{Threads: 2, Duration: 30 * time.Millisecond, Steps: true, Purego: usePurego})
		ok(t, "bench", err)
		checkSteps(t, r, "cycle", "create", "ids", "destroy")
	}
}

// A failing cycle is counted and described, not fatal.
func TestBenchReportsFailures(t *testing.T) {
	w := start(t, fixture(t, "auth_bad_verify.so"),
		loader.Options{HostOptions: loader.HostOptions{SlurmLib: realPlugin(t, "22.05", "libslurmfull.so")}}, loader.SandboxOptions{})
	a, _ := w.Auth()
	a.Init()
	r, err := a.Bench(loader.BenchOptions{Duration: 20 * time.Millisecond})
	ok(t, "bench", err)
	if r.Failed == 0 || !strings.HasPrefix(r.FirstFailure, "verify returned ") {
		t.Fatalf("failures not reported, or not as verify's: %+v", r)
	}
}

func TestBenchCredKey(t *testing.T) {
	w := start(t, fixture(t, "cred_good_key.so"),
		loader.Options{HostOptions: loader.HostOptions{SlurmLib: realPlugin(t, "22.05", "libslurmfull.so")}}, loader.SandboxOptions{})
	c, err := w.Cred()
	ok(t, "cred", err)
	c.Init()
	key, err := w.Sandbox().KeyFileFor([]byte("0123456789abcdef0123456789abcdef"))
	ok(t, "key file", err)
	priv, _, err := c.ReadPrivateKey(&key)
	ok(t, "read_private_key", err)
	pub, _, err := c.ReadPublicKey(&key)
	ok(t, "read_public_key", err)
	if priv == 0 || pub == 0 {
		t.Fatal("no key")
	}
	for _, usePurego := range []bool{false, true} {
		r, err := c.Bench(priv, pub, loader.BenchOptions{Threads: 2, Duration: 50 * time.Millisecond, Steps: true,
			Data: make([]byte, 100), Purego: usePurego})
		ok(t, "bench", err)
		checkSteps(t, r, "cycle", "sign", "verify_sign", "xfree")
	}
}
