package suite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/reference/model"
	"github.com/plugincheck/plugincheck/reference/munge"
)

// payloads are the data sizes AUTH-CREATE and AUTH-DATA try, in this
// order (a slice, so a failing run always names the same one first):
// empty, small, and past the 64 KiB a 16-bit length would hold.
var payloads = []struct {
	name string
	data []byte
}{
	{"empty", []byte{}},
	{"small", []byte("plugincheck payload")},
	{"large", bytes.Repeat([]byte("0123456789abcdef"), 70<<10/16)},
}

func init() {
	register(Spec{Clause: "AUTH-CREATE", Level: Must, Kinds: auth, Area: Lifecycle,
		Text: "create returns a credential for valid arguments (empty, small and 70 KiB data)",
		Body: func(c *Ctx) {
			k := c.authKit()
			for _, p := range payloads {
				name, data := p.name, p.data
				cred, r, err := k.a.Create(c.AuthInfo(), profile.SlurmAuthUIDAny, data)
				Expect(err).NotTo(HaveOccurred())
				Expect(cred).NotTo(BeZero(), "create with %s data returned NULL, errno %d", name, r.Errno)
				k.destroy(cred)
			}
		}})
	register(Spec{Clause: "AUTH-DATA", Level: Must, Kinds: auth, Area: Lifecycle,
		Text: "get_data returns create's bytes after pack, unpack and verify",
		Body: func(c *Ctx) {
			c.Need(profile.OpGetData)
			k := c.authKit()
			for _, p := range payloads {
				name, data := p.name, p.data
				cred, _ := k.fresh(data)
				k.mustVerify(cred)
				got, rc, r, err := k.a.Data(cred)
				Expect(err).NotTo(HaveOccurred())
				Expect(rc).To(BeZero(), "get_data returned %d, errno %d (%s data)", rc, r.Errno, name)
				Expect(len(got)).To(Equal(len(data)), "get_data length for %s data", name)
				Expect(bytes.Equal(got, data)).To(BeTrue(), "get_data bytes differ for %s data", name)
				k.destroy(cred)
			}
		}})
	register(Spec{Clause: "AUTH-DESTROY", Level: Must, Kinds: auth, Area: Lifecycle,
		Text: "destroy succeeds on created, unpacked, verified and failed credentials",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred := k.create([]byte("destroy"))
			packed := k.pack(cred)
			unverified := k.unpack(packed)
			verified := k.unpack(packed)
			k.verify(verified)
			creds := map[string]uintptr{"created": cred, "unpacked": unverified, "unpacked and verified": verified}
			if failed := k.failingCopy(packed); failed != 0 {
				creds["failed verify"] = failed
			}
			for name, c := range creds {
				rc, r, err := k.a.Destroy(c)
				Expect(err).NotTo(HaveOccurred(), "destroy(%s)", name)
				Expect(rc).To(BeZero(), "destroy(%s) returned %d, errno %d", name, rc, r.Errno)
			}
		}})
	register(Spec{Clause: "AUTH-VERIFY", Level: Must, Kinds: auth, Area: Security,
		Text: "a credential verifies after pack and unpack",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred, _ := k.fresh([]byte("verify"))
			k.mustVerify(cred)
		}})
	register(Spec{Clause: "AUTH-IDS", Level: Must, Kinds: auth, Area: Security,
		Text: "after verify, uid and gid are the creating process's real uid and gid",
		Body: func(c *Ctx) {
			uid, gid := c.workerIDs()
			if uid == 0 {
				c.NotTested("workers run as root, where a zeroed credential reads as uid 0")
			}
			k := c.authKit()
			cred, _ := k.fresh([]byte("ids"))
			k.mustVerify(cred)
			gotUID, gotGID := k.ids(cred)
			Expect(gotUID).To(Equal(uid), "uid")
			Expect(gotGID).To(Equal(gid), "gid")
		}})
	register(Spec{Clause: "AUTH-NOBODY", Level: Must, Kinds: auth, Area: Security,
		Text: "before verify, uid and gid are SLURM_AUTH_NOBODY",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred, _ := k.fresh([]byte("nobody"))
			uid, gid := k.ids(cred)
			Expect([]uint32{uid, gid}).To(Equal([]uint32{profile.SlurmAuthNobody, profile.SlurmAuthNobody}),
				"uid/gid of an unverified credential")
		}})
	register(Spec{Clause: "AUTH-NOBODY", Level: Must, Kinds: auth, Area: Security,
		Text: "after a failed verify, uid and gid are SLURM_AUTH_NOBODY",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred := k.create([]byte("nobody"))
			failed := k.failingCopy(k.pack(cred))
			if failed == 0 {
				c.NotApplicable("no changed credential failed verify, so there is no failed verify to look at (see AUTH-TAMPER)")
			}
			uid, gid := k.ids(failed)
			Expect([]uint32{uid, gid}).To(Equal([]uint32{profile.SlurmAuthNobody, profile.SlurmAuthNobody}),
				"uid/gid after a failed verify")
		}})
	register(Spec{Clause: "AUTH-HOST", Level: Should, Kinds: auth, Area: Security,
		Text: "get_host names the creating host, in memory xfree can release",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred, _ := k.fresh([]byte("host"))
			k.mustVerify(cred)
			host, ok, r, err := k.a.Host(cred)
			Expect(err).NotTo(HaveOccurred())
			Expect(ok).To(BeTrue(), "get_host returned NULL, errno %d", r.Errno)
			Expect(namesThisHost(host)).To(BeTrue(), "get_host returned %q, which is not this host (%s)", host, shortHost())
		}})
	register(Spec{Clause: "AUTH-OWN", Level: Must, Kinds: auth, Area: Robustness,
		Text: "get_host, get_data and get_identity return a fresh xmalloc block per call, which the caller frees before it goes on using the credential",
		Body: func(c *Ctx) { c.authOwn() }})
	register(Spec{Clause: "AUTH-PACK", Level: Must, Kinds: auth, Area: Wire,
		Text: "pack succeeds for created, unpacked and verified credentials into empty, non-empty and too-small buffers",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred := k.create([]byte("pack"))
			want := k.pack(cred)
			unpacked := k.unpack(want)
			verified := k.unpack(want)
			k.verify(verified)
			prefix := []byte{0xde, 0xad, 0xbe, 0xef}
			for name, cr := range map[string]uintptr{"created": cred, "unpacked": unpacked, "verified": verified} {
				for _, b := range []struct {
					what     string
					capacity int
					prefix   []byte
				}{{"an empty buffer", 1024, nil}, {"a buffer already holding data", 1024, prefix}, {"a 1-byte buffer that must grow", 1, nil}} {
					buf, err := k.a.W.NewBuf(b.capacity, b.prefix)
					Expect(err).NotTo(HaveOccurred())
					rc, r, err := k.a.Pack(cr, buf, k.pv)
					Expect(err).NotTo(HaveOccurred(), "pack(%s) into %s", name, b.what)
					Expect(rc).To(BeZero(), "pack(%s) into %s returned %d, errno %d", name, b.what, rc, r.Errno)
					st, err := k.a.W.Buf(buf)
					Expect(err).NotTo(HaveOccurred())
					Expect(st.Data).To(HavePrefix(string(b.prefix)), "pack(%s) into %s overwrote what the buffer held", name, b.what)
					Expect(len(st.Data)).To(BeNumerically(">", len(b.prefix)), "pack(%s) into %s wrote nothing", name, b.what)
					k.a.W.FreeBuf(buf)
				}
			}
		}})
	register(Spec{Clause: "AUTH-RECIPROCAL", Level: Must, Kinds: auth, Area: Wire,
		Text: "unpack consumes exactly what pack wrote, so the next field of a message parses, and the copy verifies with the same identity and data",
		Body: func(c *Ctx) {
			k := c.authKit()
			data := []byte("reciprocal")
			cred := k.create(data)
			packed := k.pack(cred)
			next := binary.BigEndian.AppendUint32(nil, 0x5eed5eed)
			got, consumed, r, err := k.a.UnpackBytes(append(append([]byte(nil), packed...), next...), k.pv)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).NotTo(BeZero(), "unpack returned NULL, errno %d", r.Errno)
			Expect(consumed).To(Equal(len(packed)), "unpack consumed %d bytes; pack wrote %d, then came the next field", consumed, len(packed))
			k.mustVerify(got)
			uid, gid := k.ids(got)
			wantUID, wantGID := c.workerIDs()
			Expect([]uint32{uid, gid}).To(Equal([]uint32{wantUID, wantGID}), "identity of the unpacked copy")
			if k.a.Profile.Has(profile.OpGetData) {
				d, _, _, err := k.a.Data(got)
				Expect(err).NotTo(HaveOccurred())
				Expect(string(d)).To(Equal(string(data)), "data of the unpacked copy")
			}
		}})
	register(Spec{Clause: "AUTH-RECIPROCAL", Level: Should, Kinds: auth, Area: Wire,
		Text: "packing an unpacked credential again gives the same bytes",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred := k.create([]byte("repack"))
			packed := k.pack(cred)
			again := k.pack(k.unpack(packed))
			Expect(again).To(Equal(packed), "re-packed bytes differ")
		}})
	register(Spec{Clause: "AUTH-WIRE", Level: Must, Kinds: auth, Area: Wire,
		Text: "the packed body is the plugin's own: the framework, not the plugin, writes the header",
		Body: func(c *Ctx) {
			k := c.authKit()
			packed := k.pack(k.create([]byte("wire")))
			typ := c.Target().Plugin.Type
			header := binary.BigEndian.AppendUint32(nil, uint32(len(typ)+1))
			header = append(append(header, typ...), 0)
			Expect(bytes.HasPrefix(packed, header)).To(BeFalse(),
				"pack writes packstr(plugin_type) first, as the seed document describes; the framework already writes the header (plugin_id), so Slurm would read it twice")
			if id := c.Target().Plugin.ID; id != nil && len(packed) >= 4 {
				Expect(binary.BigEndian.Uint32(packed)).NotTo(Equal(*id), "pack writes plugin_id, which the framework writes before the body")
			}
		}})
	register(Spec{Clause: "AUTH-WIRE", Level: Must, Kinds: auth, Area: Wire,
		Text: "a built-in plugin's body matches the reference wire format",
		Body: func(c *Ctx) { c.builtinWire() }})
	register(Spec{Clause: "AUTH-PROTO", Level: Must, Kinds: auth, Area: Wire,
		Text: "pack and unpack round-trip at every protocol version the release accepts",
		Body: func(c *Ctx) {
			k := c.authKit()
			for _, pv := range c.Series().ProtocolVersions() {
				k.pv = pv
				cred, _ := k.fresh([]byte(fmt.Sprintf("protocol %#x", pv)))
				rc, errno := k.verify(cred)
				Expect(rc).To(BeZero(), "verify after a round trip at protocol %#x returned %d, errno %d", pv, rc, errno)
			}
		}})
	register(Spec{Clause: "AUTH-PROTO", Level: Must, Kinds: auth, Area: Wire,
		Text: "unpack below SLURM_MIN_PROTOCOL_VERSION returns NULL with errno set",
		Body: func(c *Ctx) {
			k := c.authKit()
			packed := k.pack(k.create([]byte("old")))
			old := c.Series().MinProtocol - 0x100
			got, _, r, err := k.a.UnpackBytes(packed, old)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(BeZero(), "unpack at protocol %#x (below the minimum %#x) returned a credential", old, c.Series().MinProtocol)
			Expect(r.Errno).NotTo(BeZero(), "unpack at an old protocol failed without errno")
		}})
	register(Spec{Clause: "AUTH-UNPACK-BAD", Level: Must, Kinds: auth, Area: Robustness,
		Long: "unpacks every truncation and many corruptions",
		Text: "unpack of every truncation, of corrupted length fields and of random bytes fails cleanly",
		Body: func(c *Ctx) { c.unpackBad() }})
	register(Spec{Clause: "AUTH-EXPIRY", Level: Must, Kinds: auth, Area: Security,
		Long:   "waits out the credential lifetime and two seconds more",
		Sleeps: 1,
		Text:   "a credential verifies within its term and fails after it",
		Body: func(c *Ctx) {
			ttl := c.Config().AuthTTL
			if ttl <= 0 {
				c.NotTested("no credential lifetime given (--auth-ttl N)")
			}
			k := c.authKit()
			early, _ := k.fresh([]byte("within term"))
			late := k.pack(k.create([]byte("after term")))
			k.mustVerify(early)
			if !cleanup.Sleep(time.Duration(ttl)*time.Second + 2*time.Second) {
				ginkgo.Skip(notRunInterrupted)
			}
			got := k.unpack(late)
			rc, errno := k.verify(got)
			Expect(rc).NotTo(BeZero(), "verify %ds after create, with a %ds lifetime, succeeded", ttl+2, ttl)
			Expect(errno).NotTo(BeZero(), "expired credential rejected without errno")
		}})
	register(Spec{Clause: "AUTH-TAMPER", Level: Must, Kinds: auth, Area: Security,
		Text: "no single-byte change to a packed credential yields a different verified identity",
		Body: func(c *Ctx) { c.tamper() }})
	register(Spec{Clause: "AUTH-REPLAY", Level: Should, Kinds: auth, Area: Security,
		Text: "a second unpacked copy of the same bytes does not verify",
		Body: func(c *Ctx) {
			k := c.authKit()
			cred := k.create([]byte("replay"))
			packed := k.pack(cred)
			k.mustVerify(k.unpack(packed))
			rc, _ := k.verify(k.unpack(packed))
			Expect(rc).NotTo(BeZero(), "the same credential verified twice (replay accepted)")
		}})
	register(Spec{Clause: "AUTH-RUID", Level: Should, Kinds: auth, Area: Security,
		Text: "a credential restricted to another uid does not verify",
		Body: func(c *Ctx) {
			f := c.Profile().Func(profile.OpCreate)
			if len(f.Params) != 4 {
				c.NotApplicable("generation %s's create takes no r_uid", c.Profile().Name)
			}
			k := c.authKit()
			uid, _ := c.workerIDs()
			cred, r, err := k.a.Create(c.AuthInfo(), uid+1, []byte("ruid"))
			Expect(err).NotTo(HaveOccurred())
			Expect(cred).NotTo(BeZero(), "create for r_uid %d returned NULL, errno %d", uid+1, r.Errno)
			rc, _ := k.verify(k.unpack(k.pack(cred)))
			Expect(rc).NotTo(BeZero(), "a credential for uid %d verified in a process running as uid %d", uid+1, uid)
		}})
	register(Spec{Clause: "AUTH-NULL", Level: Should, Kinds: auth, Area: Robustness,
		Text: "NULL credential and buffer arguments give the error value with errno, and no crash",
		Body: func(c *Ctx) { c.authNull() }})
	register(Spec{Clause: "AUTH-THREAD", Level: May, Kinds: auth, Area: Robustness,
		Text: "thread_config, thread_clear and token_generate return an error value or work, and never crash",
		Body: func(c *Ctx) {
			c.Need(profile.OpThreadConfig)
			k := c.authKit()
			token, user := "plugincheck-token", "plugincheck"
			for _, args := range [][2]*string{{nil, nil}, {&token, nil}, {nil, &user}, {&token, &user}} {
				_, _, err := k.a.ThreadConfig(args[0], args[1])
				Expect(err).NotTo(HaveOccurred())
				_, err = k.a.ThreadClear()
				Expect(err).NotTo(HaveOccurred())
			}
			_, _, _, err := k.a.TokenGenerate("plugincheck", 60)
			Expect(err).NotTo(HaveOccurred())
		}})
	register(Spec{Clause: "AUTH-CONCURRENT", Level: Must, Kinds: auth, Area: Robustness,
		Text: "four threads creating, packing, unpacking, verifying and destroying at once all succeed",
		Body: func(c *Ctx) {
			k := c.authKit()
			res, err := k.a.Cycles(4, 100, c.AuthInfo(), []byte("concurrent"), k.pv)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Failed).To(BeZero(), "%d of 400 cycles failed; first: %s", res.Failed, res.FirstFailure)
		}})
	register(Spec{Clause: "AUTH-LEAK", Level: Should, Kinds: auth, Area: Performance,
		Long:   "three windows of cycles, each past the credential lifetime",
		Sleeps: 2,
		Text:   "after a warm-up past the credential lifetime, full cycles do not keep raising the heap by 1 MiB per 10,000",
		Body: func(c *Ctx) {
			k := c.authKit()
			l := steadyLeak(c.configuredTTL(), k.a.W.HeapInUse, func(n int) (loader.CycleResult, error) {
				return k.a.Cycles(1, n, c.AuthInfo(), []byte("leak"), k.pv)
			})
			Expect(l.leaks()).To(BeFalse(), "%s", l)
		}})
}

// authOwn is what the framework does with get_host and get_data results:
// it frees each with xfree (auth_g_get_host callers, slurm_auth.c) and goes
// on using the credential. A plugin that hands out its own pointer gets its
// memory freed under it: slurmctld aborts on a double free at destroy. Two
// calls must give two blocks, each an xmalloc block; after freeing them the
// credential still answers get_host and get_data, packs, and is destroyed.
func (c *Ctx) authOwn() {
	k := c.authKit()
	data := []byte("plugincheck owns this copy")
	// Received as a daemon receives it; how many bytes unpack consumed is
	// AUTH-RECIPROCAL's business.
	sent := k.create(data)
	packed := k.pack(sent)
	k.destroy(sent)
	cred, _, r, err := k.a.UnpackBytes(packed, k.pv)
	Expect(err).NotTo(HaveOccurred())
	Expect(cred).NotTo(BeZero(), "unpack returned NULL, errno %d", r.Errno)
	k.mustVerify(cred)
	checked := 0
	distinct := func(what string, p1, p2 uintptr) {
		Expect(p1).NotTo(Equal(p2),
			"two %s calls returned the same block %#x: the plugin's own memory, which the framework frees with xfree after each call", what, p1)
	}
	free := func(what string, p uintptr) {
		Expect(k.a.W.XfreeChecked(p, what)).To(Succeed(), "freeing %s with xfree, as the framework does", what)
	}
	h1, r, err := k.a.HostRaw(cred)
	Expect(err).NotTo(HaveOccurred(), "get_host")
	if h1 != 0 {
		h2, _, err := k.a.HostRaw(cred)
		Expect(err).NotTo(HaveOccurred(), "get_host a second time")
		Expect(h2).NotTo(BeZero(), "get_host returned NULL the second time, errno %d", r.Errno)
		distinct("get_host", h1, h2)
		free("get_host's string", h1)
		free("get_host's second string", h2)
		checked++
	}
	// get_data may hand out nothing (auth/none carries no data: AUTH-DATA's
	// business); what it hands out must be the caller's.
	hasData := false
	if k.a.Profile.Has(profile.OpGetData) {
		d1, _, _, _, err := k.a.DataRaw(cred)
		Expect(err).NotTo(HaveOccurred(), "get_data")
		if d1 != 0 {
			d2, _, _, _, err := k.a.DataRaw(cred)
			Expect(err).NotTo(HaveOccurred(), "get_data a second time")
			distinct("get_data", d1, d2)
			free("get_data's block", d1)
			free("get_data's second block", d2)
			checked++
			hasData = true
		}
	}
	if k.a.Profile.Has(profile.OpGetIdentity) {
		i1, _, err := k.a.IdentityRaw(cred)
		Expect(err).NotTo(HaveOccurred(), "get_identity")
		if i1 != 0 {
			i2, _, err := k.a.IdentityRaw(cred)
			Expect(err).NotTo(HaveOccurred(), "get_identity a second time")
			distinct("get_identity", i1, i2)
			if k.a.W.Has("destroy_identity") {
				Expect(k.a.DestroyIdentity(i1)).To(Succeed(), "destroy_identity of get_identity's result")
				Expect(k.a.DestroyIdentity(i2)).To(Succeed(), "destroy_identity of the second result")
			}
			checked++
		}
	}
	if checked == 0 {
		c.NotTested("get_host, get_data and get_identity handed out nothing for a verified credential (see AUTH-HOST, AUTH-DATA)")
	}
	// The credential after its results were freed: still whole. (What it
	// says is AUTH-HOST's and AUTH-DATA's business; that it still says it
	// is this clause's.)
	if h1 != 0 {
		_, ok, _, err := k.a.Host(cred)
		Expect(err).NotTo(HaveOccurred(), "get_host after the earlier results were freed")
		Expect(ok).To(BeTrue(), "get_host returned NULL after the earlier results were freed")
	}
	if hasData {
		// A plugin may hand its block over once (auth/slurm 23.11+ moves
		// cred->data to the caller): nothing is a fine answer now, other
		// bytes are not.
		got, _, _, err := k.a.Data(cred)
		Expect(err).NotTo(HaveOccurred(), "get_data after the earlier results were freed")
		if len(got) > 0 {
			Expect(string(got)).To(Equal(string(data)), "get_data after the earlier results were freed")
		}
	}
	k.pack(cred)
	rc, r, err := k.a.Destroy(cred)
	Expect(err).NotTo(HaveOccurred(), "destroy after the caller freed what get_host/get_data returned")
	Expect(rc).To(BeZero(), "destroy returned %d, errno %d", rc, r.Errno)
	// glibc finds some heap corruption only at the next allocation.
	k.destroy(k.create([]byte("after")))
}

// failingCopy unpacks single-byte changes of packed until one unpacks but
// fails verify; 0 when none does.
func (k *authKit) failingCopy(packed []byte) uintptr {
	for _, v := range flips(packed) {
		got, _, _, err := k.a.UnpackBytes(v, k.pv)
		Expect(err).NotTo(HaveOccurred())
		if got == 0 {
			continue
		}
		if rc, _ := k.verify(got); rc != 0 {
			return got
		}
		k.destroy(got)
	}
	return 0
}

// namesThisHost accepts the short or full host name, or a name or address
// that resolves to this machine (munge reports the loopback origin).
func namesThisHost(h string) bool {
	full, _ := osHostname()
	if h == shortHost() || h == full || h == "localhost" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || isLocalAddr(ip)
	}
	return false
}

func isLocalAddr(ip net.IP) bool {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// tamper changes each byte of a packed credential in turn. A change may
// make unpack or verify fail; if the copy verifies, its uid, gid, host and
// data must be those of an unchanged credential. Every change is made to a
// fresh credential: a plugin with a replay cache would otherwise reject
// all copies after the first as replays and hide what a change does.
func (c *Ctx) tamper() {
	k := c.authKit()
	data := []byte("tamper")
	ref, packed := k.fresh(data)
	k.mustVerify(ref)
	wantUID, wantGID := k.ids(ref)
	wantHost, _, _, _ := k.a.Host(ref)
	for i := range packed {
		cred := k.create(data)
		v := k.pack(cred)
		k.destroy(cred)
		if i >= len(v) {
			continue
		}
		v[i] ^= 0x01
		got, _, _, err := k.a.UnpackBytes(v, k.pv)
		Expect(err).NotTo(HaveOccurred())
		if got == 0 {
			continue
		}
		if rc, _ := k.verify(got); rc != 0 {
			k.destroy(got)
			continue
		}
		uid, gid := k.ids(got)
		host, _, _, _ := k.a.Host(got)
		Expect([]uint32{uid, gid}).To(Equal([]uint32{wantUID, wantGID}),
			"changing byte %d of %d gives a credential that verifies as uid %d gid %d", i, len(v), uid, gid)
		Expect(host).To(Equal(wantHost), "changing byte %d gives a verified credential from host %q", i, host)
		if k.a.Profile.Has(profile.OpGetData) {
			d, _, _, err := k.a.Data(got)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(d)).To(Equal(string(data)), "changing byte %d gives verified data %q", i, d)
		}
		k.destroy(got)
	}
}

// unpackBad feeds unpack every truncation of a valid credential, the valid
// bytes with each 4-byte field replaced by hostile lengths, and seeded
// random bytes. Each must give NULL with errno, or a credential that fails
// verify (or verifies unchanged, for the length variants that happen to be
// valid); none may crash, hang, over-read (the buffer ends at an unmapped
// page) or exhaust memory.
func (c *Ctx) unpackBad() {
	k := c.authKit()
	packed := k.pack(k.create([]byte("unpack")))
	try := func(what string, b []byte) {
		got, _, r, err := k.a.UnpackBytes(b, k.pv)
		Expect(err).NotTo(HaveOccurred(), "unpack of %s", what)
		if got == 0 {
			Expect(r.Errno).NotTo(BeZero(), "unpack of %s returned NULL without errno", what)
			return
		}
		_, _, err = k.a.Verify(got, c.AuthInfo())
		Expect(err).NotTo(HaveOccurred(), "verify of %s", what)
		k.destroy(got)
	}
	for n := 0; n < len(packed); n++ {
		try(fmt.Sprintf("the first %d of %d bytes", n, len(packed)), packed[:n])
	}
	for off := 0; off+4 <= len(packed); off++ {
		for _, v := range []uint32{0xffffffff, 0x7fffffff, 0x40000001, uint32(len(packed)), uint32(len(packed) - off)} {
			b := append([]byte(nil), packed...)
			binary.BigEndian.PutUint32(b[off:], v)
			try(fmt.Sprintf("bytes with %#x written at offset %d", v, off), b)
		}
	}
	rng := rand.New(rand.NewPCG(uint64(ginkgo.GinkgoRandomSeed()), 0x706c7567))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.IntN(512))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		if len(b) >= 4 && i%2 == 0 { // plausible length prefixes reach deeper
			binary.BigEndian.PutUint32(b, uint32(rng.IntN(len(b)+8)))
		}
		try(fmt.Sprintf("random input %d (%d bytes)", i, len(b)), b)
	}
}

// authNull passes NULL where the seed document says "cannot be NULL".
func (c *Ctx) authNull() {
	k := c.authKit()
	nobody := uint32(profile.SlurmAuthNobody)
	expectFail := func(call string, failed bool, errno int32) {
		Expect(failed).To(BeTrue(), "%s did not return the error value", call)
		Expect(errno).NotTo(BeZero(), "%s failed without errno", call)
	}
	rc, r, err := k.a.Verify(0, c.AuthInfo())
	Expect(err).NotTo(HaveOccurred(), "verify(NULL)")
	expectFail("verify(NULL)", rc == -1, r.Errno)
	if k.a.Profile.Func(profile.OpDestroy).Ret == profile.Int {
		rc, r, err := k.a.Destroy(0)
		Expect(err).NotTo(HaveOccurred(), "destroy(NULL)")
		expectFail("destroy(NULL)", rc == -1, r.Errno)
	} else {
		_, _, err := k.a.Destroy(0)
		Expect(err).NotTo(HaveOccurred(), "destroy(NULL)")
	}
	uid, gid, uidErrno, r, err := k.a.IDs(0)
	Expect(err).NotTo(HaveOccurred(), "get ids of NULL")
	Expect([]uint32{uid, gid}).To(Equal([]uint32{nobody, nobody}), "ids of NULL")
	if !k.a.Profile.Has(profile.OpGetIDs) { // void get_ids has no error channel beyond NOBODY
		expectFail("get_uid(NULL)", uid == nobody, uidErrno)
		expectFail("get_gid(NULL)", gid == nobody, r.Errno)
	}
	_, ok, r, err := k.a.Host(0)
	Expect(err).NotTo(HaveOccurred(), "get_host(NULL)")
	expectFail("get_host(NULL)", !ok, r.Errno)
	if k.a.Profile.Has(profile.OpGetData) {
		_, rc, r, err := k.a.Data(0)
		Expect(err).NotTo(HaveOccurred(), "get_data(NULL)")
		expectFail("get_data(NULL)", rc == -1, r.Errno)
	}
	buf, err := k.a.W.NewBuf(64, nil)
	Expect(err).NotTo(HaveOccurred())
	rc, r, err = k.a.Pack(0, buf, k.pv)
	Expect(err).NotTo(HaveOccurred(), "pack(NULL credential)")
	expectFail("pack(NULL credential)", rc == -1, r.Errno)
	cred := k.create([]byte("null"))
	rc, r, err = k.a.Pack(cred, 0, k.pv)
	Expect(err).NotTo(HaveOccurred(), "pack(credential, NULL buffer)")
	expectFail("pack(credential, NULL buffer)", rc == -1, r.Errno)
	got, r, err := k.a.Unpack(0, k.pv)
	Expect(err).NotTo(HaveOccurred(), "unpack(NULL)")
	expectFail("unpack(NULL)", got == 0, r.Errno)
}

func (c *Ctx) builtinWire() {
	t := c.Target()
	if !c.builtin("none") && !c.builtin("munge") {
		c.NotApplicable("%s is not a built-in plugin with a reference model (auth/none, auth/munge)", t.Plugin.Type)
	}
	k := c.authKit()
	uid, gid := c.workerIDs()
	id := model.Identity{UID: uid, GID: gid}
	if c.builtin("none") {
		// Byte-exact: u32 uid, u32 gid, packstr(short host name), at every
		// protocol version the release accepts.
		m := model.AuthNone{Release: c.release()}
		host := shortHost()
		cred := k.create([]byte("wire"))
		for _, pv := range c.Series().ProtocolVersions() {
			body, rc, r, err := k.a.PackBytes(cred, pv)
			Expect(err).NotTo(HaveOccurred())
			Expect(rc).To(BeZero(), "pack at protocol %#x returned %d, errno %d", pv, rc, r.Errno)
			Expect(m.Check(body, model.NoneCred{Identity: id, Host: &host}, pv)).To(Succeed(), "protocol %#x", pv)
		}
		return
	}
	// auth/munge: packstr of a MUNGE credential; with the key of the run's
	// munged, the credential's fields too.
	data := []byte("wire")
	want := model.MungeExpect{Identity: id, TTL: c.mungeTTL(), Payload: data, RestrictUID: munge.UIDAny, RestrictGID: munge.GIDAny}
	if len(c.Profile().Func(profile.OpCreate).Params) != 4 {
		want.Payload = nil
	}
	var key *munge.Key
	if c.run.mungeKey != nil {
		var err error
		key, err = munge.NewKey(c.run.mungeKey)
		Expect(err).NotTo(HaveOccurred())
	}
	body := k.pack(k.create(data))
	Expect(model.AuthMunge{Release: c.release()}.CheckBody(body, key, want, time.Now())).To(Succeed())
}
