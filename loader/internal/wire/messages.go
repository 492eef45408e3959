package wire

// The messages of the simple requests, and the worker's hello. Each type
// encodes its own body and decodes it back, so that the parent and the
// worker read one definition instead of mirroring fields by hand.

// Request is a request body with its op.
type Request interface {
	Op() Op
	Encode(e *Encoder)
}

// Response is a response body after its OK status.
type Response interface {
	Decode(d *Decoder)
}

// Request resets e and writes r's op and body: the whole body of one
// request frame.
func (e *Encoder) Request(r Request) []byte {
	e.Reset()
	e.U8(uint8(r.Op()))
	r.Encode(e)
	return e.b
}

// MaxCallArgs bounds the arguments of one OpCall: no Slurm plugin function
// takes more, and the worker keeps them in a fixed array.
const MaxCallArgs = 16

// Arg is one argument of a Call.
type Arg struct {
	Kind ArgKind
	// Value is the integer of ArgInt and the size of ArgOut.
	Value uint64
	// Data is the bytes of ArgBytes, ArgCString and ArgGuarded.
	Data []byte
}

// Call calls the resolved symbol Sym with Args.
type Call struct {
	Sym  uint16
	Args []Arg
}

func (*Call) Op() Op { return OpCall }

func (c *Call) Encode(e *Encoder) {
	e.U16(c.Sym)
	e.U8(uint8(len(c.Args)))
	for _, a := range c.Args {
		e.U8(uint8(a.Kind))
		switch a.Kind {
		case ArgInt:
			e.U64(a.Value)
		case ArgBytes, ArgCString, ArgGuarded:
			e.Blob(a.Data)
		case ArgOut:
			e.U32(uint32(a.Value))
		}
	}
}

// Decode reads a call into c, reusing c.Args; Data aliases the frame.
func (c *Call) Decode(d *Decoder) {
	c.Sym = d.U16()
	n := int(d.U8())
	if n > MaxCallArgs {
		d.fail()
		return
	}
	c.Args = c.Args[:0]
	for i := 0; i < n && d.Err() == nil; i++ {
		a := Arg{Kind: ArgKind(d.U8())}
		switch a.Kind {
		case ArgInt:
			a.Value = d.U64()
		case ArgBytes, ArgCString, ArgGuarded:
			a.Data = d.Blob()
		case ArgOut:
			a.Value = uint64(d.U32())
		default:
			d.fail()
		}
		c.Args = append(c.Args, a)
	}
}

// CallResult is what one call did.
type CallResult struct {
	Ret, RDX uint64
	// Errno is errno after the call (cleared before it).
	Errno int32
	// SignalsChanged has bit sig-1 set for each signal whose disposition
	// the call replaced (the worker put the original back).
	SignalsChanged uint64
	Nanoseconds    uint64
	// Outs are the final contents of the ArgOut arguments, in order.
	Outs [][]byte
}

func (r *CallResult) Encode(e *Encoder) {
	e.U64(r.Ret)
	e.U64(r.RDX)
	e.I32(r.Errno)
	e.U64(r.SignalsChanged)
	e.U64(r.Nanoseconds)
	e.U8(uint8(len(r.Outs)))
	for _, o := range r.Outs {
		e.Blob(o)
	}
}

// Decode reads a call's result; Outs alias the frame.
func (r *CallResult) Decode(d *Decoder) {
	r.Ret, r.RDX, r.Errno = d.U64(), d.U64(), d.I32()
	r.SignalsChanged, r.Nanoseconds = d.U64(), d.U64()
	r.Outs = nil
	if n := int(d.U8()); n > 0 {
		r.Outs = make([][]byte, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			r.Outs = append(r.Outs, d.Blob())
		}
	}
}

// WorkerHello is the body of the worker's first frame, after its Hello
// status: its pid and the address of every symbol of its table (0 when
// absent).
type WorkerHello struct {
	Pid   uint32
	Addrs []uint64
}

func (h *WorkerHello) Encode(e *Encoder) {
	e.U32(h.Pid)
	encodeAddrs(e, h.Addrs)
}

func (h *WorkerHello) Decode(d *Decoder) {
	h.Pid = d.U32()
	h.Addrs = decodeAddrs(d)
}

func encodeAddrs(e *Encoder, addrs []uint64) {
	e.U16(uint16(len(addrs)))
	for _, a := range addrs {
		e.U64(a)
	}
}

func decodeAddrs(d *Decoder) []uint64 {
	n := int(d.U16())
	if !d.fits(n, 8) {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = d.U64()
	}
	return out
}

// Bare is a request that is its op alone: OpReload, OpHeap, OpExit.
type Bare Op

func (b Bare) Op() Op          { return Op(b) }
func (Bare) Encode(e *Encoder) {}

// AtAddress is a request about one address: OpBufData and OpFreeBuf (a
// buf_t), OpXmallocInfo (an xmalloc'd block).
type AtAddress struct {
	Of  Op
	Ptr uint64
}

func (a *AtAddress) Op() Op            { return a.Of }
func (a *AtAddress) Encode(e *Encoder) { e.U64(a.Ptr) }
func (a *AtAddress) Decode(d *Decoder) { a.Ptr = d.U64() }

// Reloaded is the response to OpReload: whether dlclose left the image
// mapped, and the symbol table anew.
type Reloaded struct {
	StillMapped bool
	Addrs       []uint64
}

func (r *Reloaded) Encode(e *Encoder) {
	e.U8(b2u8(r.StillMapped))
	encodeAddrs(e, r.Addrs)
}

func (r *Reloaded) Decode(d *Decoder) {
	r.StillMapped = d.U8() == 1
	r.Addrs = decodeAddrs(d)
}

// Alloc copies Data into C memory from How.
type Alloc struct {
	How  Allocator
	Data []byte
}

func (*Alloc) Op() Op { return OpAlloc }
func (a *Alloc) Encode(e *Encoder) {
	e.U8(uint8(a.How))
	e.Blob(a.Data)
}
func (a *Alloc) Decode(d *Decoder) { a.How, a.Data = Allocator(d.U8()), d.Blob() }

// Free releases Ptr to How.
type Free struct {
	How Allocator
	Ptr uint64
}

func (*Free) Op() Op { return OpFree }
func (f *Free) Encode(e *Encoder) {
	e.U8(uint8(f.How))
	e.U64(f.Ptr)
}
func (f *Free) Decode(d *Decoder) { f.How, f.Ptr = Allocator(d.U8()), d.U64() }

// Pointer is the response to Alloc and NewBuf.
type Pointer struct{ Ptr uint64 }

func (p *Pointer) Encode(e *Encoder) { e.U64(p.Ptr) }
func (p *Pointer) Decode(d *Decoder) { p.Ptr = d.U64() }

// Write stores Data at Ptr.
type Write struct {
	Ptr  uint64
	Data []byte
}

func (*Write) Op() Op { return OpWrite }
func (w *Write) Encode(e *Encoder) {
	e.U64(w.Ptr)
	e.Blob(w.Data)
}
func (w *Write) Decode(d *Decoder) { w.Ptr, w.Data = d.U64(), d.Blob() }

// Read copies Len bytes at Ptr (OpRead), or the NUL-terminated string at
// Ptr of at most Len bytes (OpCString, when String is set).
type Read struct {
	String bool
	Ptr    uint64
	Len    uint32
}

func (r *Read) Op() Op {
	if r.String {
		return OpCString
	}
	return OpRead
}
func (r *Read) Encode(e *Encoder) {
	e.U64(r.Ptr)
	e.U32(r.Len)
}
func (r *Read) Decode(d *Decoder) { r.Ptr, r.Len = d.U64(), d.U32() }

// Memory is the response to Read: OK is false when the memory was not
// readable.
type Memory struct {
	OK   bool
	Data []byte
}

func (m *Memory) Encode(e *Encoder) {
	e.U8(b2u8(m.OK))
	e.Blob(m.Data)
}
func (m *Memory) Decode(d *Decoder) { m.OK, m.Data = d.U8() == 1, d.Blob() }

// NewBuf makes a buf_t of Kind.
type NewBuf struct {
	Kind     BufKind
	Capacity uint32
	Data     []byte
}

func (*NewBuf) Op() Op { return OpNewBuf }
func (b *NewBuf) Encode(e *Encoder) {
	e.U8(uint8(b.Kind))
	e.U32(b.Capacity)
	e.Blob(b.Data)
}
func (b *NewBuf) Decode(d *Decoder) { b.Kind, b.Capacity, b.Data = BufKind(d.U8()), d.U32(), d.Blob() }

// BufState is the response to OpBufData: a buf_t's header and its bytes
// before the offset.
type BufState struct {
	Magic, Size, Processed uint32
	Data                   []byte // head[0:processed]
}

func (b *BufState) Encode(e *Encoder) {
	e.U32(b.Magic)
	e.U32(b.Size)
	e.U32(b.Processed)
	e.Blob(b.Data)
}
func (b *BufState) Decode(d *Decoder) {
	b.Magic, b.Size, b.Processed, b.Data = d.U32(), d.U32(), d.U32(), d.Blob()
}

// SetOffset sets the processed offset of the buf_t at Buf.
type SetOffset struct {
	Buf    uint64
	Offset uint32
}

func (*SetOffset) Op() Op { return OpSetOffset }
func (s *SetOffset) Encode(e *Encoder) {
	e.U64(s.Buf)
	e.U32(s.Offset)
}
func (s *SetOffset) Decode(d *Decoder) { s.Buf, s.Offset = d.U64(), d.U32() }

// HeapInUse is the response to OpHeap: mallinfo2's uordblks and hblkhd.
type HeapInUse struct{ Allocated, Mapped uint64 }

func (h *HeapInUse) Encode(e *Encoder) {
	e.U64(h.Allocated)
	e.U64(h.Mapped)
}
func (h *HeapInUse) Decode(d *Decoder) { h.Allocated, h.Mapped = d.U64(), d.U64() }

// XmallocHeader is the response to OpXmallocInfo: the two words before the
// pointer, zero when they were not readable.
type XmallocHeader struct {
	Readable    bool
	Magic, Size uint64
}

func (x *XmallocHeader) Encode(e *Encoder) {
	e.U8(b2u8(x.Readable))
	e.U64(x.Magic)
	e.U64(x.Size)
}
func (x *XmallocHeader) Decode(d *Decoder) {
	x.Readable, x.Magic, x.Size = d.U8() == 1, d.U64(), d.U64()
}

func (*AuthCycles) Op() Op  { return OpAuthCycles }
func (*CredCycles) Op() Op  { return OpCredCycles }
func (*Cred2Cycles) Op() Op { return OpCred2Cycles }
func (*Bench) Op() Op       { return OpBench }
func (*Fuzz) Op() Op        { return OpFuzz }
