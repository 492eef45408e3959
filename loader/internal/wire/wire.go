// Package wire is the protocol between the plugincheck parent and its worker
// process: length-prefixed frames of little-endian fields, one request and one
// response at a time.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Op is a request type.
type Op uint8

const (
	// OpCall calls a resolved symbol: u16 symbol index, u8 argument count,
	// then each Arg. Response: u64 return (rax), u64 rdx, i32 errno,
	// u64 mask of signals whose disposition the call changed (and the worker
	// restored), u64 nanoseconds, u8 count of out-arguments, each as bytes.
	OpCall Op = iota + 1
	// OpAlloc copies bytes into C memory: u8 Allocator, bytes. Response: u64 pointer.
	OpAlloc
	// OpRead copies C memory out without faulting: u64 pointer, u32 length.
	// Response: u8 ok, bytes.
	OpRead
	// OpCString reads a NUL-terminated string: u64 pointer, u32 max.
	// Response: u8 ok (0 = unreadable), bytes (without the NUL).
	OpCString
	// OpFree releases C memory: u8 Allocator, u64 pointer.
	OpFree
	// OpNewBuf makes a buf_t: u8 BufKind, u32 capacity, bytes. Response: u64 buf.
	OpNewBuf
	// OpBufData reads a buf_t: u64 buf. Response: u32 magic, u32 size,
	// u32 processed, bytes head[0:processed].
	OpBufData
	// OpSetOffset sets buf->processed: u64 buf, u32 offset.
	OpSetOffset
	// OpFreeBuf frees a buf_t made by OpNewBuf: u64 buf.
	OpFreeBuf
	// OpHeap reports C heap in use (mallinfo2): response u64 uordblks, u64 hblkhd.
	OpHeap
	// OpXmallocInfo reads the xmalloc header before a pointer: u64 pointer.
	// Response: u8 readable, u64 magic word, u64 size word.
	OpXmallocInfo
	// OpExit ends the worker with status 0 without running C exit handlers.
	OpExit
	// OpAuthCycles runs full auth cycles (create, pack, unpack, verify, ids,
	// destroy) inside the worker, on several OS threads at once: an
	// AuthCycles request. Response: an AuthCyclesResult.
	OpAuthCycles
	// OpReload unloads the plugin (dlclose) and loads it again (dlopen),
	// then looks its symbols up anew. Response: u8 still-mapped-after-dlclose,
	// u16 count, u64 address of each symbol.
	OpReload
	// OpCredCycles runs sign → verify_sign → xfree loops inside the worker:
	// a CredCycles request. Response: an AuthCyclesResult (ids unused).
	OpCredCycles
	// OpBench times credential cycles (or single calls) inside the worker
	// for a while, on several OS threads at once: a Bench request.
	// Response: a BenchResult.
	OpBench
	// OpFuzz runs a batch of unpack (or verify_sign) executions on mutated
	// or given inputs inside the worker: a Fuzz request. Response: a
	// FuzzResult.
	OpFuzz
	// OpWrite stores bytes into C memory, as the framework writes into
	// plugin structures (the auth index): u64 pointer, bytes.
	OpWrite
	// OpCred2Cycles runs 23.11+ cred_p_create → copy of the packed
	// credential → cred_p_unpack → destroy loops inside the worker: a
	// Cred2Cycles request. Response: an AuthCyclesResult (ids unused).
	OpCred2Cycles
)

var opNames = [...]string{"", "call", "alloc", "read", "cstring", "free", "newbuf", "bufdata", "setoffset", "freebuf", "heap", "xmallocinfo", "exit", "authcycles", "reload", "credcycles", "bench", "fuzz", "write", "cred2cycles"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op(%d)", o)
}

// Allocator says how C memory is obtained and released.
type Allocator uint8

const (
	Malloc  Allocator = iota // malloc/free
	Xmalloc                  // the host's slurm_xcalloc/slurm_xfree
)

// BufKind says how OpNewBuf builds a buffer.
type BufKind uint8

const (
	// BufGrowable is init_buf(capacity) with the bytes already packed:
	// processed = len(bytes). For pack.
	BufGrowable BufKind = iota
	// BufGuarded holds exactly the bytes, ending at an unmapped page so an
	// over-read faults; processed = 0. For unpack; must not grow.
	BufGuarded
)

// ArgKind is the kind of one call argument.
type ArgKind uint8

const (
	ArgInt     ArgKind = iota + 1 // u64 passed as is
	ArgBytes                      // bytes copied to malloc'd memory for the call
	ArgCString                    // bytes + NUL copied to malloc'd memory for the call
	ArgOut                        // u32 size: zeroed scratch memory, returned after the call
	ArgGuarded                    // bytes placed so their end touches an unmapped page
)

// Status is the first byte of every response.
type Status uint8

const (
	OK      Status = 0
	Failed  Status = 1 // followed by a message
	Hello   Status = 2 // the worker's first frame
	Clobber Status = 3 // the call closed or replaced descriptors the worker relies on
)

// MaxFrame bounds a frame so a corrupt length cannot make either side
// allocate without limit.
const MaxFrame = 256 << 20

// ErrFrame reports a malformed frame.
var ErrFrame = errors.New("malformed frame")

// Encoder appends fields to a frame body.
type Encoder struct{ b []byte }

func (e *Encoder) Reset()          { e.b = e.b[:0] }
func (e *Encoder) Bytes() []byte   { return e.b }
func (e *Encoder) U8(v uint8)      { e.b = append(e.b, v) }
func (e *Encoder) U16(v uint16)    { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *Encoder) U32(v uint32)    { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *Encoder) U64(v uint64)    { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *Encoder) I32(v int32)     { e.U32(uint32(v)) }
func (e *Encoder) Blob(b []byte)   { e.U32(uint32(len(b))); e.b = append(e.b, b...) }
func (e *Encoder) String(s string) { e.U32(uint32(len(s))); e.b = append(e.b, s...) }

// Decoder reads fields from a frame body. After the first short read every
// field is zero and Err reports ErrFrame.
type Decoder struct {
	b   []byte
	err error
}

func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

func (d *Decoder) Err() error { return d.err }

func (d *Decoder) take(n int) []byte {
	if d.err != nil || n < 0 || len(d.b) < n {
		d.fail()
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *Decoder) U8() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (d *Decoder) U16() uint16 {
	if b := d.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (d *Decoder) U32() uint32 {
	if b := d.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (d *Decoder) U64() uint64 {
	if b := d.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (d *Decoder) I32() int32 { return int32(d.U32()) }

// fail marks the frame malformed: every later field reads as zero.
func (d *Decoder) fail() { d.err = ErrFrame }

// fits reports whether n items of at least size bytes each can still be in
// the frame, and marks it malformed when not: a count read from a frame
// must not make the reader allocate more than the frame could describe.
func (d *Decoder) fits(n, size int) bool {
	if d.err != nil || n < 0 || n > len(d.b)/size {
		d.fail()
		return false
	}
	return true
}

// Blob returns a length-prefixed byte string, aliasing the frame.
func (d *Decoder) Blob() []byte { return d.take(int(d.U32())) }

func (d *Decoder) String() string { return string(d.Blob()) }

// WriteFrame writes one frame: u32 length, then body.
func WriteFrame(w io.Writer, body []byte) error {
	frame := make([]byte, 4+len(body))
	binary.LittleEndian.PutUint32(frame, uint32(len(body)))
	copy(frame[4:], body)
	_, err := w.Write(frame)
	return err
}

// ReadFrame reads one frame body into buf (grown as needed).
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: length %d", ErrFrame, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}
