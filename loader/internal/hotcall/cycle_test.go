package hotcall_test

import (
	"testing"
	"unsafe"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
)

// Memory C reads through integers, where nothing moves it.
var (
	credText = []byte("ABCDEFGH\x00")
	zeros    = make([]byte, 4)
	mismatch = []byte("X")
)

func ptr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// libcCycle is a cycle of libc functions standing in for a plugin's:
// strdup makes the credential and its copy, memcmp against zeros checks
// that the index (the first int) was written before pack and verify, labs
// stands in for the id getters, free destroys.
func libcCycle(t testing.TB) *hotcall.AuthCycle {
	strdup, memcmp, labs, free := libc(t, "strdup"), libc(t, "memcmp"), libc(t, "labs"), libc(t, "free")
	return &hotcall.AuthCycle{
		Create:  hotcall.New(strdup, ptr(credText)),
		Pack:    hotcall.New(memcmp, 0, ptr(zeros), 4),
		Unpack:  hotcall.New(strdup, ptr(credText)),
		Verify:  hotcall.New(memcmp, 0, ptr(zeros), 4),
		Destroy: hotcall.New(free, 0),
		IDs:     [2]*hotcall.Call{hotcall.New(labs, 0), hotcall.New(labs, 0)},
		Errno:   new(int32), Processed: new(uint32),
	}
}

var cycleWays = map[string]func(*hotcall.AuthCycle){"Run": (*hotcall.AuthCycle).Run, "runEach": hotcall.RunEach}

func TestAuthCycleRunsEachStep(t *testing.T) {
	labs, memcmp := libc(t, "labs"), libc(t, "memcmp")
	cases := map[string]struct {
		change func(c *hotcall.AuthCycle)
		failed int32
	}{
		"complete":     {func(*hotcall.AuthCycle) {}, 0},
		"get_ids":      {func(c *hotcall.AuthCycle) { c.IDs[1] = nil }, 0},
		"create fails": {func(c *hotcall.AuthCycle) { c.Create = hotcall.New(labs, 0) }, hotcall.StepCreate},
		"pack fails":   {func(c *hotcall.AuthCycle) { c.Pack = hotcall.New(memcmp, 0, ptr(mismatch), 1) }, hotcall.StepPack},
		"unpack fails": {func(c *hotcall.AuthCycle) { c.Unpack = hotcall.New(labs, 0) }, hotcall.StepUnpack},
		"verify fails": {func(c *hotcall.AuthCycle) { c.Verify = hotcall.New(memcmp, 0, ptr(mismatch), 1) }, hotcall.StepVerify},
	}
	for name, tc := range cases {
		for way, run := range cycleWays {
			c := libcCycle(t)
			tc.change(c)
			*c.Errno, *c.Processed = 5, 7
			c.Failed = -1
			run(c)
			if c.Failed != tc.failed {
				t.Errorf("%s, %s: failed step %d, want %d", name, way, c.Failed, tc.failed)
			}
			if *c.Errno != 0 || (tc.failed != hotcall.StepCreate && *c.Processed != 0) {
				t.Errorf("%s, %s: errno %d, buffer offset %d left", name, way, *c.Errno, *c.Processed)
			}
			if (tc.failed == hotcall.StepPack || tc.failed == hotcall.StepVerify) && c.Result == 0 {
				t.Errorf("%s, %s: no result recorded", name, way)
			}
			if tc.failed == 0 {
				back := c.Verify.Args[0]
				if back == 0 || c.IDs[0].Ret() != back || c.Destroy.Args[0] != c.Pack.Args[0] {
					t.Errorf("%s, %s: copy %#x, ids read %#x, last destroyed %#x, packed %#x", name, way,
						back, c.IDs[0].Ret(), c.Destroy.Args[0], c.Pack.Args[0])
				}
			}
		}
	}
}

// BenchmarkAuthCycle is the libc cycle made in one transition into C (Run)
// and one call at a time (runEach): one transition against eight.
func BenchmarkAuthCycle(b *testing.B) {
	for way, run := range cycleWays {
		b.Run(way, func(b *testing.B) {
			c := libcCycle(b)
			for b.Loop() {
				run(c)
			}
			if c.Failed != 0 {
				b.Fatalf("step %d failed", c.Failed)
			}
		})
	}
}
