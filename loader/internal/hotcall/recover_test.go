package hotcall_test

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"unsafe"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
)

// guarded maps a page of zeros followed by an unmapped one (PROT_NONE), and
// returns the readable page and the guard's range.
func guarded(t testing.TB) ([]byte, hotcall.Guard) {
	t.Helper()
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	lo := uintptr(unsafe.Pointer(&mem[0])) + uintptr(page)
	return mem[:page], hotcall.Guard{Lo: lo, Hi: lo + uintptr(page)}
}

// sigaction as rt_sigaction(2) takes it on x86-64.
type sigaction struct{ handler, flags, restorer, mask uint64 }

const (
	saSigInfo  = 0x4
	saRestorer = 0x04000000
	saOnStack  = 0x08000000
	saNoDefer  = 0x40000000
)

// installRecovery sets recovery up for this thread (which the caller has
// locked) with guards, and installs the handler for SIGSEGV and SIGBUS as
// the worker does; the returned function puts the runtime's handlers back.
func installRecovery(t testing.TB, guards ...hotcall.Guard) func() {
	t.Helper()
	if !hotcall.RecoveryAvailable() {
		t.Skipf("no fault recovery on %s", runtime.GOARCH)
	}
	h := hotcall.SetRecovery(libc(t, "raise"), syscall.Gettid(), guards...)
	if h == 0 {
		t.Fatal("SetRecovery returned no handler")
	}
	var saved [2]sigaction
	for i, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS} {
		rtSigaction(t, sig, nil, &saved[i])
		act := saved[i] // the runtime's restorer serves
		act.handler, act.flags = uint64(h), saSigInfo|saRestorer|saOnStack|saNoDefer
		rtSigaction(t, sig, &act, nil)
	}
	return func() {
		for i, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS} {
			rtSigaction(t, sig, &saved[i], nil)
		}
	}
}

func rtSigaction(t testing.TB, sig syscall.Signal, act, old *sigaction) {
	t.Helper()
	if _, _, e := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0); e != 0 {
		t.Fatalf("rt_sigaction(%d): %v", sig, e)
	}
}

// dst is where memcpy copies to: C memory must not be on a goroutine stack.
var dst [1 << 14]byte

// depth recurses n frames, so that the goroutine's stack grows and is
// walked: a stack or frame pointer left wrong by a recovery shows here.
func depth(n int) int {
	if n == 0 {
		pcs := make([]uintptr, 64)
		return runtime.Callers(0, pcs)
	}
	var pad [64]byte
	pad[n%64] = byte(n)
	return depth(n-1) + int(pad[n%64]) - int(byte(n))
}

func TestDoRecoveringReturnsFromAnOverRead(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	page, guard := guarded(t)
	defer installRecovery(t, guard)()

	memcpy := libc(t, "memcpy")
	strtoul := libc(t, "strtoul")
	src := uintptr(unsafe.Pointer(&page[len(page)-16]))
	want := depth(100)
	for i := range 3 {
		// 16 bytes readable, 4096 asked for.
		c := hotcall.New(memcpy, uintptr(unsafe.Pointer(&dst[0])), src, 4096)
		ret, f, faulted := c.DoRecovering()
		if !faulted {
			t.Fatalf("round %d: memcpy past the guard returned %#x without a fault", i, ret)
		}
		if f.Signal != int(syscall.SIGSEGV) || f.Addr < guard.Lo || f.Addr >= guard.Hi {
			t.Errorf("round %d: fault %+v, want SIGSEGV in [%#x, %#x)", i, f, guard.Lo, guard.Hi)
		}
		// strtoul reads digits until a non-digit: a page of them has none
		// after it. It keeps state in callee-saved registers, which the
		// recovery must give back as the trampoline found them.
		for j := range page {
			page[j] = '7'
		}
		if _, f, faulted := hotcall.New(strtoul, uintptr(unsafe.Pointer(&page[0])), 0, 10).DoRecovering(); !faulted || f.Addr != guard.Lo {
			t.Errorf("round %d: strtoul over a page of digits: faulted %v at %#x, want the guard's first byte %#x", i, faulted, f.Addr, guard.Lo)
		}
		clear(page)

		// The same calls, within bounds, still work, recovering or not.
		page[len(page)-1] = 'x'
		if ret, _, faulted := hotcall.New(memcpy, uintptr(unsafe.Pointer(&dst[0])), src, 16).DoRecovering(); faulted || ret != uintptr(unsafe.Pointer(&dst[0])) {
			t.Errorf("round %d: memcpy within bounds: faulted %v, returned %#x", i, faulted, ret)
		}
		if dst[15] != 'x' {
			t.Errorf("round %d: memcpy within bounds did not copy", i)
		}
		abs := hotcall.New(libc(t, "labs"), ^uintptr(41))
		if got := int64(abs.Do()); got != 42 {
			t.Errorf("round %d: labs(-42) after a recovery = %d", i, got)
		}
		if got := depth(100); got != want {
			t.Errorf("round %d: a deep stack after a recovery shows %d frames, before %d", i, got, want)
		}
		runtime.GC()
	}
}

// A fault deep in C, in a leaf called by a function that keeps its state
// in callee-saved registers (snprintf's "%s" of a string without its NUL:
// strlen runs into the guard), still returns with every callee-saved
// register as the caller had it.
func TestRecoveryGivesRegistersBack(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	page, guard := guarded(t)
	defer installRecovery(t, guard)()
	for i := range page {
		page[i] = 'a'
	}
	snprintf := libc(t, "snprintf")
	percentS := []byte("%s\x00")
	c := hotcall.New(snprintf, uintptr(unsafe.Pointer(&dst[0])), uintptr(len(dst)),
		uintptr(unsafe.Pointer(&percentS[0])), uintptr(unsafe.Pointer(&page[len(page)-8])))
	lost, faulted := hotcall.RegistersLost(c)
	if !faulted {
		t.Fatal("snprintf of an unterminated string did not fault")
	}
	if lost != 0 {
		t.Errorf("%d callee-saved registers lost in the recovery", lost)
	}
	// And a call that returns gives them back too.
	page[len(page)-1] = 0
	if lost, faulted := hotcall.RegistersLost(c); faulted || lost != 0 {
		t.Errorf("returning call: faulted %v, %d registers lost", faulted, lost)
	}
	runtime.KeepAlive(percentS)
}

// The faults recovery must not take: each ends a child process (this test
// binary again) by SIGSEGV, where the process would have survived had the
// handler recovered it.
func TestUnrecoverableFaultsStillKill(t *testing.T) {
	if !hotcall.RecoveryAvailable() {
		t.Skipf("no fault recovery on %s", runtime.GOARCH)
	}
	if mode := os.Getenv("HOTCALL_FAULT_CHILD"); mode != "" {
		faultChild(t, mode)
		return
	}
	for _, mode := range []string{"other-address", "not-recovering", "write", "survives"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestUnrecoverableFaultsStillKill$", "-test.count=1")
			cmd.Env = append(os.Environ(), "HOTCALL_FAULT_CHILD="+mode)
			out, err := cmd.CombinedOutput()
			if mode == "survives" {
				// The control: the same child, recovering, exits 0.
				if err != nil {
					t.Fatalf("the recovering child failed: %v\n%s", err, out)
				}
				return
			}
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGSEGV {
				t.Fatalf("child %s: %v, want killed by SIGSEGV\n%s", mode, err, out)
			}
		})
	}
}

func faultChild(t *testing.T, mode string) {
	runtime.LockOSThread()
	page, guard := guarded(t)
	other, otherGuard := guarded(t)
	memcpy := libc(t, "memcpy")
	over := hotcall.New(memcpy, uintptr(unsafe.Pointer(&dst[0])), uintptr(unsafe.Pointer(&page[len(page)-16])), 4096)
	switch mode {
	case "other-address":
		// Only the other region's guard is registered.
		installRecovery(t, otherGuard)
		over.DoRecovering()
	case "not-recovering":
		installRecovery(t, guard)
		over.Do()
	case "write":
		// A write into the guard changes memory up to it: not recovered.
		installRecovery(t, guard)
		hotcall.New(memcpy, uintptr(unsafe.Pointer(&page[len(page)-16])), uintptr(unsafe.Pointer(&dst[0])), 4096).DoRecovering()
	case "survives":
		installRecovery(t, guard)
		if _, _, faulted := over.DoRecovering(); !faulted {
			t.Fatal("no fault")
		}
		_ = other
		return
	}
	t.Fatalf("%s: still running after the fault", mode)
}
