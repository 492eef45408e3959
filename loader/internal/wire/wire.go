// Package wire is the protocol between the plugincheck parent and its worker
// process: length-prefixed frames of little-endian fields, one request and one
// response at a time.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
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

// AuthCycles describes a loop of auth cycles. Symbol fields are indices in
// the worker's symbol table; -1 when the generation lacks the function.
type AuthCycles struct {
	Threads    uint8
	Iterations uint32
	Protocol   uint16
	AuthInfo   []byte
	Data       []byte
	// Create4 is set for the four-argument create.
	Create4                                      bool
	Create, Pack, Unpack, Verify, GetUID, GetGID int16
	GetIDs, Destroy                              int16
}

func (a *AuthCycles) Encode(e *Encoder) {
	e.U8(a.Threads)
	e.U32(a.Iterations)
	e.U16(a.Protocol)
	e.Blob(a.AuthInfo)
	e.Blob(a.Data)
	if a.Create4 {
		e.U8(1)
	} else {
		e.U8(0)
	}
	for _, v := range []int16{a.Create, a.Pack, a.Unpack, a.Verify, a.GetUID, a.GetGID, a.GetIDs, a.Destroy} {
		e.U16(uint16(v))
	}
}

func (a *AuthCycles) Decode(d *Decoder) {
	a.Threads, a.Iterations, a.Protocol = d.U8(), d.U32(), d.U16()
	a.AuthInfo, a.Data = d.Blob(), d.Blob()
	a.Create4 = d.U8() == 1
	for _, p := range []*int16{&a.Create, &a.Pack, &a.Unpack, &a.Verify, &a.GetUID, &a.GetGID, &a.GetIDs, &a.Destroy} {
		*p = int16(d.U16())
	}
}

// AuthCyclesResult is what a loop of cycles did.
type AuthCyclesResult struct {
	Completed, Failed uint32
	// FirstFailure describes the first failed step ("verify returned -1,
	// errno 6000 (thread 2, cycle 17)").
	FirstFailure string
	// HeapBefore and HeapAfter are the C heap in use around the loop.
	HeapBefore, HeapAfter uint64
	// UID and GID are what the last successful cycle reported.
	UID, GID uint32
}

func (r *AuthCyclesResult) Encode(e *Encoder) {
	e.U32(r.Completed)
	e.U32(r.Failed)
	e.String(r.FirstFailure)
	e.U64(r.HeapBefore)
	e.U64(r.HeapAfter)
	e.U32(r.UID)
	e.U32(r.GID)
}

func (r *AuthCyclesResult) Decode(d *Decoder) {
	r.Completed, r.Failed, r.FirstFailure = d.U32(), d.U32(), d.String()
	r.HeapBefore, r.HeapAfter = d.U64(), d.U64()
	r.UID, r.GID = d.U32(), d.U32()
}

// CredCycles describes a loop of sign and verify_sign calls with keys the
// worker already holds.
type CredCycles struct {
	Threads      uint8
	Iterations   uint32
	PrivKey      uint64
	PubKey       uint64
	Data         []byte
	Sign, Verify int16
	// ReplayArg is set when verify_sign takes replay_okay (passed as true:
	// the loop measures signing and verifying, not replay protection).
	ReplayArg bool
}

func (c *CredCycles) Encode(e *Encoder) {
	e.U8(c.Threads)
	e.U32(c.Iterations)
	e.U64(c.PrivKey)
	e.U64(c.PubKey)
	e.Blob(c.Data)
	e.U16(uint16(c.Sign))
	e.U16(uint16(c.Verify))
	if c.ReplayArg {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

func (c *CredCycles) Decode(d *Decoder) {
	c.Threads, c.Iterations = d.U8(), d.U32()
	c.PrivKey, c.PubKey = d.U64(), d.U64()
	c.Data = d.Blob()
	c.Sign, c.Verify = int16(d.U16()), int16(d.U16())
	c.ReplayArg = d.U8() == 1
}

// Cred2Cycles describes a loop of 23.11+ cred_p_create and cred_p_unpack
// calls on an argument structure already in the worker. Symbol fields are
// indices in the worker's symbol table; the offsets are those of
// slurm_cred_t's buffer and verified members in the plugin's release.
type Cred2Cycles struct {
	Threads                 uint8
	Iterations              uint32
	Arg                     uint64 // slurm_cred_arg_t *
	Protocol                uint16
	Create, Unpack, Destroy int16
	BufferOff, VerifiedOff  uint32
	// Verify is set when the unpacked credential must come out verified
	// (the worker runs as slurmd).
	Verify bool
}

func (c *Cred2Cycles) Encode(e *Encoder) {
	e.U8(c.Threads)
	e.U32(c.Iterations)
	e.U64(c.Arg)
	e.U16(c.Protocol)
	e.U16(uint16(c.Create))
	e.U16(uint16(c.Unpack))
	e.U16(uint16(c.Destroy))
	e.U32(c.BufferOff)
	e.U32(c.VerifiedOff)
	if c.Verify {
		e.U8(1)
	} else {
		e.U8(0)
	}
}

func (c *Cred2Cycles) Decode(d *Decoder) {
	c.Threads, c.Iterations, c.Arg, c.Protocol = d.U8(), d.U32(), d.U64(), d.U16()
	c.Create, c.Unpack, c.Destroy = int16(d.U16()), int16(d.U16()), int16(d.U16())
	c.BufferOff, c.VerifiedOff = d.U32(), d.U32()
	c.Verify = d.U8() == 1
}

// Bench kinds.
const (
	// BenchAuth times create → pack → unpack → verify → ids → destroy both.
	BenchAuth uint8 = iota + 1
	// BenchCred times sign → verify_sign → xfree.
	BenchCred
	// BenchNoop times a C function that does nothing (labs): what one call
	// through the worker's calling path costs.
	BenchNoop
)

// Bench describes one timed run of cycles inside the worker. Symbol fields
// are indices in the worker's symbol table, -1 when absent.
type Bench struct {
	Kind uint8
	// Steps times every call of the cycle, not only whole cycles (each
	// clock reading adds to the cycle's time).
	Steps    bool
	Threads  uint8
	Duration uint64 // nanoseconds
	Protocol uint16
	AuthInfo []byte
	Data     []byte
	Create4  bool
	// Auth functions.
	Create, Pack, Unpack, Verify, GetUID, GetGID, GetIDs, Destroy int16
	// Cred functions and the keys the worker holds.
	Sign, VerifySign int16
	PrivKey, PubKey  uint64
	ReplayArg        bool
	// Purego calls through purego.SyscallN instead of the worker's hot-loop
	// path (loader/internal/hotcall): the comparison the report prints.
	Purego bool
}

func (b *Bench) Encode(e *Encoder) {
	e.U8(b.Kind)
	e.U8(b2u8(b.Steps))
	e.U8(b.Threads)
	e.U64(b.Duration)
	e.U16(b.Protocol)
	e.Blob(b.AuthInfo)
	e.Blob(b.Data)
	e.U8(b2u8(b.Create4))
	for _, v := range []int16{b.Create, b.Pack, b.Unpack, b.Verify, b.GetUID, b.GetGID, b.GetIDs, b.Destroy, b.Sign, b.VerifySign} {
		e.U16(uint16(v))
	}
	e.U64(b.PrivKey)
	e.U64(b.PubKey)
	e.U8(b2u8(b.ReplayArg))
	e.U8(b2u8(b.Purego))
}

func (b *Bench) Decode(d *Decoder) {
	b.Kind, b.Steps, b.Threads = d.U8(), d.U8() == 1, d.U8()
	b.Duration, b.Protocol = d.U64(), d.U16()
	b.AuthInfo, b.Data = d.Blob(), d.Blob()
	b.Create4 = d.U8() == 1
	for _, p := range []*int16{&b.Create, &b.Pack, &b.Unpack, &b.Verify, &b.GetUID, &b.GetGID, &b.GetIDs, &b.Destroy, &b.Sign, &b.VerifySign} {
		*p = int16(d.U16())
	}
	b.PrivKey, b.PubKey = d.U64(), d.U64()
	b.ReplayArg = d.U8() == 1
	b.Purego = d.U8() == 1
}

func b2u8(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// Latency histograms: HistSub linear steps per power of two (about 3 %
// wide), values in nanoseconds. bench-native.c uses the same buckets.
const (
	histSubBits = 5
	// HistBuckets is the number of buckets.
	HistBuckets = 64 << histSubBits
)

// HistBucket is the bucket of v.
func HistBucket(v uint64) int {
	if v < 1<<histSubBits {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - histSubBits
	return (shift+1)<<histSubBits | int(v>>shift)&(1<<histSubBits-1)
}

// HistValue is the middle of bucket b.
func HistValue(b int) uint64 {
	if b < 1<<histSubBits {
		return uint64(b)
	}
	shift := b>>histSubBits - 1
	m := uint64(b&(1<<histSubBits-1)) | 1<<histSubBits
	return m<<shift + (1<<shift)>>1
}

// BenchStep is the timing of one call of the cycle ("create", …) or of the
// whole cycle ("cycle"), over every thread.
type BenchStep struct {
	Name            string
	Count, Sum, Max uint64 // calls, total and longest nanoseconds
	Hist            []uint64
}

// BenchResult is what one timed run did.
type BenchResult struct {
	Cycles, Failed uint64
	FirstFailure   string
	Wall           uint64 // nanoseconds from start to the last thread's end
	Steps          []BenchStep
}

func (r *BenchResult) Encode(e *Encoder) {
	e.U64(r.Cycles)
	e.U64(r.Failed)
	e.String(r.FirstFailure)
	e.U64(r.Wall)
	e.U8(uint8(len(r.Steps)))
	for _, s := range r.Steps {
		e.String(s.Name)
		e.U64(s.Count)
		e.U64(s.Sum)
		e.U64(s.Max)
		n := 0
		for _, c := range s.Hist {
			if c != 0 {
				n++
			}
		}
		e.U16(uint16(n))
		for i, c := range s.Hist {
			if c != 0 {
				e.U16(uint16(i))
				e.U64(c)
			}
		}
	}
}

func (r *BenchResult) Decode(d *Decoder) {
	r.Cycles, r.Failed, r.FirstFailure, r.Wall = d.U64(), d.U64(), d.String(), d.U64()
	n := int(d.U8())
	if !d.fits(n, 4+3*8+2) {
		return
	}
	r.Steps = make([]BenchStep, n)
	for i := range r.Steps {
		s := &r.Steps[i]
		s.Name, s.Count, s.Sum, s.Max = d.String(), d.U64(), d.U64(), d.U64()
		s.Hist = make([]uint64, HistBuckets)
		for n := int(d.U16()); n > 0 && d.Err() == nil; n-- {
			if b := int(d.U16()); b < HistBuckets {
				s.Hist[b] = d.U64()
			} else {
				d.fail()
			}
		}
	}
}

// Fuzz targets: the function each execution calls.
const (
	FuzzAuthUnpack   uint8 = iota + 1 // auth unpack(buf, protocol), then destroy
	FuzzCredUnpack                    // cred_p_unpack(buf, protocol); the result is not freed
	FuzzSbcastUnpack                  // sbcast_p_unpack(buf, verify[, shared_object], protocol); the result is not freed
	FuzzVerifySign                    // cred_p_verify_sign(key, buffer, size, signature, size[, true])
)

// Fuzz modes.
const (
	// FuzzMutate runs Count executions of inputs mutated from the corpus
	// (Inputs are added to it first).
	FuzzMutate uint8 = iota
	// FuzzReplay runs each of Inputs Count times, as given.
	FuzzReplay
)

// FuzzInput is one input: the bytes unpack reads and the protocol version
// it is called with. For FuzzVerifySign the bytes are a u32 big-endian
// buffer length, the buffer, then the signature.
type FuzzInput struct {
	Protocol uint16
	Data     []byte
}

// The status file a fuzzing worker keeps up to date in shared memory, so
// that the parent knows which input was running when the worker died or
// hung, and how many executions it has done.
const (
	FuzzStatusExecs    = 0  // u64 executions finished in this request
	FuzzStatusPhase    = 8  // u8: 1 in the target function, 2 in its destructor
	FuzzStatusProtocol = 10 // u16
	FuzzStatusLen      = 12 // u32 length of the input
	FuzzStatusInput    = 16 // the input's bytes
	// FuzzPhaseCall and FuzzPhaseDestroy are the values of the phase byte.
	FuzzPhaseCall    = 1
	FuzzPhaseDestroy = 2
)

// Fuzz is one batch of executions. Fn and Destroy are symbol indices (-1:
// none).
type Fuzz struct {
	Target, Mode uint8
	Fn, Destroy  int16
	// Protocols are the versions mutated inputs are unpacked with.
	Protocols []uint16
	// Key is verify_sign's public key, held by the worker.
	Key uint64
	// Arity is how many parameters Fn takes, where a generation's form of
	// it differs (verify_sign with replay_okay: 6; sbcast_p_unpack with
	// shared_object: 4).
	Arity uint8
	// StatusPath is the status file (FuzzStatus*), at least
	// FuzzStatusInput+MaxLen bytes.
	StatusPath string
	Seed       uint64
	Count      uint32
	MaxLen     uint32
	// HeapLimit ends a mutation batch when the C heap in use grew more than
	// this since the worker's first batch (0: no bound).
	HeapLimit uint64
	// Measure reports, in replay mode, how much each input grew the heap.
	Measure bool
	Inputs  []FuzzInput
}

func encodeInputs(e *Encoder, in []FuzzInput) {
	e.U32(uint32(len(in)))
	for _, x := range in {
		e.U16(x.Protocol)
		e.Blob(x.Data)
	}
}

func decodeInputs(d *Decoder) []FuzzInput {
	n := int(d.U32())
	if !d.fits(n, 6) {
		return nil
	}
	out := make([]FuzzInput, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, FuzzInput{Protocol: d.U16(), Data: d.Blob()})
	}
	return out
}

func (f *Fuzz) Encode(e *Encoder) {
	e.U8(f.Target)
	e.U8(f.Mode)
	e.U16(uint16(f.Fn))
	e.U16(uint16(f.Destroy))
	e.U8(uint8(len(f.Protocols)))
	for _, p := range f.Protocols {
		e.U16(p)
	}
	e.U64(f.Key)
	e.U8(f.Arity)
	e.String(f.StatusPath)
	e.U64(f.Seed)
	e.U32(f.Count)
	e.U32(f.MaxLen)
	e.U64(f.HeapLimit)
	e.U8(b2u8(f.Measure))
	encodeInputs(e, f.Inputs)
}

func (f *Fuzz) Decode(d *Decoder) {
	f.Target, f.Mode = d.U8(), d.U8()
	f.Fn, f.Destroy = int16(d.U16()), int16(d.U16())
	f.Protocols = make([]uint16, d.U8())
	for i := range f.Protocols {
		f.Protocols[i] = d.U16()
	}
	f.Key, f.Arity = d.U64(), d.U8()
	f.StatusPath = d.String()
	f.Seed, f.Count, f.MaxLen, f.HeapLimit = d.U64(), d.U32(), d.U32(), d.U64()
	f.Measure = d.U8() == 1
	f.Inputs = decodeInputs(d)
}

// FuzzResult is what a batch did.
type FuzzResult struct {
	Execs    uint64
	Accepted uint64 // executions where unpack returned a credential (verify_sign: 0)
	// New are inputs whose outcome (result, errno, bytes consumed) no
	// earlier input of this worker had.
	New []FuzzInput
	// HeapBase is the C heap in use at the worker's first batch, Heap now.
	HeapBase, Heap uint64
	// HeapExceeded: the batch stopped because the heap grew beyond
	// HeapLimit; Leak is the recent input that grew it most (LeakBytes).
	HeapExceeded bool
	Leak         FuzzInput
	LeakBytes    int64
	// Growth is each replayed input's heap growth (Measure).
	Growth []int64
}

func (r *FuzzResult) Encode(e *Encoder) {
	e.U64(r.Execs)
	e.U64(r.Accepted)
	encodeInputs(e, r.New)
	e.U64(r.HeapBase)
	e.U64(r.Heap)
	e.U8(b2u8(r.HeapExceeded))
	e.U16(r.Leak.Protocol)
	e.Blob(r.Leak.Data)
	e.U64(uint64(r.LeakBytes))
	e.U32(uint32(len(r.Growth)))
	for _, g := range r.Growth {
		e.U64(uint64(g))
	}
}

func (r *FuzzResult) Decode(d *Decoder) {
	r.Execs, r.Accepted = d.U64(), d.U64()
	r.New = decodeInputs(d)
	r.HeapBase, r.Heap = d.U64(), d.U64()
	r.HeapExceeded = d.U8() == 1
	r.Leak = FuzzInput{Protocol: d.U16(), Data: d.Blob()}
	r.LeakBytes = int64(d.U64())
	n := int(d.U32())
	if !d.fits(n, 8) {
		return
	}
	r.Growth = make([]int64, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		r.Growth = append(r.Growth, int64(d.U64()))
	}
}
