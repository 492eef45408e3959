package fuzz_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/fuzz"
	"github.com/plugincheck/plugincheck/loader/profile"
)

func TestMain(m *testing.M) {
	loader.ServeWorkerIfRequested()
	os.Exit(m.Run())
}

func ok(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func fuzzSandbox(t *testing.T, path string) *loader.Sandbox {
	t.Helper()
	host := testenv.Plugin(t, "22.05", "libslurmfull.so")
	sb, err := loader.OpenSandbox(path, loader.Options{HostOptions: loader.HostOptions{SlurmLib: host}}, loader.SandboxOptions{})
	ok(t, "sandbox", err)
	t.Cleanup(func() { sb.Close() })
	return sb
}

// TestFuzzFindsOverRead: auth_bad_unpack memcpy's as many bytes as its data
// length field says. A batch of mutations of its own credentials finds the
// over-read at the guard page, and (on amd64) recovers from it: the
// worker runs the next batch. The input, replayed alone, ends a worker as
// it would end slurmd, and minimizes.
func TestFuzzFindsOverRead(t *testing.T) {
	sb := fuzzSandbox(t, testenv.Fixture(t, "auth_bad_unpack.so"))
	ctx := context.Background()
	cfg := loader.FuzzConfig{Timeout: time.Second}
	seeds, err := sb.FuzzSeeds(ctx, cfg, loader.FuzzUnpack)
	ok(t, "seeds", err)
	if len(seeds) == 0 {
		t.Fatal("no seeds")
	}
	pvs := profile.SeriesOf(profile.Version{Major: 22, Minor: 5}).ProtocolVersions()
	var fail *loader.FuzzFailure
	for i := 0; i < 50 && fail == nil; i++ {
		fw, err := sb.NewFuzzWorker(ctx, cfg)
		ok(t, "worker", err)
		// The valid credentials alone, then their mutations.
		b, f, err := fw.Batch(loader.FuzzUnpack, uint64(i), 20000, seeds, pvs)
		ok(t, "batch", err)
		if f != nil {
			fw.Close()
			if runtime.GOARCH == "amd64" {
				t.Fatalf("the batch ended its worker (%v: %s): the over-read was not recovered", f, f.Detail)
			}
			fail = f
			continue
		}
		if b.Execs < uint64(len(seeds)) {
			t.Fatalf("batch ran %d executions", b.Execs)
		}
		if len(b.Faults) > 0 {
			fail = &b.Faults[0]
			if !strings.Contains(fail.Detail, "guard page") || !strings.Contains(fail.Detail, "recovered") {
				t.Errorf("recovered fault's detail %q", fail.Detail)
			}
			// The worker goes on, and a known crashing input is no corpus
			// entry of its: it reports none as new.
			b2, f2, err := fw.Batch(loader.FuzzUnpack, uint64(i)+1000, 2000, seeds, pvs)
			ok(t, "batch after a recovered fault", err)
			if f2 != nil || b2.Execs == 0 {
				t.Fatalf("after a recovered fault: %v, %d executions", f2, b2.Execs)
			}
			for _, in := range append(b.New, b2.New...) {
				for _, ft := range append(b.Faults, b2.Faults...) {
					if bytes.Equal(in.Data, ft.Input.Data) && in.Protocol == ft.Input.Protocol {
						t.Errorf("faulting input %x reported as a new corpus entry", in.Data)
					}
				}
			}
		}
		fw.Close()
	}
	if fail == nil {
		t.Fatal("no failure in 50 batches")
	}
	if fail.Kind != loader.FailCrash || fail.Signal != "SIGSEGV" || fail.Function != "auth_p_unpack" {
		t.Fatalf("failure %v, want a SIGSEGV in auth_p_unpack", fail)
	}
	got, err := sb.Reproduce(ctx, cfg, fail.Input, fail.Kind)
	ok(t, "reproduce", err)
	if !fail.Same(got) {
		t.Fatalf("reproduced as %v", got)
	}
	small, tries, err := fuzz.Minimize(ctx, sb, cfg, fail, 300)
	ok(t, "minimize", err)
	if tries == 0 || len(small.Input.Data) >= len(fail.Input.Data) || !fail.Same(small) {
		t.Fatalf("minimized %d → %d bytes in %d tries: %v", len(fail.Input.Data), len(small.Input.Data), tries, small)
	}
	// The good build of the same source survives the minimized input.
	good := fuzzSandbox(t, testenv.Fixture(t, "auth_good_2205.so"))
	if got, err := good.Reproduce(ctx, cfg, small.Input, fail.Kind); err != nil || got != nil {
		t.Fatalf("auth_good_2205 on the reproducer: %v, %v", got, err)
	}
}

// TestFuzzRealPluginsSurvive: 100,000 mutated and re-packed inputs, at every
// protocol version and one below them, are no failure for Debian's
// auth_none.
func TestFuzzRealPluginsSurvive(t *testing.T) {
	for _, name := range []string{"auth_none.so"} {
		sb := fuzzSandbox(t, testenv.Plugin(t, "22.05", name))
		ctx := context.Background()
		cfg := loader.FuzzConfig{}
		seeds, err := sb.FuzzSeeds(ctx, cfg, loader.FuzzUnpack)
		ok(t, "seeds", err)
		seeds = append(seeds, fuzz.StructuredSeeds(seeds)...)
		fw, err := sb.NewFuzzWorker(ctx, cfg)
		ok(t, "worker", err)
		defer fw.Close()
		total := uint64(0)
		for i := 0; i < 5; i++ {
			b, fail, err := fw.Batch(loader.FuzzUnpack, uint64(i), 20000, seeds, []uint16{0x2600, 0x2500, 0x2400, 0})
			ok(t, "batch", err)
			if fail != nil {
				t.Fatalf("%s: %v on %x", name, fail, fail.Input.Data)
			}
			total += b.Execs
		}
		if total < 100000 || fw.Execs() != total {
			t.Fatalf("%d executions (worker says %d)", total, fw.Execs())
		}
	}
}

// TestStructuredSeeds: each field of a packed credential is re-packed
// wrong, one at a time, with Slurm's codec.
func TestStructuredSeeds(t *testing.T) {
	// uid 1000, gid 1001, packstr("vm")
	valid := []byte{0, 0, 3, 0xe8, 0, 0, 3, 0xe9, 0, 0, 0, 3, 'v', 'm', 0}
	out := fuzz.StructuredSeeds([]loader.FuzzInput{{Target: loader.FuzzUnpack, Protocol: 0x2600, Data: valid}})
	want := [][]byte{
		{0, 0, 3, 0xe9, 0, 0, 0, 3, 'v', 'm', 0},                            // uid dropped
		{0xff, 0xff, 0xff, 0xff, 0, 0, 3, 0xe9, 0, 0, 0, 3, 'v', 'm', 0},    // uid -1
		{0, 0, 3, 0xe8, 0, 0, 3, 0xe9, 0, 0, 0, 4, 'v', 'm', 0},             // length one past the end
		{0, 0, 3, 0xe8, 0, 0, 3, 0xe9, 0xff, 0xff, 0xff, 0xff, 'v', 'm', 0}, // huge length
		{0, 0, 3, 0xe8, 0, 0, 3, 0xe9, 0, 0, 0, 0},                          // NULL string
		{0, 0, 3, 0xe8, 0, 0, 3, 0xe9, 0, 0, 0, 2, 'v', 'm'},                // no NUL
	}
	for _, w := range want {
		found := false
		for _, o := range out {
			found = found || bytes.Equal(o.Data, w)
			if o.Protocol != 0x2600 || o.Target != loader.FuzzUnpack {
				t.Fatalf("seed lost its target or protocol: %+v", o)
			}
		}
		if !found {
			t.Errorf("no seed % x", w)
		}
	}
	sig := fuzz.StructuredSeeds([]loader.FuzzInput{{Target: loader.FuzzVerifySign, Data: loader.SignedInput([]byte("buf"), []byte{0, 0, 0, 1, 'x'})}})
	for _, s := range sig {
		if b, _ := loader.SplitSigned(s.Data); string(b) != "buf" {
			t.Fatalf("verify_sign seed changed the signed buffer: %q", b)
		}
	}
}

// TestFuzzSbcastUnpackInTheHostsForm: sbcast_p_unpack is fed in the form
// the host library calls it (four arguments in both Debian roots: 24.11.5
// by a backport), and a real plugin survives it.
func TestFuzzSbcastUnpackInTheHostsForm(t *testing.T) {
	for _, release := range []string{"24.11", "26.05"} {
		tg, err := loader.Open(testenv.Plugin(t, release, "cred_none.so"), loader.Options{})
		ok(t, "open", err)
		args := len(tg.Profile.Func(profile.OpSbcastUnpack).Params)
		if tg.Forms.SbcastUnpackArgs != 0 && tg.Forms.SbcastUnpackArgs != args {
			t.Fatalf("%s: the host passes %d arguments, the profile says %d", release, tg.Forms.SbcastUnpackArgs, args)
		}
		sb, err := tg.NewSandbox(loader.SandboxOptions{})
		ok(t, "sandbox", err)
		t.Cleanup(func() { sb.Close() })
		fw, err := sb.NewFuzzWorker(context.Background(), loader.FuzzConfig{})
		ok(t, "worker", err)
		pv := tg.Series.Protocol
		b, fail, err := fw.Batch(loader.FuzzSbcastUnpack, 1, 20000, fuzz.GenericSeeds(loader.FuzzSbcastUnpack, pv), []uint16{pv, 0})
		fw.Close()
		ok(t, "batch", err)
		if fail != nil {
			t.Fatalf("%s (%d arguments): %v on %x", release, args, fail, fail.Input.Data)
		}
		if b.Execs < 20000 {
			t.Errorf("%s: %d executions of 20000", release, b.Execs)
		}
	}
}
