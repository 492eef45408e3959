package hotcall_test

import (
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
)

func libc(t testing.TB, name string) uintptr {
	t.Helper()
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := purego.Dlsym(h, name)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// C writes and reads these through integers: they must not be on a
// goroutine stack, which moves when it grows.
var (
	buf    [64]byte
	format = []byte("%ld %ld %ld\x00")
)

func TestCallPassesEveryRegister(t *testing.T) {
	for name, mk := range map[string]func(uintptr, ...uintptr) *hotcall.Call{"New": hotcall.New, "NewPurego": hotcall.NewPurego} {
		abs := mk(libc(t, "labs"), ^uintptr(41))
		if got := int64(abs.Do()); got != 42 {
			t.Errorf("%s: labs(-42) = %d", name, got)
		}
		abs.Args[0] = 7
		if got := abs.Do(); got != 7 {
			t.Errorf("%s: labs(7) after changing Args = %d", name, got)
		}
		// snprintf takes all six argument registers, and is variadic: it
		// reads AL for the number of vector registers.
		printf := mk(libc(t, "snprintf"), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
			uintptr(unsafe.Pointer(&format[0])), 3, ^uintptr(3), 5)
		n := printf.Do()
		if got, want := string(buf[:n]), "3 -4 5"; got != want {
			t.Errorf("%s: snprintf wrote %q, want %q", name, got, want)
		}
	}
}

func TestNewRejectsMisuse(t *testing.T) {
	for name, mk := range map[string]func(){
		"nil fn":          func() { hotcall.New(0) },
		"seven arguments": func() { hotcall.New(1, 1, 2, 3, 4, 5, 6, 7) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			mk()
		}()
	}
}

// BenchmarkDo compares one call of a C function that does nothing on the
// two paths.
func BenchmarkDo(b *testing.B) {
	labs := libc(b, "labs")
	for name, mk := range map[string]func(uintptr, ...uintptr) *hotcall.Call{"hotcall": hotcall.New, "purego.SyscallN": hotcall.NewPurego} {
		b.Run(name, func(b *testing.B) {
			c := mk(labs, 1)
			for b.Loop() {
				c.Do()
			}
		})
	}
}
