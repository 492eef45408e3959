package loader

import (
	"fmt"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Cred calls a cred plugin through its generation's signatures.
type Cred struct {
	W       *Worker
	Profile *profile.Profile
}

// Cred returns the cred facade of a worker whose plugin is a cred plugin.
func (w *Worker) Cred() (*Cred, error) {
	if p := w.sb.Target.Profile; p.Kind == profile.Cred {
		return &Cred{W: w, Profile: p}, nil
	}
	return nil, fmt.Errorf("%s is not a cred plugin", w.sb.Target.Plugin.Path)
}

func (c *Cred) Init() (Result, error) { return lifecycleCall(c.W, c.Profile, profile.OpInit) }
func (c *Cred) Fini() (Result, error) { return lifecycleCall(c.W, c.Profile, profile.OpFini) }

// ReadPrivateKey and ReadPublicKey load a key; a nil path passes NULL.
func (c *Cred) ReadPrivateKey(path *string) (uintptr, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpReadPrivateKey, optString(path))
	return r.Ptr(), r, err
}

func (c *Cred) ReadPublicKey(path *string) (uintptr, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpReadPublicKey, optString(path))
	return r.Ptr(), r, err
}

func (c *Cred) DestroyKey(key uintptr) (Result, error) {
	return call(c.W, c.Profile, profile.OpDestroyKey, Ptr(key))
}

// Signature is what sign produced, still in the worker's memory.
type Signature struct {
	Ptr  uintptr
	Size uint32
}

// Sign signs data; the signature stays in the worker until FreeSignature.
func (c *Cred) Sign(key uintptr, data []byte) (Signature, int32, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpSign, Ptr(key), Bytes(data), Int(int64(len(data))), Out(8), Out(4))
	if err != nil {
		return Signature{}, 0, r, err
	}
	return Signature{Ptr: uintptr(r.Out(0)), Size: uint32(r.Out(1))}, r.Int(), r, nil
}

// SignatureBytes copies a signature out of the worker.
func (c *Cred) SignatureBytes(sig Signature) ([]byte, error) {
	b, ok, err := c.W.Read(sig.Ptr, int(sig.Size))
	if err == nil && !ok {
		err = fmt.Errorf("signature at %#x (%d bytes) is not readable", sig.Ptr, sig.Size)
	}
	return b, err
}

// NotXmallocError reports a block the caller must free with xfree (a
// signature, a get_host or get_data result) that xmalloc did not allocate.
type NotXmallocError struct {
	What  string
	Ptr   uintptr
	Magic uint64
}

func (e *NotXmallocError) Error() string {
	what := e.What
	if what == "" {
		what = "signature"
	}
	return fmt.Sprintf("%s at %#x was not allocated with xmalloc (header word %#x, want %#x); Slurm frees it with xfree",
		what, e.Ptr, e.Magic, profile.XmallocMagic)
}

// FreeSignature frees a signature with xfree, as the framework does, after
// checking the xmalloc header: a block from malloc would otherwise crash the
// worker with no explanation.
func (c *Cred) FreeSignature(sig Signature) error {
	return c.W.XfreeChecked(sig.Ptr, "signature")
}

// XfreeChecked frees p with the host's xfree, as the framework frees what a
// plugin hands out, after checking that p starts an xmalloc block (an
// *NotXmallocError when not). NULL is a no-op.
func (w *Worker) XfreeChecked(p uintptr, what string) error {
	if p == 0 {
		return nil
	}
	magic, _, ok, err := w.XmallocHeader(p)
	if err != nil {
		return err
	}
	if !ok || magic != profile.XmallocMagic {
		return &NotXmallocError{What: what, Ptr: p, Magic: magic}
	}
	return w.Free(p, true)
}

// Cycles signs and verifies data iterations times on each of threads OS
// threads inside the worker, freeing every signature with xfree.
func (c *Cred) Cycles(threads, iterations int, priv, pub uintptr, data []byte) (CycleResult, error) {
	sign, verify := c.Profile.Func(profile.OpSign), c.Profile.Func(profile.OpVerifySign)
	if sign == nil || verify == nil {
		return CycleResult{}, &NotInGenerationError{Op: profile.OpSign, Generation: c.Profile.Name}
	}
	req := wire.CredCycles{
		Threads: uint8(threads), Iterations: uint32(iterations), PrivKey: uint64(priv), PubKey: uint64(pub), Data: data,
		Sign: c.W.symbolIndex(sign.Symbol), Verify: c.W.symbolIndex(verify.Symbol), ReplayArg: len(verify.Params) == 6,
	}
	return c.W.cycles("cred cycles", &req, iterations)
}

// cycles runs one request of loops inside the worker whose response is an
// AuthCyclesResult, with a deadline that grows with the iterations: the
// call timeout for every 100 cycles per thread.
func (w *Worker) cycles(what string, req wire.Request, iterations int) (CycleResult, error) {
	var r wire.AuthCyclesResult
	if err := w.exchangeWithin(what, req, &r, w.timeout*time.Duration(1+iterations/100)); err != nil {
		return CycleResult{}, err
	}
	return CycleResult{Completed: int(r.Completed), Failed: int(r.Failed), FirstFailure: r.FirstFailure,
		HeapGrowth: int64(r.HeapAfter) - int64(r.HeapBefore), UID: r.UID, GID: r.GID}, nil
}

// VerifySign checks sig over data. replayOK is passed where the generation
// has the argument (22.05.11+); passing it to the five-argument form is
// harmless on x86-64 but the facade does not.
func (c *Cred) VerifySign(key uintptr, data, sig []byte, replayOK bool) (int32, Result, error) {
	// Exactly sig_size bytes, as the framework unpacks them, ending at a
	// guard page: a plugin that reads the signature past sig_size (as a C
	// string, say) faults instead of reading whatever follows.
	// A zero-length signature is NULL, as unpackmem_xmalloc gives it.
	sigArg := Guarded(sig)
	if len(sig) == 0 {
		sigArg = Null
	}
	args := []Arg{Ptr(key), Bytes(data), Int(int64(len(data))), sigArg, Int(int64(len(sig)))}
	if f := c.Profile.Func(profile.OpVerifySign); f != nil && len(f.Params) == 6 {
		args = append(args, Int(b2i(replayOK)))
	}
	r, err := call(c.W, c.Profile, profile.OpVerifySign, args...)
	return r.Int(), r, err
}

// VerifySignWith passes arguments as given, for NULL and mismatched sizes.
func (c *Cred) VerifySignWith(key uintptr, data Arg, dataLen int, sig Arg, sigLen int, replayOK bool) (int32, Result, error) {
	args := []Arg{Ptr(key), data, Int(int64(dataLen)), sig, Int(int64(sigLen))}
	if f := c.Profile.Func(profile.OpVerifySign); f != nil && len(f.Params) == 6 {
		args = append(args, Int(b2i(replayOK)))
	}
	r, err := call(c.W, c.Profile, profile.OpVerifySign, args...)
	return r.Int(), r, err
}

// SignWith passes arguments as given (NULL key or buffer, odd sizes).
func (c *Cred) SignWith(key uintptr, data Arg, dataLen int) (Signature, int32, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpSign, Ptr(key), data, Int(int64(dataLen)), Out(8), Out(4))
	if err != nil {
		return Signature{}, 0, r, err
	}
	return Signature{Ptr: uintptr(r.Out(0)), Size: uint32(r.Out(1))}, r.Int(), r, nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// StrError describes errnum; ok is false when str_error returned NULL. The
// seed form takes no argument.
func (c *Cred) StrError(errnum int32) (msg string, ok bool, r Result, err error) {
	args := []Arg{Int(int64(errnum))}
	if f := c.Profile.Func(profile.OpStrError); f != nil && len(f.Params) == 0 {
		args = nil
	}
	if r, err = call(c.W, c.Profile, profile.OpStrError, args...); err != nil || r.Ptr() == 0 {
		return "", false, r, err
	}
	msg, _, err = c.W.CStringAt(r.Ptr(), 4096)
	return msg, true, r, err
}

// Unpack is the 23.11+ cred_p_unpack.
func (c *Cred) Unpack(buf uintptr, pv uint16) (uintptr, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpCredUnpack, Ptr(buf), Int(int64(pv)))
	return r.Ptr(), r, err
}

// SbcastUnpack is the 23.11+ sbcast_p_unpack, called in the form the host
// library's code uses (profile.HostForms): where it takes shared_object
// (Debian's 26.05.5 and 24.11.5-4+deb13u1), that is false.
func (c *Cred) SbcastUnpack(buf uintptr, verify bool, pv uint16) (uintptr, Result, error) {
	args := []Arg{Ptr(buf), Int(b2i(verify)), Int(int64(pv))}
	if f := c.Profile.Func(profile.OpSbcastUnpack); f != nil && len(f.Params) == 4 {
		args = []Arg{Ptr(buf), Int(b2i(verify)), Int(0), Int(int64(pv))}
	}
	r, err := call(c.W, c.Profile, profile.OpSbcastUnpack, args...)
	return r.Ptr(), r, err
}
