package loader

import (
	"fmt"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Auth calls an auth plugin through its generation's signatures, so specs
// say Create or IDs whatever the generation names them.
type Auth struct {
	W       *Worker
	Profile *profile.Profile
	// Series holds the release facts (protocol versions) of the plugin.
	Series *profile.Series
}

// Auth returns the auth facade of a worker whose plugin is an auth plugin.
func (w *Worker) Auth() (*Auth, error) {
	if p := w.sb.Target.Profile; p.Kind == profile.Auth {
		return &Auth{W: w, Profile: p, Series: w.sb.Target.Series}, nil
	}
	return nil, fmt.Errorf("%s is not an auth plugin", w.sb.Target.Plugin.Path)
}

// NotInGenerationError reports an operation the plugin's generation lacks.
type NotInGenerationError struct {
	Op         profile.Op
	Generation string
}

func (e *NotInGenerationError) Error() string {
	return fmt.Sprintf("generation %s has no %s", e.Generation, e.Op)
}

func call(w *Worker, p *profile.Profile, op profile.Op, args ...Arg) (Result, error) {
	f := p.Func(op)
	if f == nil {
		return Result{Func: string(op)}, &NotInGenerationError{Op: op, Generation: p.Name}
	}
	return w.Call(f.Symbol, args...)
}

// Init calls init() where the plugin exports it.
func (a *Auth) Init() (Result, error) { return lifecycleCall(a.W, a.Profile, profile.OpInit) }

// Fini calls fini() where the plugin exports it.
func (a *Auth) Fini() (Result, error) { return lifecycleCall(a.W, a.Profile, profile.OpFini) }

func lifecycleCall(w *Worker, p *profile.Profile, op profile.Op) (Result, error) {
	f := p.Func(op)
	if !w.Has(f.Symbol) {
		return Result{Func: f.Symbol}, fmt.Errorf("%w: %s", ErrNoSymbol, f.Symbol)
	}
	return w.Call(f.Symbol)
}

// Create makes a credential. Generations with a one-argument create ignore
// rUID and data.
func (a *Auth) Create(authInfo string, rUID uint32, data []byte) (uintptr, Result, error) {
	info := CString(authInfo)
	var r Result
	var err error
	if f := a.Profile.Func(profile.OpCreate); f != nil && len(f.Params) == 1 {
		r, err = call(a.W, a.Profile, profile.OpCreate, info)
	} else {
		d := Null
		if data != nil {
			d = Bytes(data)
		}
		r, err = call(a.W, a.Profile, profile.OpCreate, info, Int(int64(rUID)), d, Int(int64(len(data))))
	}
	if err == nil {
		err = a.setIndex(r.Ptr())
	}
	return r.Ptr(), r, err
}

// FrameworkIndex is what Slurm's auth framework (slurm_auth.c, auth.c)
// stores in the first int of every credential that create and unpack
// return: the plugin's place in its table, 0 for the AuthType plugin
// (AuthAltTypes count on from 1). A plugin owns its struct from the second
// field on; docs/framework.md.
const FrameworkIndex = 0

// setIndex does the framework's "cred->index = index" on a non-NULL
// credential.
func (a *Auth) setIndex(cred uintptr) error {
	if cred == 0 {
		return nil
	}
	return a.W.Write(cred, []byte{FrameworkIndex, 0, 0, 0})
}

// Destroy frees a credential. For generations where destroy is void the
// returned code is always 0.
func (a *Auth) Destroy(cred uintptr) (int32, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpDestroy, Ptr(cred))
	if a.Profile.Func(profile.OpDestroy).Ret == profile.Void {
		return 0, r, err
	}
	return r.Int(), r, err
}

// Verify checks a credential.
func (a *Auth) Verify(cred uintptr, authInfo string) (int32, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpVerify, Ptr(cred), CString(authInfo))
	return r.Int(), r, err
}

// IDs returns the credential's uid and gid through get_uid/get_gid or
// get_ids. The Result is the last call's (errno from get_gid in the older
// form, where get_uid's errno is in uidErrno).
func (a *Auth) IDs(cred uintptr) (uid, gid uint32, uidErrno int32, r Result, err error) {
	if a.Profile.Has(profile.OpGetIDs) {
		r, err = call(a.W, a.Profile, profile.OpGetIDs, Ptr(cred), Out(4), Out(4))
		if err != nil {
			return 0, 0, 0, r, err
		}
		return uint32(r.Out(0)), uint32(r.Out(1)), r.Errno, r, nil
	}
	ru, err := call(a.W, a.Profile, profile.OpGetUID, Ptr(cred))
	if err != nil {
		return 0, 0, 0, ru, err
	}
	r, err = call(a.W, a.Profile, profile.OpGetGID, Ptr(cred))
	return ru.Uint32(), r.Uint32(), ru.Errno, r, err
}

// Host returns get_host's string, freed with xfree as Slurm does; ok is
// false when it returned NULL.
func (a *Auth) Host(cred uintptr) (host string, ok bool, r Result, err error) {
	p, r, err := a.HostRaw(cred)
	if err != nil || p == 0 {
		return "", false, r, err
	}
	host, _, err = a.W.CStringAt(p, 4096)
	if err == nil {
		err = a.W.XfreeChecked(p, "get_host's string")
	}
	return host, true, r, err
}

// HostRaw calls get_host and leaves the block it returns to the caller.
func (a *Auth) HostRaw(cred uintptr) (uintptr, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpGetHost, Ptr(cred))
	return r.Ptr(), r, err
}

// Data returns get_data's bytes (freed with xfree).
func (a *Auth) Data(cred uintptr) (data []byte, rc int32, r Result, err error) {
	p, n, rc, r, err := a.DataRaw(cred)
	if err != nil {
		return nil, rc, r, err
	}
	if p != 0 {
		if data, _, err = a.W.Read(p, n); err == nil {
			err = a.W.XfreeChecked(p, "get_data's block")
		}
	}
	return data, rc, r, err
}

// DataRaw calls get_data and leaves the block it hands out (p, n bytes) to
// the caller.
func (a *Auth) DataRaw(cred uintptr) (p uintptr, n int, rc int32, r Result, err error) {
	if r, err = call(a.W, a.Profile, profile.OpGetData, Ptr(cred), Out(8), Out(4)); err != nil {
		return 0, 0, 0, r, err
	}
	return uintptr(r.Out(0)), int(r.Out(1)), r.Int(), r, nil
}

// IdentityRaw calls get_identity (23.11+), whose identity_t the framework
// frees with destroy_identity.
func (a *Auth) IdentityRaw(cred uintptr) (uintptr, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpGetIdentity, Ptr(cred))
	return r.Ptr(), r, err
}

// DestroyIdentity frees an identity_t with the host's destroy_identity, as
// FREE_NULL_IDENTITY does; ErrNoSymbol when the host lacks it.
func (a *Auth) DestroyIdentity(id uintptr) error {
	if id == 0 {
		return nil
	}
	_, err := a.W.Call("destroy_identity", Ptr(id))
	return err
}

// Time returns get_time's value (26.05+).
func (a *Auth) Time(cred uintptr) (int64, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpGetTime, Ptr(cred))
	return int64(r.Ret), r, err
}

// Pack packs a credential into buf at protocol version pv.
func (a *Auth) Pack(cred, buf uintptr, pv uint16) (int32, Result, error) {
	if len(a.Profile.Func(profile.OpPack).Params) == 2 { // seed form
		r, err := call(a.W, a.Profile, profile.OpPack, Ptr(cred), Ptr(buf))
		return r.Int(), r, err
	}
	r, err := call(a.W, a.Profile, profile.OpPack, Ptr(cred), Ptr(buf), Int(int64(pv)))
	return r.Int(), r, err
}

// Unpack reads a credential from buf at protocol version pv.
func (a *Auth) Unpack(buf uintptr, pv uint16) (uintptr, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpUnpack, Ptr(buf), Int(int64(pv)))
	if err == nil {
		err = a.setIndex(r.Ptr())
	}
	return r.Ptr(), r, err
}

// ThreadConfig, ThreadClear and TokenGenerate exist from 20.02.
func (a *Auth) ThreadConfig(token, user *string) (int32, Result, error) {
	r, err := call(a.W, a.Profile, profile.OpThreadConfig, optString(token), optString(user))
	return r.Int(), r, err
}

func (a *Auth) ThreadClear() (Result, error) {
	return call(a.W, a.Profile, profile.OpThreadClear)
}

// TokenGenerate returns the token (freed with xfree); ok is false for NULL.
func (a *Auth) TokenGenerate(user string, lifespan int) (token string, ok bool, r Result, err error) {
	if r, err = call(a.W, a.Profile, profile.OpTokenGenerate, CString(user), Int(int64(lifespan))); err != nil || r.Ptr() == 0 {
		return "", false, r, err
	}
	token, _, err = a.W.CStringAt(r.Ptr(), 1<<20)
	if err == nil {
		err = a.W.Free(r.Ptr(), true)
	}
	return token, true, r, err
}

func optString(s *string) Arg {
	if s == nil {
		return Null
	}
	return CString(*s)
}

// PackBytes is the common round: a fresh buffer, pack, the bytes packed.
func (a *Auth) PackBytes(cred uintptr, pv uint16) ([]byte, int32, Result, error) {
	buf, err := a.W.NewBuf(1024, nil)
	if err != nil {
		return nil, 0, Result{}, err
	}
	defer a.W.FreeBuf(buf)
	rc, r, err := a.Pack(cred, buf, pv)
	if err != nil {
		return nil, rc, r, err
	}
	st, err := a.W.Buf(buf)
	return st.Data, rc, r, err
}

// UnpackBytes unpacks a credential from exactly data, in a guarded buffer;
// consumed is how many bytes unpack read.
func (a *Auth) UnpackBytes(data []byte, pv uint16) (cred uintptr, consumed int, r Result, err error) {
	buf, err := a.W.NewGuardedBuf(data)
	if err != nil {
		return 0, 0, Result{}, err
	}
	cred, r, err = a.Unpack(buf, pv)
	if err != nil {
		return cred, 0, r, err
	}
	st, err := a.W.Buf(buf)
	if err == nil {
		err = a.W.FreeBuf(buf)
	}
	return cred, int(st.Processed), r, err
}

// CycleResult is what a loop of full credential cycles inside the worker
// did: create, pack, unpack, verify, get ids, destroy both.
type CycleResult struct {
	Completed, Failed int
	FirstFailure      string
	// HeapGrowth is the C heap in use after the loop minus before it.
	HeapGrowth int64
	UID, GID   uint32
}

// Cycles runs iterations full cycles on each of threads OS threads inside
// the worker. The deadline scales with the work: the call timeout for every
// 100 cycles per thread.
func (a *Auth) Cycles(threads, iterations int, authInfo string, data []byte, pv uint16) (CycleResult, error) {
	idx := func(op profile.Op) int16 { return a.W.symIndex(a.Profile, op) }
	req := wire.AuthCycles{
		Threads: uint8(threads), Iterations: uint32(iterations), Protocol: pv,
		AuthInfo: []byte(authInfo), Data: data,
		Create4: len(a.Profile.Func(profile.OpCreate).Params) == 4,
		Create:  idx(profile.OpCreate), Pack: idx(profile.OpPack), Unpack: idx(profile.OpUnpack),
		Verify: idx(profile.OpVerify), GetUID: idx(profile.OpGetUID), GetGID: idx(profile.OpGetGID),
		GetIDs: idx(profile.OpGetIDs), Destroy: idx(profile.OpDestroy),
	}
	for _, i := range []int16{req.Create, req.Pack, req.Unpack, req.Verify, req.Destroy} {
		if i < 0 {
			return CycleResult{}, fmt.Errorf("%w: a function of the cycle", ErrNoSymbol)
		}
	}
	return a.W.cycles("auth cycles", &req, iterations)
}
