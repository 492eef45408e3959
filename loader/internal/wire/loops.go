package wire

// The requests that run loops inside the worker (cycles, bench) and their
// results.

import "math/bits"

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
