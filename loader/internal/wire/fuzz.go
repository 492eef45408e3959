package wire

// The fuzzing request, its result and the status file a fuzzing worker
// keeps.

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

func encodeInput(e *Encoder, x FuzzInput) {
	e.U16(x.Protocol)
	e.Blob(x.Data)
}

func decodeInput(d *Decoder) FuzzInput {
	return FuzzInput{Protocol: d.U16(), Data: d.Blob()}
}

func encodeInputs(e *Encoder, in []FuzzInput) {
	e.U32(uint32(len(in)))
	for _, x := range in {
		encodeInput(e, x)
	}
}

func decodeInputs(d *Decoder) []FuzzInput {
	n := int(d.U32())
	if !d.fits(n, 6) {
		return nil
	}
	out := make([]FuzzInput, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		out = append(out, decodeInput(d))
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

// FuzzFault is an execution of a mutation batch that read past its input
// into the guard page after it, and that the worker recovered from without
// ending (worker and hotcall say when it can).
type FuzzFault struct {
	Input  FuzzInput
	Signal uint8 // SIGSEGV or SIGBUS
	Phase  uint8 // FuzzPhaseCall: the only phase recovered
	// Region is what the read ran past: FuzzRegionInput, or for
	// FuzzVerifySign the buffer or the signature.
	Region uint8
	// Past is how far past the region's last byte the read faulted (0:
	// the first byte of the guard page).
	Past uint32
}

// Regions a FuzzFault reads past.
const (
	FuzzRegionInput     = 0 // unpack's input; verify_sign's buffer
	FuzzRegionSignature = 1 // verify_sign's signature
)

// MaxFuzzFaults bounds the recovered faults of one batch: the batch ends
// at the next one.
const MaxFuzzFaults = 64

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
	// Faults are the executions the worker recovered from, in order (at
	// most MaxFuzzFaults).
	Faults []FuzzFault
	// FaultHeap is what the heap grew by around the worker's recovered
	// faults (what the plugin allocated before faulting, never freed), a
	// part of Heap-HeapBase, by which the worker lifted its address-space
	// bound; past FaultBudget it can lift it no further, and is to be
	// retired.
	FaultHeap, FaultBudget uint64
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
	e.U32(uint32(len(r.Faults)))
	for _, f := range r.Faults {
		encodeInput(e, f.Input)
		e.U8(f.Signal)
		e.U8(f.Phase)
		e.U8(f.Region)
		e.U32(f.Past)
	}
	e.U64(r.FaultHeap)
	e.U64(r.FaultBudget)
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
	n = int(d.U32())
	if !d.fits(n, 13) {
		return
	}
	r.Faults = make([]FuzzFault, 0, n)
	for i := 0; i < n && d.Err() == nil; i++ {
		f := FuzzFault{Input: decodeInput(d)}
		f.Signal, f.Phase, f.Region, f.Past = d.U8(), d.U8(), d.U8(), d.U32()
		r.Faults = append(r.Faults, f)
	}
	r.FaultHeap, r.FaultBudget = d.U64(), d.U64()
}
