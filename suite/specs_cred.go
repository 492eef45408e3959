package suite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// credKit is an initialised cred plugin (key API) with its keys read.
type credKit struct {
	c         *Ctx
	cr        *loader.Cred
	priv, pub uintptr
}

// credKit starts a worker, calls init and reads the run's key pair; the
// generation must have the key API.
func (c *Ctx) credKit() *credKit {
	c.Need(profile.OpSign)
	cr := c.Cred()
	k := &credKit{c: c, cr: cr}
	keys := c.run.keys
	var r loader.Result
	var err error
	k.priv, r, err = cr.ReadPrivateKey(&keys.private)
	Expect(err).NotTo(HaveOccurred())
	Expect(k.priv).NotTo(BeZero(), "read_private_key(%s) returned NULL, errno %d", keys.private, r.Errno)
	k.pub, r, err = cr.ReadPublicKey(&keys.public)
	Expect(err).NotTo(HaveOccurred())
	Expect(k.pub).NotTo(BeZero(), "read_public_key(%s) returned NULL, errno %d", keys.public, r.Errno)
	return k
}

// sign must succeed; the signature's bytes are returned and the signature
// freed with xfree (after checking it came from xmalloc).
func (k *credKit) sign(data []byte) []byte {
	sig, rc, r, err := k.cr.Sign(k.priv, data)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "sign of %d bytes returned %d, errno %d", len(data), rc, r.Errno)
	Expect(sig.Ptr).NotTo(BeZero(), "sign of %d bytes gave a NULL signature", len(data))
	Expect(sig.Size).To(BeNumerically(">", 0), "sign of %d bytes gave a signature of size 0", len(data))
	b, err := k.cr.SignatureBytes(sig)
	Expect(err).NotTo(HaveOccurred())
	Expect(k.cr.FreeSignature(sig)).To(Succeed(), "freeing the signature as Slurm does (xfree)")
	return b
}

// verify returns verify_sign's code and errno. replayOK is passed where the
// generation has it: true unless the spec is about replays.
func (k *credKit) verify(data, sig []byte, replayOK bool) (int32, int32) {
	rc, r, err := k.cr.VerifySign(k.pub, data, sig, replayOK)
	Expect(err).NotTo(HaveOccurred())
	return rc, r.Errno
}

// sizes are the buffer sizes CRED-SIGN and CRED-VERIFY require: up to the
// 64 KiB of real job-step credentials.
var sizes = []int{0, 1, 100, 64 << 10}

// bigSize is the buffer a plugin SHOULD sign too: munged refuses requests
// near its 1 MiB limit, so Debian's cred/munge gets a warning, not a
// failure, for what no framework asks of it.
const bigSize = 1 << 20

func buffer(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// rejection is one verify_sign call that must fail.
type rejection struct {
	what      string
	data, sig []byte
}

// rejections builds every CRED-TAMPER case for data and its signature.
func rejections(data, sig, other []byte) []rejection {
	var out []rejection
	for i := range data {
		d := append([]byte(nil), data...)
		d[i] ^= 0x01
		out = append(out, rejection{fmt.Sprintf("buffer byte %d changed", i), d, sig})
	}
	out = append(out,
		rejection{"buffer truncated by one byte", data[:len(data)-1], sig},
		rejection{"buffer extended by one byte", append(append([]byte(nil), data...), 'x'), sig},
		rejection{"signature truncated by one byte", data, sig[:len(sig)-1]},
		rejection{"signature truncated to half", data, sig[:len(sig)/2]},
		rejection{"empty signature", data, []byte{}},
		rejection{"signature of another buffer", data, other},
	)
	for i := range sig {
		s := append([]byte(nil), sig...)
		s[i] ^= 0x01
		if sameSignature(string(sig), string(s)) {
			continue // unused bits of a MUNGE signature: no forgery
		}
		out = append(out, rejection{fmt.Sprintf("signature byte %d changed", i), data, s})
	}
	return out
}

// plainRejections are rejections any plugin must survive: changed buffers,
// another buffer's signature, no signature. Changed signatures (which can
// lose their NUL) are CRED-TAMPER's, so an over-read is reported there
// and not again by every errno clause.
func plainRejections(data, sig, other []byte) []rejection {
	var out []rejection
	for _, r := range rejections(data, sig, other) {
		if !strings.HasPrefix(r.what, "signature ") || r.what == "signature of another buffer" {
			out = append(out, r)
		}
	}
	return out
}

func init() {
	register(Spec{Clause: "CRED-KEY", Level: Must, Kinds: cred, Area: Lifecycle,
		Text: "read_private_key and read_public_key return a key for valid key files, and destroy_key releases each",
		Body: func(c *Ctx) {
			k := c.credKit()
			for _, key := range []uintptr{k.priv, k.pub} {
				_, err := k.cr.DestroyKey(key)
				Expect(err).NotTo(HaveOccurred())
			}
		}})
	register(Spec{Clause: "CRED-KEY-BAD", Level: Should, Kinds: cred, Area: Robustness,
		Text: "a missing, unreadable, empty or corrupt key file gives NULL with errno, and no crash",
		Body: func(c *Ctx) {
			c.Need(profile.OpSign)
			cr, err := c.StartWithoutKeyAccess().Cred()
			Expect(err).NotTo(HaveOccurred())
			c.init(cr.Init)
			keys := c.run.keys
			ignored := 0
			cases := []struct{ what, path string }{{"missing", keys.missing}, {"unreadable", keys.unreadable}, {"empty", keys.empty}, {"corrupt (3 bytes)", keys.corrupt}}
			for _, read := range []func(*string) (uintptr, loader.Result, error){cr.ReadPrivateKey, cr.ReadPublicKey} {
				for _, kc := range cases {
					path := kc.path
					key, r, err := read(&path)
					Expect(err).NotTo(HaveOccurred(), "reading a %s key file", kc.what)
					if key != 0 {
						ignored++
						cr.DestroyKey(key)
						continue
					}
					Expect(r.Errno).NotTo(BeZero(), "reading a %s key file returned NULL without errno", kc.what)
				}
			}
			Expect(ignored).To(BeZero(), "%d of 8 bad key files gave a key: the plugin ignores the key path or does not check the key", ignored)
		}})
	register(Spec{Clause: "CRED-SIGN", Level: Must, Kinds: cred, Area: Lifecycle,
		Text: "sign succeeds for 0, 1, 100 and 64 KiB buffers with an xmalloc'd signature of non-zero size",
		Body: func(c *Ctx) {
			k := c.credKit()
			for _, n := range sizes {
				k.sign(buffer(n))
			}
		}})
	register(Spec{Clause: "CRED-SIGN", Level: Should, Kinds: cred, Area: Lifecycle,
		Text: "a 1 MiB buffer signs too, and its signature verifies",
		Body: func(c *Ctx) {
			k := c.credKit()
			data := buffer(bigSize)
			rc, errno := k.verify(data, k.sign(data), true)
			Expect(rc).To(BeZero(), "verify_sign of a fresh signature over 1 MiB returned %d, errno %d", rc, errno)
		}})
	register(Spec{Clause: "CRED-VERIFY", Level: Must, Kinds: cred, Area: Security,
		Text: "verify_sign accepts the signature just made for the same buffer",
		Body: func(c *Ctx) {
			k := c.credKit()
			for _, n := range sizes {
				data := buffer(n)
				rc, errno := k.verify(data, k.sign(data), true)
				Expect(rc).To(BeZero(), "verify_sign of a fresh signature over %d bytes returned %d, errno %d", n, rc, errno)
			}
		}})
	register(Spec{Clause: "CRED-TAMPER", Level: Must, Kinds: cred, Area: Security,
		Text: "verify_sign rejects every changed, truncated or extended buffer and signature, an empty one, and another buffer's",
		Body: func(c *Ctx) {
			k := c.credKit()
			data := buffer(100)
			sig := k.sign(data)
			other := k.sign(buffer(101)[1:])
			for _, rj := range rejections(data, sig, other) {
				rc, _ := k.verify(rj.data, rj.sig, true)
				Expect(rc).NotTo(BeZero(), "verify_sign accepted: %s", rj.what)
			}
		}})
	register(Spec{Clause: "CRED-FAILVAL", Level: Must, Kinds: cred, Area: Errno,
		Text: "a rejection is a non-zero return, what the framework acts on",
		Body: func(c *Ctx) {
			k := c.credKit()
			data := buffer(100)
			rc, _ := k.verify(data, []byte{}, true)
			Expect(rc).NotTo(BeZero(), "verify_sign of an empty signature returned 0")
			rc, _ = k.verify(buffer(99), k.sign(data), true)
			Expect(rc).NotTo(BeZero(), "verify_sign of another buffer returned 0")
		}})
	register(Spec{Clause: "CRED-FAILVAL", Level: Should, Kinds: cred, Area: Errno,
		Text: "a rejection returns SLURM_ERROR with errno set, as the seed document says",
		Body: func(c *Ctx) {
			k := c.credKit()
			data := buffer(100)
			sig := k.sign(data)
			for _, rj := range plainRejections(data, sig, k.sign(buffer(7)))[95:] {
				rc, errno := k.verify(rj.data, rj.sig, true)
				if rc == 0 {
					continue // CRED-TAMPER's business
				}
				Expect(rc).To(Equal(int32(-1)), "%s: verify_sign returned the code %d, not SLURM_ERROR", rj.what, rc)
				Expect(errno).NotTo(BeZero(), "%s: SLURM_ERROR without errno", rj.what)
			}
		}})
	register(Spec{Clause: "CRED-STRERROR", Level: Must, Kinds: cred, Area: Errno,
		Text: "str_error describes every error code the plugin produced and every value sign and verify_sign returned on failure, SLURM_ERROR included",
		Body: func(c *Ctx) { c.credStrError() }})
	register(Spec{Clause: "CRED-REPLAY", Level: Should, Kinds: cred, Area: Security,
		Text: "with replay_okay false, a second verification of the same signature fails",
		Body: func(c *Ctx) {
			c.Need(profile.OpVerifySign)
			if len(c.Profile().Func(profile.OpVerifySign).Params) != 6 {
				c.NotApplicable("generation %s's verify_sign has no replay_okay (22.05.11+, 23.02.7+)", c.Profile().Name)
			}
			k := c.credKit()
			data := buffer(100)
			sig := k.sign(data)
			rc, errno := k.verify(data, sig, false)
			Expect(rc).To(BeZero(), "first verification returned %d, errno %d", rc, errno)
			rc, _ = k.verify(data, sig, false)
			Expect(rc).NotTo(BeZero(), "the same signature verified twice with replay_okay=false")
		}})
	register(Spec{Clause: "CRED-NULL", Level: Should, Kinds: cred, Area: Robustness,
		Text: "NULL key, buffer or signature arguments give an error value, and no crash",
		Body: func(c *Ctx) {
			k := c.credKit()
			data := buffer(10)
			_, rc, _, err := k.cr.SignWith(0, loader.Bytes(data), len(data))
			Expect(err).NotTo(HaveOccurred(), "sign(NULL key)")
			Expect(rc).NotTo(BeZero(), "sign(NULL key) succeeded")
			_, rc, _, err = k.cr.SignWith(k.priv, loader.Null, 10)
			Expect(err).NotTo(HaveOccurred(), "sign(NULL buffer, 10)")
			Expect(rc).NotTo(BeZero(), "sign(NULL buffer, 10) succeeded")
			sig := k.sign(data)
			rc, _, err = k.cr.VerifySignWith(0, loader.Bytes(data), len(data), loader.Guarded(sig), len(sig), true)
			Expect(err).NotTo(HaveOccurred(), "verify_sign(NULL key)")
			Expect(rc).NotTo(BeZero(), "verify_sign(NULL key) succeeded")
			rc, _, err = k.cr.VerifySignWith(k.pub, loader.Null, 10, loader.Guarded(sig), len(sig), true)
			Expect(err).NotTo(HaveOccurred(), "verify_sign(NULL buffer, 10)")
			Expect(rc).NotTo(BeZero(), "verify_sign(NULL buffer, 10) succeeded")
			rc, _, err = k.cr.VerifySignWith(k.pub, loader.Bytes(data), len(data), loader.Null, len(sig), true)
			Expect(err).NotTo(HaveOccurred(), "verify_sign(NULL signature)")
			Expect(rc).NotTo(BeZero(), "verify_sign(NULL signature) succeeded")
			_, err = k.cr.DestroyKey(0)
			Expect(err).NotTo(HaveOccurred(), "destroy_key(NULL)")
		}})
	register(Spec{Clause: "CRED-CONCURRENT", Level: Should, Kinds: cred, Area: Robustness,
		Text: "four threads signing and verifying at once all succeed",
		Body: func(c *Ctx) {
			k := c.credKit()
			res, err := k.cr.Cycles(4, 100, k.priv, k.pub, buffer(200))
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Failed).To(BeZero(), "%d of 400 sign/verify cycles failed; first: %s", res.Failed, res.FirstFailure)
		}})
	register(Spec{Clause: "CRED-LEAK", Level: Should, Kinds: cred, Area: Performance,
		Long:   "three windows of cycles, each past the credential lifetime",
		Sleeps: 2,
		Text:   "after a warm-up, sign and verify cycles (signatures freed with xfree) do not keep raising the heap by 1 MiB per 10,000",
		Body: func(c *Ctx) {
			k := c.credKit()
			l := steadyLeak(c.configuredTTL(), k.cr.W.HeapInUse, func(n int) (loader.CycleResult, error) {
				return k.cr.Cycles(1, n, k.priv, k.pub, buffer(200))
			})
			Expect(l.leaks()).To(BeFalse(), "%s", l)
		}})
	register(Spec{Clause: "CRED2-UNPACK-BAD", Level: Must, Kinds: cred, Area: Robustness,
		Text: "cred_p_unpack and sbcast_p_unpack reject truncated, corrupted, random and internally inconsistent buffers (from credentials the plugin made, unpacked as slurmd) with NULL, no crash, hang or over-read",
		Body: func(c *Ctx) { c.cred2UnpackBad() }})
	register(Spec{Clause: "ERR-RETURN", Level: Must, Kinds: cred, Area: Errno,
		Text: "sign returns SLURM_SUCCESS or SLURM_ERROR, never an errno value",
		Body: func(c *Ctx) {
			for _, o := range c.credProbes() {
				if o.call[:4] == "sign" {
					Expect(o.value).To(BeElementOf(int64(0), int64(-1)), o.String())
				}
			}
		}})
	register(Spec{Clause: "ERR-SET", Level: Must, Kinds: cred, Area: Errno,
		Text: "every failing call says why: errno, or verify_sign's error code",
		Body: func(c *Ctx) {
			for _, o := range c.credProbes() {
				if !o.failed {
					continue
				}
				described := o.errno != 0 || o.call[:6] == "verify" && o.value != -1
				Expect(described).To(BeTrue(), "%s: failed without errno", o)
			}
		}})
}

// credStrError asks str_error about what the framework asks it about:
// slurm_cred.c logs "str_error(rc)" with the value sign or verify_sign
// returned (SLURM_ERROR included), and the errno codes the plugin set. The
// seed form's str_error(void) describes the last error, after each failure.
func (c *Ctx) credStrError() {
	k := c.credKit()
	data := buffer(100)
	seedForm := len(c.Profile().Func(profile.OpStrError).Params) == 0
	codes := map[int32]string{}
	note := func(code int32, what string) {
		if _, seen := codes[code]; !seen {
			codes[code] = what
		}
	}
	failed := func(what string, rc, errno int32) {
		if seedForm {
			msg, ok, _, err := k.cr.StrError(0)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok && msg != "").To(BeTrue(), "str_error() after %s (returned %d, errno %d) returned NULL or \"\"", what, rc, errno)
			return
		}
		note(rc, "the value "+what+" returned")
		if errno != 0 {
			note(errno, "errno after "+what)
		}
	}
	for _, rj := range plainRejections(data, k.sign(data), k.sign(buffer(7)))[95:] {
		if rc, errno := k.verify(rj.data, rj.sig, true); rc != 0 {
			failed("verify_sign ("+rj.what+")", rc, errno)
		}
	}
	_, rc, r, err := k.cr.SignWith(k.priv, loader.Bytes(buffer(4)), -1)
	Expect(err).NotTo(HaveOccurred(), "sign(buf_size -1)")
	if rc != 0 {
		failed("sign (buffer size -1)", rc, r.Errno)
	}
	for code, what := range codes {
		msg, ok, _, err := k.cr.StrError(code)
		Expect(err).NotTo(HaveOccurred(), "str_error(%d)", code)
		Expect(ok).To(BeTrue(), "str_error(%d) returned NULL (%s); the framework logs str_error(rc)", code, what)
		Expect(msg).NotTo(BeEmpty(), "str_error(%d) returned \"\" (%s)", code, what)
	}
}

// credProbes makes calls a cred plugin should reject: sign with a negative
// size, a missing key file, and verify_sign of a changed buffer and of an
// empty signature.
func (c *Ctx) credProbes() []outcome {
	k := c.credKit()
	var out probeLog
	add := out.add
	_, rc, r, err := k.cr.SignWith(k.priv, loader.Bytes(buffer(4)), -1)
	Expect(err).NotTo(HaveOccurred(), "sign(buf_size -1)")
	add("sign(buffer size -1)", profile.Int, int64(rc), r.Errno)
	missing := c.run.keys.missing
	key, r, err := k.cr.ReadPrivateKey(&missing)
	Expect(err).NotTo(HaveOccurred())
	add("read_private_key(missing file)", profile.Ptr, int64(key), r.Errno)
	data := buffer(50)
	sig := k.sign(data)
	changed := append([]byte(nil), data...)
	changed[10] ^= 1
	vrc, verrno := k.verify(changed, sig, true)
	add("verify_sign(changed buffer)", profile.Int, int64(vrc), verrno)
	vrc, verrno = k.verify(data, []byte{}, true)
	add("verify_sign(empty signature)", profile.Int, int64(vrc), verrno)
	return out
}

// cred2UnpackBad feeds the 23.11+ unpack functions hostile bytes in guarded
// buffers. With no credential to start from (cred_p_create needs the
// release's struct layouts), the inputs are random bytes, zeros, and
// length fields that claim more than is there.
func (c *Ctx) cred2UnpackBad() {
	c.Need(profile.OpCredUnpack)
	cr := c.Cred()
	pv := c.Protocol()
	rng := rand.New(rand.NewPCG(uint64(ginkgo.GinkgoRandomSeed()), 0x63726564))
	var inputs [][]byte
	// Short runs of zeros are truncations; longer ones would parse as a
	// well-formed empty credential, which is not hostile input.
	for _, n := range []int{0, 1, 4, 16} {
		inputs = append(inputs, make([]byte, n))
	}
	for _, v := range []uint32{0xffffffff, 0x7fffffff, 0x40000001, 1000} {
		b := binary.BigEndian.AppendUint32(nil, v)
		inputs = append(inputs, b, append(bytes.Clone(b), 0, 0, 0, 8, 'x'))
	}
	for i := 0; i < 100; i++ {
		b := make([]byte, rng.IntN(300))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		inputs = append(inputs, b)
	}
	// Hostile length values written into a valid record need not be
	// rejected (one inside a signature leaves a well-formed credential,
	// verified only in slurmd), only survived; truncations must fail.
	survive := map[int]bool{}
	for _, sample := range c.credCorpus() {
		truncations, rewritten := mutations(sample)
		inputs = append(inputs, truncations...)
		for _, m := range rewritten {
			survive[len(inputs)] = true
			inputs = append(inputs, m)
		}
	}
	unpack := func(name string, fn func(uintptr) (uintptr, loader.Result, error)) {
		for i, in := range inputs {
			buf, err := cr.W.NewGuardedBuf(in)
			Expect(err).NotTo(HaveOccurred())
			got, _, err := fn(buf)
			Expect(err).NotTo(HaveOccurred(), "%s of input %d (%d bytes)", name, i, len(in))
			if !survive[i] {
				Expect(got).To(BeZero(), "%s accepted input %d (%d hostile bytes)", name, i, len(in))
			}
			cr.W.FreeBuf(buf)
		}
	}
	unpack("cred_p_unpack", func(b uintptr) (uintptr, loader.Result, error) { return cr.Unpack(b, pv) })
	unpack("sbcast_p_unpack", func(b uintptr) (uintptr, loader.Result, error) { return cr.SbcastUnpack(b, true, pv) })
	c.madeUnpackBad()
}

// credUse signs and verifies once with the key API; the 23.11+ API has
// nothing the suite can call without the release's struct layouts.
func (c *Ctx) credUse(cr *loader.Cred) {
	if !cr.Profile.Has(profile.OpSign) {
		return
	}
	keys := c.run.keys
	key, r, err := cr.ReadPrivateKey(&keys.private)
	Expect(err).NotTo(HaveOccurred())
	Expect(key).NotTo(BeZero(), "read_private_key returned NULL, errno %d", r.Errno)
	vkey, r, err := cr.ReadPublicKey(&keys.public)
	Expect(err).NotTo(HaveOccurred())
	Expect(vkey).NotTo(BeZero(), "read_public_key returned NULL, errno %d", r.Errno)
	data := []byte("plugincheck cred")
	sig, rc, r, err := cr.Sign(key, data)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "sign returned %d, errno %d", rc, r.Errno)
	b, err := cr.SignatureBytes(sig)
	Expect(err).NotTo(HaveOccurred())
	rc, r, err = cr.VerifySign(vkey, data, b, true)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "verify_sign returned %d, errno %d", rc, r.Errno)
	Expect(cr.FreeSignature(sig)).To(Succeed())
	_, err = cr.DestroyKey(key)
	Expect(err).NotTo(HaveOccurred())
	_, err = cr.DestroyKey(vkey)
	Expect(err).NotTo(HaveOccurred())
}

// credBadConf reads a key from a broken key file (path) and signs with
// whatever it got, in a broken environment.
func (c *Ctx) credBadConf(w *loader.Worker, path string) {
	cr, err := w.Cred()
	Expect(err).NotTo(HaveOccurred())
	if !cr.Profile.Has(profile.OpSign) {
		return
	}
	key, r, err := cr.ReadPrivateKey(&path)
	Expect(err).NotTo(HaveOccurred(), "read_private_key with a broken environment must not end the process")
	if key == 0 {
		Expect(r.Errno).NotTo(BeZero(), "read_private_key failed without errno")
		return
	}
	_, rc, r, err := cr.Sign(key, []byte("x"))
	Expect(err).NotTo(HaveOccurred(), "sign with a broken environment must not end the process")
	if rc != 0 && rc == -1 {
		Expect(r.Errno).NotTo(BeZero(), "sign failed with SLURM_ERROR and no errno")
	}
}

// credCorpus reads the valid credentials of --cred-corpus; each must unpack
// (otherwise the mutations of it prove nothing).
func (c *Ctx) credCorpus() [][]byte {
	dir := c.run.cfg.CredCorpus
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	Expect(err).NotTo(HaveOccurred(), "--cred-corpus")
	var out [][]byte
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			Expect(err).NotTo(HaveOccurred())
			out = append(out, b)
		}
	}
	Expect(out).NotTo(BeEmpty(), "--cred-corpus %s holds no files", dir)
	return out
}

// mutations are the hostile variants of a valid packed credential: every
// truncation, and hostile 32-bit values written at every offset.
func mutations(valid []byte) (truncations, rewritten [][]byte) {
	for n := 0; n < len(valid); n++ {
		truncations = append(truncations, valid[:n])
	}
	for off := 0; off+4 <= len(valid); off++ {
		for _, v := range []uint32{0xffffffff, 0x7fffffff, 0x40000001, uint32(len(valid) - off + 1)} {
			b := append([]byte(nil), valid...)
			binary.BigEndian.PutUint32(b[off:], v)
			rewritten = append(rewritten, b)
		}
	}
	return truncations, rewritten
}
