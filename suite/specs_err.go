package suite

import (
	"fmt"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// outcome is one call made to provoke failures: what it returned and its
// errno. Probes pass only valid pointers: NULL handling is AUTH-NULL's
// business, a SHOULD, and must not turn into a MUST failure here.
type outcome struct {
	call   string
	ret    profile.CType
	value  int64 // int return, or pointer (0 = NULL)
	errno  int32
	failed bool
}

// probeLog collects outcomes; a call failed when an int return is non-zero
// or a pointer return is NULL.
type probeLog []outcome

func (l *probeLog) add(call string, ret profile.CType, value int64, errno int32) {
	failed := ret == profile.Int && value != 0 || ret == profile.Ptr && value == 0
	*l = append(*l, outcome{call, ret, value, errno, failed})
}

func (o outcome) String() string {
	return fmt.Sprintf("%s returned %d with errno %d", o.call, o.value, o.errno)
}

// authProbes makes calls that a plugin may reject: verify of every tampered
// copy, unpack of truncated bytes and at a protocol version below the
// minimum, pack at that version, and an unsupported thread_config.
func (c *Ctx) authProbes() []outcome {
	k := c.authKit()
	var out probeLog
	add := out.add
	cred := k.create([]byte("probe"))
	packed := k.pack(cred)
	for i, v := range flips(packed) {
		got, _, r, err := k.a.UnpackBytes(v, k.pv)
		Expect(err).NotTo(HaveOccurred())
		if got == 0 {
			add(fmt.Sprintf("unpack(byte %d changed)", i), profile.Ptr, 0, r.Errno)
			continue
		}
		rc, errno := k.verify(got)
		add(fmt.Sprintf("verify(byte %d changed)", i), profile.Int, int64(rc), errno)
		k.destroy(got)
	}
	for _, n := range []int{0, len(packed) / 2, len(packed) - 1} {
		got, _, r, err := k.a.UnpackBytes(packed[:n], k.pv)
		Expect(err).NotTo(HaveOccurred())
		add(fmt.Sprintf("unpack(first %d of %d bytes)", n, len(packed)), profile.Ptr, int64(got), r.Errno)
		if got != 0 {
			k.destroy(got)
		}
	}
	old := c.Series().MinProtocol - 0x100
	got, _, r, err := k.a.UnpackBytes(packed, old)
	Expect(err).NotTo(HaveOccurred())
	add(fmt.Sprintf("unpack(protocol %#x, below the minimum)", old), profile.Ptr, int64(got), r.Errno)
	if got != 0 {
		k.destroy(got)
	}
	buf, err := k.a.W.NewBuf(1024, nil)
	Expect(err).NotTo(HaveOccurred())
	rc, r, err := k.a.Pack(cred, buf, old)
	Expect(err).NotTo(HaveOccurred())
	add(fmt.Sprintf("pack(protocol %#x, below the minimum)", old), profile.Int, int64(rc), r.Errno)
	k.a.W.FreeBuf(buf)
	if k.a.Profile.Has(profile.OpThreadConfig) {
		token, user := "plugincheck-not-a-token", "plugincheck-no-such-user"
		rc, r, err := k.a.ThreadConfig(&token, &user)
		Expect(err).NotTo(HaveOccurred())
		add("thread_config(bogus token, unknown user)", profile.Int, int64(rc), r.Errno)
		k.a.ThreadClear()
	}
	if f := k.a.Profile.Func(profile.OpDestroy); f.Ret == profile.Int {
		rc, r, err := k.a.Destroy(cred)
		Expect(err).NotTo(HaveOccurred())
		add("destroy(created)", profile.Int, int64(rc), r.Errno)
	}
	return out
}

func init() {
	register(Spec{Clause: "ERR-RETURN", Level: Must, Kinds: auth, Area: Errno,
		Text: "integer-valued functions return SLURM_SUCCESS or SLURM_ERROR, never an errno value",
		Body: func(c *Ctx) {
			for _, o := range c.authProbes() {
				if o.ret == profile.Int {
					Expect(o.value).To(BeElementOf(int64(0), int64(-1)), o.String())
				}
			}
		}})
	register(Spec{Clause: "ERR-SET", Level: Must, Kinds: auth, Area: Errno,
		Text: "every failing call leaves a non-zero errno",
		Body: func(c *Ctx) {
			for _, o := range c.authProbes() {
				if o.failed {
					Expect(o.errno).NotTo(BeZero(), "%s: failed without setting errno", o)
				}
			}
		}})
	register(Spec{Clause: "ERR-FAMILY", Level: Should, Kinds: auth, Area: Errno,
		Text: "failures use ESLURM_AUTH_* errno values that slurm_strerror describes",
		Body: func(c *Ctx) {
			probes := c.authProbes()
			w := c.workers[len(c.workers)-1]
			for _, o := range probes {
				if !o.failed || o.errno == 0 {
					continue
				}
				Expect(o.errno).To(BeNumerically(">=", 6000), "%s: errno outside the ESLURM_AUTH_* family (6000–6099)", o)
				Expect(o.errno).To(BeNumerically("<", 6100), "%s: errno outside the ESLURM_AUTH_* family (6000–6099)", o)
				Expect(describe(w, o.errno)).NotTo(BeEmpty(), "%s: slurm_strerror has no text for it", o)
			}
		}})
}

// describe is slurm_strerror(errno) in the worker's host.
func describe(w *loader.Worker, errno int32) string {
	if !w.Has("slurm_strerror") {
		return "?"
	}
	r, err := w.Call("slurm_strerror", loader.Int(int64(errno)))
	Expect(err).NotTo(HaveOccurred())
	if r.Ptr() == 0 {
		return ""
	}
	s, _, err := w.CStringAt(r.Ptr(), 1024)
	Expect(err).NotTo(HaveOccurred())
	if s == "Unknown error" || s == fmt.Sprintf("Unknown error %d", errno) {
		return ""
	}
	return s
}
