package worker

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/ebitengine/purego"
)

// addr turns a C address into a pointer without the uintptr→Pointer
// conversion vet rightly distrusts: the memory is C memory, never moved by Go.
func addr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

func cbytes(p uintptr, n int) []byte { return unsafe.Slice((*byte)(addr(p)), n) }

// libc holds the C library functions the worker calls.
type libc struct {
	malloc, free, errnoLocation, mallinfo2, memcpy uintptr
}

// host holds the libslurmfull functions the worker calls.
type host struct {
	initBuf, freeBuf, xcalloc, xfree, confInit uintptr
}

func dlsym(handle uintptr, name string) uintptr {
	p, err := purego.Dlsym(handle, name)
	if err != nil {
		return 0
	}
	return p
}

func loadLibc() (*libc, error) {
	h, err := purego.Dlopen("libc.so.6", purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return nil, fmt.Errorf("load C library: %w", err)
	}
	c := &libc{
		malloc:        dlsym(h, "malloc"),
		free:          dlsym(h, "free"),
		errnoLocation: dlsym(h, "__errno_location"),
		mallinfo2:     dlsym(h, "mallinfo2"),
		memcpy:        dlsym(h, "memcpy"),
	}
	if c.malloc == 0 || c.free == 0 || c.errnoLocation == 0 {
		return nil, fmt.Errorf("C library lacks malloc, free or __errno_location")
	}
	return c, nil
}

func (c *libc) alloc(b []byte, extra int) uintptr {
	n := len(b) + extra
	if n == 0 {
		n = 1
	}
	p, _, _ := purego.SyscallN(c.malloc, uintptr(n))
	if p == 0 {
		return 0
	}
	dst := cbytes(p, n)
	copy(dst, b)
	clear(dst[len(b):])
	return p
}

// heap returns mallinfo2's uordblks and hblkhd. mallinfo2 returns a struct
// of ten size_t by value: on x86-64 the caller passes the result's address in
// rdi.
func (c *libc) heap() (inUse, mmapped uint64) {
	if c.mallinfo2 == 0 {
		return 0, 0
	}
	var mi [10]uint64
	purego.SyscallN(c.mallinfo2, uintptr(unsafe.Pointer(&mi[0])))
	return mi[7], mi[4]
}

func (h *host) xmalloc(n int) uintptr {
	file := []byte("plugincheck\x00")
	p, _, _ := purego.SyscallN(h.xcalloc, 1, uintptr(n), 1, 0,
		uintptr(unsafe.Pointer(&file[0])), 0, uintptr(unsafe.Pointer(&file[0])))
	return p
}

// xfreePtr frees an xmalloc'd block. Before 20.11 slurm_xfree took
// (void **, file, line, func); passing them to the one-argument form is
// harmless on x86-64.
func (h *host) xfreePtr(p uintptr) {
	file := []byte("plugincheck\x00")
	pp := p
	purego.SyscallN(h.xfree, uintptr(unsafe.Pointer(&pp)),
		uintptr(unsafe.Pointer(&file[0])), 0, uintptr(unsafe.Pointer(&file[0])))
}

// safeRead copies n bytes at p without faulting: process_vm_readv on our
// own pid returns EFAULT for unmapped memory instead of raising SIGSEGV.
func safeRead(p uintptr, n int) ([]byte, bool) {
	if n == 0 {
		return nil, p != 0
	}
	out := make([]byte, n)
	local := syscall.Iovec{Base: &out[0], Len: uint64(n)}
	remote := struct{ base, len uintptr }{p, uintptr(n)}
	r, _, errno := syscall.RawSyscall6(sysProcessVMReadv, uintptr(syscall.Getpid()),
		uintptr(unsafe.Pointer(&local)), 1, uintptr(unsafe.Pointer(&remote)), 1, 0)
	if errno != 0 || int(r) != n {
		return nil, false
	}
	return out, true
}

// safeCString reads a NUL-terminated string of at most max bytes, a page at
// a time so a string near the end of a mapping still reads.
func safeCString(p uintptr, max int) ([]byte, bool) {
	if p == 0 {
		return nil, false
	}
	var out []byte
	for len(out) < max {
		chunk := 4096 - int((p+uintptr(len(out)))%4096)
		if chunk > max-len(out) {
			chunk = max - len(out)
		}
		b, ok := safeRead(p+uintptr(len(out)), chunk)
		if !ok {
			return out, len(out) > 0
		}
		for i, c := range b {
			if c == 0 {
				return append(out, b[:i]...), true
			}
		}
		out = append(out, b...)
	}
	return out, true
}

// sysProcessVMReadv is process_vm_readv(2) on x86-64.
const sysProcessVMReadv = 310
