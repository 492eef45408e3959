package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// message is what every body type of the protocol implements.
type message interface {
	Encode(e *Encoder)
	Decode(d *Decoder)
}

// samples has one value of every message with each field set to something
// other than its zero value, so that a field one side forgets fails the
// round trip.
func samples() map[string]message {
	hist := make([]uint64, HistBuckets)
	hist[3], hist[HistBuckets-1] = 7, 1<<40
	return map[string]message{
		"Call": &Call{Sym: 513, Args: []Arg{
			{Kind: ArgInt, Value: 1<<63 | 5}, {Kind: ArgBytes, Data: []byte{1, 2}}, {Kind: ArgCString, Data: []byte("auth/munge")},
			{Kind: ArgOut, Value: 24}, {Kind: ArgGuarded, Data: []byte{9}},
		}},
		"CallResult":    &CallResult{Ret: 0xffffffff, RDX: 2, Errno: -6000, SignalsChanged: 1 << 13, Nanoseconds: 3300, Outs: [][]byte{{1, 2, 3, 4}, {}}},
		"WorkerHello":   &WorkerHello{Pid: 4242, Addrs: []uint64{0x7f0000001000, 0, 3}},
		"Reloaded":      &Reloaded{StillMapped: true, Addrs: []uint64{0, 0x7f0000002000}},
		"Alloc":         &Alloc{How: Xmalloc, Data: []byte("key")},
		"Free":          &Free{How: Xmalloc, Ptr: 0x1234},
		"Pointer":       &Pointer{Ptr: 0xdeadbeef},
		"Write":         &Write{Ptr: 0x10, Data: []byte{0, 0, 0, 0}},
		"Read":          &Read{Ptr: 0x20, Len: 17},
		"Memory":        &Memory{OK: true, Data: []byte("abc")},
		"NewBuf":        &NewBuf{Kind: BufGuarded, Capacity: 4096, Data: []byte{5, 6}},
		"BufState":      &BufState{Magic: 0x42554721, Size: 64, Processed: 3, Data: []byte{1, 2, 3}},
		"SetOffset":     &SetOffset{Buf: 0x40, Offset: 9},
		"HeapInUse":     &HeapInUse{Allocated: 1 << 20, Mapped: 1 << 30},
		"AtAddress":     &AtAddress{Ptr: 0x60}, // Of is the frame's op, not its body
		"XmallocHeader": &XmallocHeader{Readable: true, Magic: 0x42, Size: 99},
		"AuthCycles": &AuthCycles{Threads: 4, Iterations: 1000, Protocol: 0x2600, AuthInfo: []byte("socket=/run/munge"), Data: []byte("d"),
			Create4: true, Create: 1, Pack: 2, Unpack: 3, Verify: 4, GetUID: 5, GetGID: 6, GetIDs: -1, Destroy: 7},
		"AuthCyclesResult": &AuthCyclesResult{Completed: 10, Failed: 2, FirstFailure: "verify returned -1", HeapBefore: 100, HeapAfter: 200, UID: 1000, GID: 1001},
		"CredCycles":       &CredCycles{Threads: 2, Iterations: 50, PrivKey: 0x70, PubKey: 0x80, Data: []byte("sig me"), Sign: 3, Verify: 4, ReplayArg: true},
		"Cred2Cycles":      &Cred2Cycles{Threads: 1, Iterations: 9, Arg: 0x90, Protocol: 0x2700, Create: 5, Unpack: 6, Destroy: 7, BufferOff: 16, VerifiedOff: 24, Verify: true},
		"Bench": &Bench{Kind: BenchCred, Steps: true, Threads: 2, Duration: 1e9, Protocol: 0x2600, AuthInfo: []byte("i"), Data: []byte("d"), Create4: true,
			Create: 1, Pack: 2, Unpack: 3, Verify: 4, GetUID: 5, GetGID: 6, GetIDs: 7, Destroy: 8, Sign: 9, VerifySign: 10,
			PrivKey: 11, PubKey: 12, ReplayArg: true, Purego: true},
		"BenchResult": &BenchResult{Cycles: 1e6, Failed: 1, FirstFailure: "sign returned NULL", Wall: 2e9,
			Steps: []BenchStep{{Name: "cycle", Count: 10, Sum: 33000, Max: 9000, Hist: hist}}},
		"Fuzz": &Fuzz{Target: FuzzSbcastUnpack, Mode: FuzzReplay, Fn: 4, Destroy: -1, Protocols: []uint16{0x2600, 0x2700}, Key: 0xa0, Arity: 4,
			StatusPath: "/dev/shm/status", Seed: 77, Count: 880, MaxLen: 4096, HeapLimit: 1 << 26, Measure: true,
			Inputs: []FuzzInput{{Protocol: 0x2600, Data: []byte{1}}, {Protocol: 1, Data: []byte{}}}},
		"FuzzResult": &FuzzResult{Execs: 880, Accepted: 3, New: []FuzzInput{{Protocol: 2, Data: []byte{3}}}, HeapBase: 1, Heap: 2,
			HeapExceeded: true, Leak: FuzzInput{Protocol: 4, Data: []byte{5}}, LeakBytes: -6, Growth: []int64{-1, 0, 1},
			Faults: []FuzzFault{{Input: FuzzInput{Protocol: 7, Data: []byte{8, 9}}, Signal: 11, Phase: FuzzPhaseCall, Region: FuzzRegionSignature, Past: 4095},
				{Input: FuzzInput{Protocol: 0x2600}, Signal: 7}},
			FaultHeap: 1 << 20, FaultBudget: 1 << 30},
	}
}

// fresh is an empty value of m's type.
func fresh(m message) message { return reflect.New(reflect.TypeOf(m).Elem()).Interface().(message) }

func encode(m message) []byte {
	var e Encoder
	m.Encode(&e)
	return append([]byte(nil), e.Bytes()...)
}

func TestRoundTrip(t *testing.T) {
	for name, m := range samples() {
		t.Run(name, func(t *testing.T) {
			body := encode(m)
			got := fresh(m)
			d := NewDecoder(body)
			got.Decode(d)
			if d.Err() != nil {
				t.Fatalf("decode: %v", d.Err())
			}
			if len(d.b) != 0 {
				t.Errorf("%d bytes left after decoding", len(d.b))
			}
			if !reflect.DeepEqual(normal(got), normal(m)) {
				t.Errorf("round trip changed the message:\n got  %+v\n want %+v", got, m)
			}
			// Every prefix is a malformed frame, never a panic or a
			// silently shortened message.
			for n := 0; n < len(body); n++ {
				d := NewDecoder(body[:n])
				fresh(m).Decode(d)
				if d.Err() == nil {
					t.Fatalf("a %d-byte prefix of %d decodes without error", n, len(body))
				}
			}
		})
	}
}

// normal maps nil and empty slices alike, which the encoding does not tell
// apart.
func normal(m message) message {
	v := reflect.ValueOf(m).Elem()
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Slice:
			if v.Len() == 0 {
				if v.CanSet() {
					v.Set(reflect.MakeSlice(v.Type(), 0, 0))
				}
				return
			}
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		}
	}
	walk(out)
	return out.Addr().Interface().(message)
}

func TestRequestOps(t *testing.T) {
	seen := map[Op]bool{}
	for name, m := range samples() {
		r, ok := m.(Request)
		if !ok {
			continue
		}
		var e Encoder
		body := e.Request(r)
		if Op(body[0]) != r.Op() || !bytes.Equal(body[1:], encode(m)) {
			t.Errorf("%s: Request wrote op %v and a body other than Encode's", name, Op(body[0]))
		}
		seen[r.Op()] = true
	}
	for _, r := range []Request{&Read{String: true}, Bare(OpReload), Bare(OpHeap), Bare(OpExit),
		&AtAddress{Of: OpBufData}, &AtAddress{Of: OpFreeBuf}, &AtAddress{Of: OpXmallocInfo}} {
		seen[r.Op()] = true
	}
	for op := OpCall; op <= OpCred2Cycles; op++ {
		if !seen[op] {
			t.Errorf("no request type has op %v", op)
		}
	}
}

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	for _, body := range [][]byte{{}, {1}, bytes.Repeat([]byte{7}, 70000)} {
		if err := WriteFrame(&b, body); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(&b, nil)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("frame of %d bytes came back as %d bytes, %v", len(body), len(got), err)
		}
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff}), nil); !errors.Is(err, ErrFrame) {
		t.Errorf("oversized length: %v, want ErrFrame", err)
	}
	if _, err := ReadFrame(bytes.NewReader([]byte{5, 0, 0, 0, 1}), nil); err != io.ErrUnexpectedEOF {
		t.Errorf("cut body: %v, want unexpected EOF", err)
	}
}

func TestHistBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 1000, 3300, 1 << 40, 1<<64 - 1} {
		b := HistBucket(v)
		if b < 0 || b >= HistBuckets {
			t.Fatalf("HistBucket(%d) = %d, outside the histogram", v, b)
		}
		if mid := HistValue(b); HistBucket(mid) != b {
			t.Errorf("the middle of bucket %d (%d) is in bucket %d", b, mid, HistBucket(mid))
		}
	}
}

// FuzzDecode feeds arbitrary bodies to every decoder, as a worker reads a
// request and the parent a response: none may panic or allocate beyond
// what the frame describes, and what decodes cleanly encodes to a body that
// decodes to the same message. (A well-formed request can still name a bad
// pointer: that the parent never sends one is the loader's job, and such a
// crash is reported like any other.)
func FuzzDecode(f *testing.F) {
	for _, m := range samples() {
		f.Add(encode(m))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, m := range samples() {
			got := fresh(m)
			d := NewDecoder(body)
			got.Decode(d)
			if d.Err() != nil {
				continue
			}
			again := encode(got)
			back := fresh(m)
			d = NewDecoder(again)
			back.Decode(d)
			if d.Err() != nil || !bytes.Equal(encode(back), again) {
				t.Fatalf("%s: decoded cleanly but its encoding does not decode back (%v)", name, d.Err())
			}
		}
	})
}

// A count read from a frame is bounded by the bytes left in it: before,
// a 20-byte FuzzResult claiming 44 million inputs made the reader allocate
// 1.4 GB before it found the frame short.
func TestCountsBoundedByFrame(t *testing.T) {
	var e Encoder
	e.U64(1)
	e.U64(2)
	e.U32(MaxFrame/6 - 1)
	allocs := testing.AllocsPerRun(1, func() {
		var r FuzzResult
		d := NewDecoder(e.Bytes())
		r.Decode(d)
		if d.Err() == nil {
			t.Fatal("a count beyond the frame decoded without error")
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations decoding a short frame", allocs)
	}
}
