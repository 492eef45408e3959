package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"time"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/reference/munge"
)

// The 23.11+ cred API (CRED2-*): slurmctld builds and signs whole
// credentials with cred_p_create and sbcast_p_create; slurmd unpacks them
// with cred_p_unpack, which verifies only when running_in_slurmd(), and
// sbcast_p_unpack(verify=true). The specs do the same with two workers:
// one running as slurmctld creates, one running as slurmd unpacks. The
// arguments are built from the release's structure layouts
// (profile.CredABIs).

// cred2Kit is a creator and a verifier worker of one 23.11+ cred plugin.
type cred2Kit struct {
	c      *Ctx
	abi    *profile.CredABI
	mk, vf *loader.Cred
	pv     uint16
	uid    uint32
	gid    uint32
}

// CredAs starts a worker that runs as inside the named daemon, and calls
// init.
func (c *Ctx) CredAs(daemon string) *loader.Cred {
	w, err := c.run.sandbox.StartAs(context.Background(), daemon)
	Expect(err).NotTo(HaveOccurred(), "starting a worker as %s", daemon)
	c.workers = append(c.workers, w)
	cr, err := w.Cred()
	Expect(err).NotTo(HaveOccurred())
	c.init(cr.Init)
	// Every daemon initialises the switch plugins at start (none here:
	// SwitchType is unset); cred_create packs switch data through them.
	if w.Has("switch_g_init") {
		_, err := w.Call("switch_g_init", loader.Int(b2i(daemon == "slurmd")))
		Expect(err).NotTo(HaveOccurred(), "switch_g_init")
	}
	return cr
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// credABI is the release's cred structures; without a table for the
// release the spec is not tested.
func (c *Ctx) credABI() *profile.CredABI {
	abi, ver := c.credABIOrNil()
	switch {
	case ver == nil:
		c.NotTested("the plugin's release is unknown, so are its slurm_cred_arg_t and sbcast_cred_arg_t")
	case abi == nil:
		c.NotTested("the suite has no slurm_cred_arg_t layout for Slurm %s", ver)
	}
	return abi
}

func (c *Ctx) cred2Kit(ops ...profile.Op) *cred2Kit {
	c.Need(append([]profile.Op{profile.OpCredCreate, profile.OpCredUnpack}, ops...)...)
	abi := c.credABI()
	k := &cred2Kit{c: c, abi: abi, pv: c.Protocol(), uid: uint32(c.run.sandbox.UID), gid: uint32(c.run.sandbox.GID)}
	k.mk = c.CredAs("slurmctld")
	k.vf = c.CredAs("slurmd")
	return k
}

// jobArg is a job step credential's arguments with every member that
// cred_create packs set to a distinct value (GRES, node addresses and
// switch data stay NULL). seq varies the job and step ids.
func (k *cred2Kit) jobArg(seq uint32) *loader.CredArg {
	return &loader.CredArg{
		Sluid: 0x0123456789ab0000 + uint64(seq), JobID: 4242 + seq, StepID: 7, StepHetComp: 0xfffffffe,
		UID: k.uid, GID: k.gid, ID: k.identity(),
		CoresPerSocket: []uint16{8, 4}, SocketsPerNode: []uint16{2, 1}, SockCoreRepCount: []uint32{3, 1},
		CPUArray: []uint16{16, 4}, CPUArrayReps: []uint32{3, 1},
		JobMemAlloc: []uint64{4096, 1 << 33}, JobMemAllocRepCount: []uint32{3, 1},
		StepMemAlloc: []uint64{1024}, StepMemAllocRepCount: []uint32{4},
		JobCoreSpec: 1, JobOversubscribe: 2, JobRestartCnt: 3, JobX11: 1, JobExclusive: 1,
		JobEndTime: 1893456000, JobStartTime: 1767225600, JobNhosts: 4, JobNtasks: 64,
		JobAccount: "acct", JobAliasList: "n1:10.0.0.1", JobComment: "plugincheck", JobConstraints: "fast&big",
		JobExtra: "extra", JobHostlist: "n[1-4]", JobLicenses: "lic:2", JobPartition: "debug", JobQos: "normal",
		JobReservation: "resv", JobSelinuxContext: "unconfined_u", JobStdErr: "/tmp/err", JobStdIn: "/dev/null",
		JobStdOut: "/tmp/out", StepHostlist: "n[1-2]",
		// 3 nodes of 2 sockets of 8 cores, 1 of 1 socket of 4: 52 cores.
		JobCoreBitmap:  &loader.Bitmap{Bits: 52, Set: []int64{0, 1, 2, 3, 16, 17, 48, 51}},
		StepCoreBitmap: &loader.Bitmap{Bits: 52, Set: []int64{0, 1, 48}},
	}
}

func (k *cred2Kit) identity() *loader.Identity {
	return &loader.Identity{UID: k.uid, GID: k.gid, Name: "pcuser", Gecos: "plugincheck user", Dir: "/nonexistent",
		Shell: "/bin/sh", GIDs: []uint32{k.gid, 100, 4242}, GroupNames: []string{"pcgroup", "users", "other"}}
}

func (k *cred2Kit) sbcastArg(seq uint32) *loader.SbcastArg {
	return &loader.SbcastArg{Sluid: 0x0123456789ab0000 + uint64(seq), JobID: 5151 + seq, HetJobID: 0, StepID: 3,
		StepHetComp: 0xfffffffe, ID: k.identity(), Expiration: time.Now().Add(time.Hour).Unix(), Nodes: "n[1-4]"}
}

// freshJob returns a maker of new job credentials (packed bytes) with
// the arguments a, built once in the creator.
func (k *cred2Kit) freshJob(a *loader.CredArg) func() []byte {
	arg, err := k.mk.BuildCredArg(k.abi, a)
	Expect(err).NotTo(HaveOccurred())
	return func() []byte {
		p, r, err := k.mk.CreateWith(loader.Ptr(arg), true, k.pv)
		Expect(err).NotTo(HaveOccurred(), "cred_p_create")
		Expect(p).NotTo(BeZero(), "cred_p_create returned NULL, errno %d", r.Errno)
		b, err := k.mk.CredBuffer(k.abi.Cred, p)
		Expect(err).NotTo(HaveOccurred(), "the packed credential")
		return b
	}
}

// freshSbcast is freshJob for sbcast credentials.
func (k *cred2Kit) freshSbcast(a *loader.SbcastArg) func() []byte {
	arg, err := k.mk.BuildSbcastArg(k.abi, a)
	Expect(err).NotTo(HaveOccurred())
	return func() []byte {
		p, r, err := k.mk.SbcastCreateWith(loader.Ptr(arg), k.pv)
		Expect(err).NotTo(HaveOccurred(), "sbcast_p_create")
		Expect(p).NotTo(BeZero(), "sbcast_p_create returned NULL, errno %d", r.Errno)
		b, err := k.mk.CredBuffer(k.abi.Sbcast, p)
		Expect(err).NotTo(HaveOccurred(), "the packed sbcast credential")
		return b
	}
}

// create makes a job credential in the creator and returns its view.
func (k *cred2Kit) create(a *loader.CredArg, signIt bool) *loader.CredView {
	p, r, err := k.mk.Create(k.abi, a, signIt, k.pv)
	Expect(err).NotTo(HaveOccurred(), "cred_p_create")
	Expect(p).NotTo(BeZero(), "cred_p_create(sign_it=%v) returned NULL, errno %d", signIt, r.Errno)
	v, err := k.mk.ReadCred(k.abi, p)
	Expect(err).NotTo(HaveOccurred(), "reading the slurm_cred_t cred_p_create returned")
	Expect(v.HasBuffer).To(BeTrue(), "cred_p_create returned a credential without a packed buffer")
	return v
}

// sbcastCreate makes an sbcast credential in the creator.
func (k *cred2Kit) sbcastCreate(a *loader.SbcastArg) *loader.CredView {
	p, r, err := k.mk.SbcastCreate(k.abi, a, k.pv)
	Expect(err).NotTo(HaveOccurred(), "sbcast_p_create")
	Expect(p).NotTo(BeZero(), "sbcast_p_create returned NULL, errno %d", r.Errno)
	v, err := k.mk.ReadSbcast(k.abi, p)
	Expect(err).NotTo(HaveOccurred(), "reading the sbcast_cred_t sbcast_p_create returned")
	Expect(v.HasBuffer).To(BeTrue(), "sbcast_p_create returned a credential without a packed buffer")
	return v
}

// unpacked is what an unpack in the verifier gave.
type unpacked struct {
	ptr      uintptr
	consumed uint32
	view     *loader.CredView
}

// unpack runs cred_p_unpack (or sbcast_p_unpack with verify) as slurmd on
// exactly b, in a buffer that ends at a guard page; the call must return.
func (k *cred2Kit) unpack(b []byte, sbcast bool) unpacked {
	u, err := k.tryUnpack(b, sbcast)
	Expect(err).NotTo(HaveOccurred(), "unpacking %d bytes as slurmd", len(b))
	return u
}

// tryUnpack is unpack that returns the worker's failure (a crash, a hang)
// instead of failing the spec.
func (k *cred2Kit) tryUnpack(b []byte, sbcast bool) (unpacked, error) {
	var u unpacked
	buf, err := k.vf.W.NewGuardedBuf(b)
	if err != nil {
		return u, err
	}
	if u.ptr, err = k.unpackBuf(buf, sbcast); err != nil {
		return u, err
	}
	defer k.vf.W.FreeBuf(buf)
	if u.ptr == 0 {
		return u, nil
	}
	st, err := k.vf.W.Buf(buf)
	if err != nil {
		return u, err
	}
	u.consumed = st.Processed
	if sbcast {
		u.view, err = k.vf.ReadSbcast(k.abi, u.ptr)
	} else {
		u.view, err = k.vf.ReadCred(k.abi, u.ptr)
	}
	return u, err
}

// accepts is tryUnpack for a verdict that needs only whether the unpack
// returned a credential, not what it holds: two round trips to the worker
// fewer, and no read of the credential, for each of the thousands of
// inputs of CRED2-UNPACK-BAD.
func (k *cred2Kit) accepts(b []byte, sbcast bool) (bool, error) {
	buf, err := k.vf.W.NewGuardedBuf(b)
	if err != nil {
		return false, err
	}
	ptr, err := k.unpackBuf(buf, sbcast)
	if err != nil {
		return false, err
	}
	return ptr != 0, k.vf.W.FreeBuf(buf)
}

// unpackBuf runs cred_p_unpack, or sbcast_p_unpack with verify, as slurmd
// on buf.
func (k *cred2Kit) unpackBuf(buf uintptr, sbcast bool) (uintptr, error) {
	var ptr uintptr
	var err error
	if sbcast {
		ptr, _, err = k.vf.SbcastUnpack(buf, true, k.pv)
	} else {
		ptr, _, err = k.vf.Unpack(buf, k.pv)
	}
	return ptr, err
}

// trailingSig finds the packstr(signature) a packed credential ends with:
// a big-endian length, that many bytes, the last one the NUL. It returns
// where the length starts and the string; ok is false when the buffer
// ends otherwise. packnull (no signature) is a length of 0 with no bytes.
func trailingSig(b []byte) (start int, sig string, ok bool) {
	n := len(b)
	if n >= 4 && binary.BigEndian.Uint32(b[n-4:]) == 0 {
		return n - 4, "", true
	}
	if n < 5 || b[n-1] != 0 {
		return 0, "", false
	}
	// The longest string without an inner NUL whose length field matches.
	for p := n - 5; p >= 0; p-- {
		if p+4 < n-1 && b[p+4] == 0 {
			break
		}
		if binary.BigEndian.Uint32(b[p:]) == uint32(n-p-4) {
			start, sig, ok = p, string(b[p+4:n-1]), true
		}
	}
	return start, sig, ok
}

// checkCreated is CRED2-CREATE on one credential: the buffer holds the
// packed arguments and ends with packstr(signature), a non-empty one when
// signed, packnull otherwise. Where the plugin also keeps the signature
// in the credential (slurm_cred_t.signature), the two agree.
func checkCreated(what string, v *loader.CredView, signIt bool) int {
	start, sig, ok := trailingSig(v.Buffer)
	Expect(ok).To(BeTrue(), "%s: the buffer (%d bytes) does not end with a packed signature string: % x",
		what, len(v.Buffer), v.Buffer[max(0, len(v.Buffer)-16):])
	if signIt {
		Expect(sig).NotTo(BeEmpty(), "%s with sign_it: the packed signature is empty or NULL", what)
		if v.HasSig {
			Expect(v.Signature).To(Equal(sig), "%s: the credential's signature differs from the packed one", what)
		}
	} else {
		Expect(sig).To(BeEmpty(), "%s without sign_it packs the signature %q", what, sig)
	}
	Expect(start).To(BeNumerically(">", 0), "%s: the buffer holds no packed arguments before the signature", what)
	return start
}

// sameJobArg compares what an unpacked job credential carries with what
// was given to cred_p_create. The framework takes uid and gid from the
// identity on unpack (cred_unpack), so they are compared with it.
func (k *cred2Kit) sameJobArg(got, want *loader.CredArg) {
	Expect(got).NotTo(BeNil(), "the unpacked credential has no arguments (arg is NULL)")
	w := *want
	if !k.abi.Arg.Has("job_qos") {
		w.JobQos, w.JobExclusive = "", 0
	}
	if !k.abi.Arg.Has("step_id.sluid") {
		w.Sluid = 0
	}
	if !k.abi.Arg.Has("job_core_bitmap") {
		w.JobCoreBitmap, w.StepCoreBitmap = nil, nil
	}
	g := *got
	for _, d := range diffFields(g, w) {
		ginkgo.Fail(fmt.Sprintf("the unpacked credential differs from cred_p_create's arguments: %s", d))
	}
}

func (k *cred2Kit) sameSbcastArg(got, want *loader.SbcastArg) {
	Expect(got).NotTo(BeNil())
	w := *want
	if !k.abi.SbcastArg.Has("step_id.job_id") {
		w.Sluid, w.StepHetComp = 0, 0
	}
	for _, d := range diffFields(*got, w) {
		ginkgo.Fail(fmt.Sprintf("the unpacked sbcast credential differs from sbcast_p_create's arguments: %s", d))
	}
}

// diffFields lists the members of two structs that differ.
func diffFields[T any](got, want T) []string {
	var out []string
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := 0; i < gv.NumField(); i++ {
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		if !reflect.DeepEqual(g, w) {
			if gp, ok := g.(*loader.Identity); ok {
				wp := w.(*loader.Identity)
				if gp != nil && wp != nil {
					for _, d := range diffFields(*gp, *wp) {
						out = append(out, "identity "+d)
					}
					continue
				}
			}
			out = append(out, fmt.Sprintf("%s is %v, want %v", gv.Type().Field(i).Name, g, w))
		}
	}
	return out
}

func init() {
	register(Spec{Clause: "CRED2-CREATE", Level: Must, Kinds: cred, Area: Lifecycle,
		Text: "cred_p_create returns a credential whose buffer holds the packed arguments and, with sign_it, a signature",
		Body: func(c *Ctx) {
			k := c.cred2Kit()
			v := k.create(k.jobArg(0), true)
			signed := checkCreated("cred_p_create", v, true)
			u := k.create(k.jobArg(0), false)
			unsigned := checkCreated("cred_p_create", u, false)
			Expect(unsigned).To(Equal(signed), "the packed arguments of the same job are %d bytes signed and %d unsigned", signed, unsigned)
			if c.Profile().Has(profile.OpSbcastCreate) {
				checkCreated("sbcast_p_create", k.sbcastCreate(k.sbcastArg(0)), true)
			}
		}})
	register(Spec{Clause: "CRED2-ROUNDTRIP", Level: Must, Kinds: cred, Area: Wire,
		Text: "create, then unpack as slurmd, gives a verified credential carrying the same arguments and consumes exactly the packed bytes",
		Body: func(c *Ctx) {
			k := c.cred2Kit(profile.OpSbcastCreate, profile.OpSbcastUnpack)
			want := k.jobArg(1)
			v := k.create(want, true)
			u := k.unpack(v.Buffer, false)
			Expect(u.ptr).NotTo(BeZero(), "cred_p_unpack as slurmd refused the credential cred_p_create just made (%d bytes)", len(v.Buffer))
			Expect(u.consumed).To(Equal(uint32(len(v.Buffer))), "cred_p_unpack consumed %d of the %d packed bytes", u.consumed, len(v.Buffer))
			Expect(u.view.Verified).To(BeTrue(), "cred_p_unpack as slurmd did not verify a fresh credential")
			Expect(u.view.Signature).To(Equal(v.Signature), "the unpacked signature differs")
			k.sameJobArg(u.view.Arg, want)

			// slurmctld sends unsigned job credentials too (sign_it
			// false: REQUEST_TERMINATE_JOB's), and slurmd needs their
			// arguments to end the job: refused (NULL), the node never
			// cleans up and drains.
			uw := k.jobArg(5)
			uv := k.create(uw, false)
			uu := k.unpack(uv.Buffer, false)
			Expect(uu.ptr).NotTo(BeZero(), "cred_p_unpack as slurmd refused (NULL) an unsigned credential of cred_p_create(sign_it=false), as slurmctld sends with REQUEST_TERMINATE_JOB: slurmd cannot end the job")
			k.sameJobArg(uu.view.Arg, uw)

			sw := k.sbcastArg(1)
			s := k.sbcastCreate(sw)
			su := k.unpack(s.Buffer, true)
			Expect(su.ptr).NotTo(BeZero(), "sbcast_p_unpack(verify=true) refused the credential sbcast_p_create just made")
			Expect(su.consumed).To(Equal(uint32(len(s.Buffer))), "sbcast_p_unpack consumed %d of the %d packed bytes", su.consumed, len(s.Buffer))
			Expect(su.view.Verified).To(BeTrue(), "sbcast_p_unpack(verify=true) did not mark a fresh credential verified")
			k.sameSbcastArg(su.view.Sbcast, sw)
			k.netRoundTrip()
		}})
	register(Spec{Clause: "CRED2-TAMPER", Level: Must, Kinds: cred, Area: Security,
		Text: "as slurmd, every changed byte of the signed part or the signature, a moved, forged or missing signature gives no verified credential",
		Body: func(c *Ctx) {
			k := c.cred2Kit(profile.OpSbcastCreate, profile.OpSbcastUnpack)
			k.tamper("job credential", k.freshJob(k.jobArg(2)), false)
			k.tamper("sbcast credential", k.freshSbcast(k.sbcastArg(2)), true)
			k.netTamper()
		}})
	register(Spec{Clause: "CRED2-EXPIRY", Level: Must, Kinds: cred, Area: Security,
		Long:   "waits out the credential lifetime",
		Sleeps: 1,
		Text:   "as slurmd, a credential past its lifetime (sbcast expiration, signature TTL) is not verified, one within it is",
		Body:   func(c *Ctx) { c.cred2Expiry() }})
	register(Spec{Clause: "CRED2-REPLAY", Level: Should, Kinds: cred, Area: Security,
		Text: "as slurmd, a second unpack of the same credential bytes is refused",
		Body: func(c *Ctx) {
			k := c.cred2Kit()
			v := k.create(k.jobArg(30), true)
			u := k.unpack(v.Buffer, false)
			Expect(u.ptr != 0 && u.view.Verified).To(BeTrue(), "the first unpack did not verify (see CRED2-ROUNDTRIP)")
			u = k.unpack(v.Buffer, false)
			Expect(u.ptr != 0 && u.view.Verified).To(BeFalse(), "the same credential bytes verified twice as slurmd")
		}})
	register(Spec{Clause: "CRED2-NULL", Level: Should, Kinds: cred, Area: Robustness,
		Text: "NULL arguments and buffers give NULL, never a crash",
		Body: func(c *Ctx) {
			c.Need(profile.OpCredCreate, profile.OpCredUnpack)
			cr := c.CredAs("slurmd")
			pv := c.Protocol()
			calls := []struct {
				what string
				op   profile.Op
				args []loader.Arg
			}{
				{"cred_p_create(NULL, true)", profile.OpCredCreate, []loader.Arg{loader.Null, loader.Int(1), loader.Int(int64(pv))}},
				{"cred_p_unpack(NULL)", profile.OpCredUnpack, []loader.Arg{loader.Null, loader.Int(int64(pv))}},
				{"sbcast_p_create(NULL)", profile.OpSbcastCreate, []loader.Arg{loader.Null, loader.Int(int64(pv))}},
				{"sbcast_p_unpack(NULL, true)", profile.OpSbcastUnpack, []loader.Arg{loader.Null, loader.Int(1), loader.Int(int64(pv)), loader.Int(int64(pv))}},
				{"cred_p_create_net_cred(NULL)", profile.OpCreateNetCred, []loader.Arg{loader.Null, loader.Int(int64(pv))}},
				{"cred_p_extract_net_cred(NULL)", profile.OpExtractNetCred, []loader.Arg{loader.Null, loader.Int(int64(pv))}},
			}
			for _, call := range calls {
				f := c.Profile().Func(call.op)
				if f == nil {
					continue
				}
				args := call.args
				if call.op == profile.OpSbcastUnpack && len(f.Params) == 4 {
					args = []loader.Arg{loader.Null, loader.Int(1), loader.Int(0), loader.Int(int64(pv))}
				}
				r, err := cr.W.Call(f.Symbol, args...)
				Expect(err).NotTo(HaveOccurred(), call.what)
				Expect(r.Ptr()).To(BeZero(), "%s returned a non-NULL pointer", call.what)
			}
		}})
	register(Spec{Clause: "CRED2-CONCURRENT", Level: Should, Kinds: cred, Area: Robustness,
		Text: "four threads creating and unpacking (as slurmd) at once all succeed",
		Body: func(c *Ctx) {
			k := c.cred2Kit()
			res := k.cycles(4, 100)
			Expect(res.Failed).To(BeZero(), "%d of 400 create/unpack cycles failed; first: %s", res.Failed, res.FirstFailure)
		}})
	register(Spec{Clause: "CRED2-LEAK", Level: Should, Kinds: cred, Area: Performance,
		Long: "10,100 create, unpack and destroy cycles as slurmd",
		Text: "10,000 create/unpack/destroy cycles grow heap in use by less than 1 MiB",
		Body: func(c *Ctx) {
			k := c.cred2Kit()
			warm := k.cycles(1, 100)
			Expect(warm.Failed).To(BeZero(), "cycles fail: %s", warm.FirstFailure)
			res := k.cycles(1, 10000)
			Expect(res.Failed).To(BeZero(), "cycles fail: %s", res.FirstFailure)
			Expect(res.HeapGrowth).To(BeNumerically("<", 1<<20), "heap grew by %d bytes over 10,000 cycles", res.HeapGrowth)
		}})
}

// cycles runs create/unpack/destroy loops in the slurmd worker.
func (k *cred2Kit) cycles(threads, iterations int) loader.CycleResult {
	arg, err := k.vf.BuildCredArg(k.abi, k.jobArg(40))
	Expect(err).NotTo(HaveOccurred())
	res, err := k.vf.Cycles2(k.abi, threads, iterations, arg, k.pv, true)
	Expect(err).NotTo(HaveOccurred(), "create/unpack cycles")
	return res
}

// cred2Expiry: an sbcast credential whose expiration has passed is
// refused by sbcast_p_unpack(verify=true), whatever the setup; a job
// credential is refused after the signature's lifetime, which is either
// the run's short TTL (--auth-ttl, waited out) or, for cred/munge with a
// munged whose key the suite knows, a MUNGE signature the reference codec
// makes with the run's key and an encode time an hour ago.
func (c *Ctx) cred2Expiry() {
	k := c.cred2Kit()
	if c.Profile().Has(profile.OpSbcastCreate) && c.Profile().Has(profile.OpSbcastUnpack) {
		a := k.sbcastArg(20)
		a.Expiration = time.Now().Add(-time.Minute).Unix()
		v := k.sbcastCreate(a)
		u := k.unpack(v.Buffer, true)
		Expect(u.ptr != 0 && u.view.Verified).To(BeFalse(), "sbcast_p_unpack(verify=true) verified an sbcast credential that expired a minute ago")
	}
	if ttl := c.run.cfg.AuthTTL; ttl > 0 {
		within, after := k.create(k.jobArg(21), true), k.create(k.jobArg(22), true)
		u := k.unpack(within.Buffer, false)
		Expect(u.ptr != 0 && u.view.Verified).To(BeTrue(), "a credential unpacked within its lifetime (%d s) did not verify", ttl)
		time.Sleep(time.Duration(ttl)*time.Second + 1500*time.Millisecond)
		u = k.unpack(after.Buffer, false)
		Expect(u.ptr != 0 && u.view.Verified).To(BeFalse(), "a credential unpacked %.1f s after it was made verified (lifetime %d s)",
			float64(ttl)+1.5, ttl)
		return
	}
	if c.Target().Plugin.Minor() != "munge" || c.run.mungeKey == nil {
		c.NotTested("the job credential's lifetime needs a short TTL in the setup (--auth-ttl N), or cred/munge with --munged auto")
	}
	key, err := munge.NewKey(c.run.mungeKey)
	Expect(err).NotTo(HaveOccurred())
	v := k.create(k.jobArg(23), true)
	start, _, ok := trailingSig(v.Buffer)
	Expect(ok).To(BeTrue(), "no trailing signature (see CRED2-CREATE)")
	body := v.Buffer[:start]
	sign := func(encoded time.Time) []byte {
		m := munge.NewCred(k.uid, k.gid, body)
		m.EncodeTime = uint32(encoded.Unix())
		text, err := munge.Encode(key, m, nil)
		Expect(err).NotTo(HaveOccurred())
		return append(bytes.Clone(body), packstr(text)...)
	}
	u := k.unpack(sign(time.Now()), false)
	if u.ptr == 0 || !u.view.Verified {
		c.NotTested("the plugin refuses a MUNGE signature the reference codec makes now with the run's key, so an expired one proves nothing")
	}
	u = k.unpack(sign(time.Now().Add(-time.Hour)), false)
	Expect(u.ptr != 0 && u.view.Verified).To(BeFalse(), "a credential whose MUNGE signature was made an hour ago (TTL %d s) verified", munge.DefaultTTL)
}

// tamper unpacks every forgery as slurmd; none may come out verified.
// Each forgery starts from a credential made for it (fresh() gives the
// packed bytes of a new credential with the same arguments): a plugin or
// munged that remembers what it verified would otherwise refuse every
// forgery of an already-seen credential as a replay, hiding one it would
// accept.
func (k *cred2Kit) tamper(what string, fresh func() []byte, sbcast bool) {
	// The sanity check: an untouched credential verifies, or the
	// rejections below prove nothing.
	u := k.unpack(fresh(), sbcast)
	Expect(u.ptr != 0 && u.view.Verified).To(BeTrue(), "%s: an untouched credential does not verify as slurmd (see CRED2-ROUNDTRIP)", what)
	other := fresh()
	ostart, _, ok := trailingSig(other)
	Expect(ok).To(BeTrue(), "%s: no trailing signature in the credential (see CRED2-CREATE)", what)
	// A forgery that crashes or hangs the unpack is not accepted; it is
	// CRED2-UNPACK-BAD's finding (its corpus has the same single-byte
	// changes), noted here, and the next forgery goes to a fresh slurmd.
	var crashes []string
	reject := func(how string, b []byte) {
		u, err := k.tryUnpack(b, sbcast)
		if err != nil {
			if k.vf.W.Err() == nil {
				Expect(err).NotTo(HaveOccurred(), "%s: unpacking as slurmd after %s", what, how)
			}
			crashes = append(crashes, fmt.Sprintf("%s: %v", how, err))
			k.vf = k.c.CredAs("slurmd")
			return
		}
		if u.ptr != 0 && u.view.Verified {
			ginkgo.Fail(fmt.Sprintf("%s: unpacked as slurmd and verified after %s", what, how))
		}
	}
	defer func() {
		if len(crashes) > 0 {
			ginkgo.AddReportEntry(fmt.Sprintf("%s: %d forgeries ended the slurmd worker (CRED2-UNPACK-BAD)", what, len(crashes)),
				strings.Join(tailOf(crashes, 10), "\n"))
		}
	}()
	// next is a new credential split at its signature.
	next := func() (b []byte, start int, sig string) {
		b = fresh()
		start, sig, ok := trailingSig(b)
		Expect(ok && sig != "").To(BeTrue(), "%s: no trailing signature to tamper with (see CRED2-CREATE)", what)
		return b, start, sig
	}
	_, bodyLen, _ := next()
	for i := 0; i < bodyLen; i++ {
		b, start, _ := next()
		if i >= start {
			break
		}
		b[i] ^= 0x01
		reject(fmt.Sprintf("changing byte %d of the signed part (%d bytes)", i, start), b)
	}
	for i := 0; ; i++ {
		b, start, sig := next()
		if i >= len(sig) {
			break
		}
		b[start+4+i] ^= 0x01
		if sameSignature(sig, string(b[start+4:start+4+len(sig)])) {
			continue
		}
		reject(fmt.Sprintf("changing byte %d (%q) of the signature %q", i, sig[i], sig), b)
	}
	b, start, sig := next()
	body := b[:start]
	withSig := func(s []byte) []byte { return append(bytes.Clone(body), s...) }
	reject("moving the signature of another credential onto it", withSig(other[ostart:]))
	reject("removing the signature (packnull)", withSig([]byte{0, 0, 0, 0}))
	forged := bytes.Repeat([]byte{'A'}, len(sig))
	copy(forged, "MUNGE:")
	reject("a forged signature of the same length", withSig(packstr(string(forged))))
	reject("cred/none's constant signature", withSig(packstr("fake signature")))
	if k.c.Target().Plugin.Minor() == "munge" {
		// A valid MUNGE credential over the same bytes, from the right
		// uid, made with a key that is not munged's.
		other := make([]byte, 1024)
		rand.Read(other)
		key, err := munge.NewKey(other)
		Expect(err).NotTo(HaveOccurred())
		text, err := munge.Encode(key, munge.NewCred(k.uid, k.gid, body), nil)
		Expect(err).NotTo(HaveOccurred())
		reject("a MUNGE signature made with another key", withSig(packstr(text)))
	}
}

// sameSignature reports whether a changed MUNGE signature still says the
// same thing to munged: its base64 decoder ignores the unused low bits of
// the last character, so whether flipping one there changes anything
// depends on the credential's length, which munged's random salt varies
// from credential to credential. Such a change is no forgery.
func sameSignature(sig, changed string) bool {
	a, errA := munge.Unarmor(sig)
	b, errB := munge.Unarmor(changed)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

func packstr(s string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(s)+1))
	return append(append(b, s...), 0)
}

// hostile is one input CRED2-UNPACK-BAD feeds an unpack function.
type hostile struct {
	what   string
	b      []byte
	reject bool // must give NULL; otherwise only survived
}

// madeUnpackBad is CRED2-UNPACK-BAD on credentials the plugin made itself,
// unpacked as slurmd (which receives them): every truncation (refused),
// every single-byte change and hostile 32-bit values at every offset
// (survived: a change inside a string leaves a well-formed credential,
// which verification then refuses or not, CRED2-TAMPER's business), and,
// where the identity's group ids and names can be found in the bytes,
// internally inconsistent counts (refused): the shapes of the
// unpack_identity defect `plugincheck fuzz` finds (docs/real-plugins.md).
// Without cred_p_create or a layout table there is nothing to mutate.
func (c *Ctx) madeUnpackBad() {
	if abi, _ := c.credABIOrNil(); !c.Profile().Has(profile.OpCredCreate) || abi == nil {
		return
	}
	k := c.cred2Kit()
	job := k.create(k.jobArg(9), true).Buffer
	k.survive("cred_p_unpack", k.hostiles(job), false)
	if c.Profile().Has(profile.OpSbcastCreate) && c.Profile().Has(profile.OpSbcastUnpack) {
		sb := k.sbcastCreate(k.sbcastArg(9)).Buffer
		k.survive("sbcast_p_unpack(verify=true)", k.hostiles(sb), true)
	}
}

// credABIOrNil is the release's cred structures (the plugin's release,
// else the host's), nil when the release is unknown or has no table.
func (c *Ctx) credABIOrNil() (*profile.CredABI, *profile.Version) {
	t := c.Target()
	ver := t.Plugin.Version
	if ver == nil {
		ver = t.Host.Version
	}
	if ver == nil {
		return nil, nil
	}
	return profile.CredABIFor(*ver), ver
}

// survive feeds every input to a fresh-enough slurmd worker; a crash or a
// hang fails the spec, naming the input.
func (k *cred2Kit) survive(fn string, inputs []hostile, sbcast bool) {
	for _, in := range inputs {
		accepted, err := k.accepts(in.b, sbcast)
		if err != nil {
			ginkgo.Fail(fmt.Sprintf("%s of a credential the plugin made, with %s (%d bytes): %v", fn, in.what, len(in.b), err))
		}
		if in.reject && accepted {
			ginkgo.Fail(fmt.Sprintf("%s accepted a credential the plugin made with %s", fn, in.what))
		}
	}
}

// hostiles are the inputs made from one valid credential, the
// structure-aware ones first.
func (k *cred2Kit) hostiles(valid []byte) []hostile {
	out := k.identityCounts(valid)
	for n := 0; n < len(valid); n++ {
		out = append(out, hostile{fmt.Sprintf("only its first %d bytes", n), valid[:n], true})
	}
	for i := range valid {
		b := bytes.Clone(valid)
		b[i] ^= 0x01
		out = append(out, hostile{fmt.Sprintf("byte %d changed", i), b, false})
	}
	_, rewritten := mutations(valid)
	for i, b := range rewritten {
		out = append(out, hostile{fmt.Sprintf("a hostile 32-bit value at offset %d", i/4), b, false})
	}
	// Every 32-bit word that reads as a count or a length (1 to 65536)
	// one less and one more: a count that disagrees with what follows by
	// one element, the inconsistency no random value hits.
	for off := 0; off+4 <= len(valid); off++ {
		v := binary.BigEndian.Uint32(valid[off:])
		if v == 0 || v > 1<<16 {
			continue
		}
		for _, w := range []uint32{v - 1, v + 1} {
			b := bytes.Clone(valid)
			binary.BigEndian.PutUint32(b[off:], w)
			out = append(out, hostile{fmt.Sprintf("the count %d at offset %d made %d", v, off, w), b, false})
		}
	}
	return out
}

// identityCounts finds the identity's gid array and group names in a
// packed credential (as pack32_array and packstr_array write them) and
// makes their counts disagree.
func (k *cred2Kit) identityCounts(valid []byte) []hostile {
	id := k.identity()
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	gids := be(uint32(len(id.GIDs)))
	for _, g := range id.GIDs {
		gids = append(gids, be(g)...)
	}
	names := be(uint32(len(id.GroupNames)))
	for _, n := range id.GroupNames {
		names = append(names, packstr(n)...)
	}
	g := bytes.Index(valid, append(bytes.Clone(gids), names...))
	if g < 0 {
		return nil // another wire format: the generic inputs only
	}
	n := g + len(gids)                   // the names' count
	rest := valid[n+len(names):]         // what follows the identity
	with := func(mid ...[]byte) []byte { // valid[:g] + mid + rest
		b := bytes.Clone(valid[:g])
		for _, m := range mid {
			b = append(b, m...)
		}
		return append(b, rest...)
	}
	var out []hostile
	for _, cnt := range []uint32{1, 2, 4, 1 << 20, 0xffffffff} {
		b := bytes.Clone(valid)
		binary.BigEndian.PutUint32(b[n:], cnt)
		out = append(out, hostile{fmt.Sprintf("%d gids and a group-name count of %d", len(id.GIDs), cnt), b, true})
	}
	// Many gids and two names: a destructor that frees a name per gid
	// reads far past the names array (the fuzzer's 15,000 and 2).
	many := be(15000)
	for i := range 15000 {
		many = append(many, be(uint32(1000+i))...)
	}
	out = append(out, hostile{"15000 gids and 2 group names", with(many, be(2), packstr("aa"), packstr("bb")), true})
	// A name count with no names after it (the 26.05 reproducers).
	for _, cnt := range []uint32{1, 4} {
		b := append(bytes.Clone(valid[:n]), be(cnt)...)
		out = append(out, hostile{fmt.Sprintf("a group-name count of %d and nothing after it", cnt), b, true})
	}
	return out
}

// netAddrs are the node addresses a net credential carries in the specs.
func netAddrs() *loader.NetAddrs {
	return &loader.NetAddrs{NodeList: "n[1-2]", Addrs: []loader.NetAddr{{IP: [4]byte{10, 0, 0, 1}, Port: 6818}, {IP: [4]byte{10, 0, 0, 2}, Port: 6819}}}
}

// netCred makes a net credential in the creator; "" when the plugin does
// not implement them (NULL, as cred/none), which is reported.
func (k *cred2Kit) netCred() string {
	if !k.c.Profile().Has(profile.OpCreateNetCred) || !k.c.Profile().Has(profile.OpExtractNetCred) {
		return ""
	}
	p, s, _, err := k.mk.CreateNetCred(k.abi, netAddrs(), k.pv)
	Expect(err).NotTo(HaveOccurred(), "cred_p_create_net_cred")
	if p == 0 {
		ginkgo.AddReportEntry("net credentials not applicable", "cred_p_create_net_cred returned NULL: the plugin does not implement net credentials")
		return ""
	}
	Expect(s).NotTo(BeEmpty(), "cred_p_create_net_cred returned an empty string")
	return s
}

// netRoundTrip: cred_p_extract_net_cred in slurmd gives back the node
// list and addresses cred_p_create_net_cred was given, with an expiration
// still ahead.
func (k *cred2Kit) netRoundTrip() {
	s := k.netCred()
	if s == "" {
		return
	}
	got, r, err := k.vf.ExtractNetCred(k.abi, s, k.pv)
	Expect(err).NotTo(HaveOccurred(), "cred_p_extract_net_cred")
	Expect(got).NotTo(BeNil(), "cred_p_extract_net_cred as slurmd refused the net credential just made (errno %d)", r.Errno)
	want := netAddrs()
	Expect(got.NodeList).To(Equal(want.NodeList), "the extracted node list")
	Expect(got.Addrs).To(Equal(want.Addrs), "the extracted node addresses")
	Expect(got.Expiration).To(BeNumerically(">", time.Now().Unix()), "the extracted net credential has already expired (expiration %d)", got.Expiration)
}

// netTamper: no changed byte of a net credential, no forged one, no other
// string extracts.
func (k *cred2Kit) netTamper() {
	s := k.netCred()
	if s == "" {
		return
	}
	reject := func(how, forged string) {
		got, _, err := k.vf.ExtractNetCred(k.abi, forged, k.pv)
		if err != nil && k.vf.W.Err() != nil {
			ginkgo.AddReportEntry("net credential forgery ended the slurmd worker", fmt.Sprintf("%s: %v", how, err))
			k.vf = k.c.CredAs("slurmd")
			return
		}
		Expect(err).NotTo(HaveOccurred(), "cred_p_extract_net_cred after %s", how)
		if got != nil {
			ginkgo.Fail(fmt.Sprintf("net credential: cred_p_extract_net_cred as slurmd accepted it after %s", how))
		}
	}
	for i := range len(s) {
		b := []byte(s)
		b[i] ^= 0x01
		if b[i] == 0 {
			continue // would only shorten the string
		}
		reject(fmt.Sprintf("changing byte %d (%q)", i, s[i]), string(b))
	}
	forged := bytes.Repeat([]byte{'A'}, len(s))
	copy(forged, "MUNGE:")
	reject("a forged net credential of the same length", string(forged))
	reject("an empty net credential", "")
}
