package suite

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/reference/contract"
	"github.com/plugincheck/plugincheck/reference/model"
	"github.com/plugincheck/plugincheck/reference/munge"
)

// oracleSteps is the length of an ORACLE-MODEL sequence; at this length
// every defect class of the fixture plugins is met whatever the seed.
const oracleSteps = 600

// oracleShrinkBudget bounds shrinking a failing sequence.
var oracleShrinkBudget = contract.Budget{Runs: 400, Time: 3 * time.Minute}

func init() {
	register(Spec{Clause: "ORACLE-MODEL", Level: Must, Kinds: auth, Area: Oracle,
		Long: "hundreds of random sequences, shrunk in fresh workers when one fails",
		Text: "seeded random sequences of create, pack, unpack, tamper, verify, get and destroy give the outcomes the contract model predicts",
		Body: func(c *Ctx) { c.oracleModel() }})
	register(Spec{Clause: "ORACLE-MUNGE", Level: Must, Kinds: auth, Area: Oracle,
		Text: "the Go MUNGE codec decodes what the plugin packs, with the right uid, gid, TTL, payload and restriction",
		Body: func(c *Ctx) { c.mungeAuthDecode() }})
	register(Spec{Clause: "ORACLE-MUNGE", Level: Must, Kinds: auth, Area: Oracle,
		Text: "credentials made by the Go MUNGE codec are accepted or rejected as the auth/munge model predicts",
		Body: func(c *Ctx) { c.mungeAuthForged() }})
	register(Spec{Clause: "ORACLE-MUNGE", Level: Must, Kinds: cred, Area: Oracle,
		Text: "the Go MUNGE codec decodes every signature, with the right uid, gid, TTL, payload and restriction",
		Body: func(c *Ctx) { c.mungeCredDecode() }})
	register(Spec{Clause: "ORACLE-MUNGE", Level: Must, Kinds: cred, Area: Oracle,
		Text: "signatures made by the Go MUNGE codec are accepted or rejected as the cred/munge model predicts",
		Body: func(c *Ctx) { c.mungeCredForged() }})
}

// release is the plugin's series for the reference models.
func (c *Ctx) release() model.Release {
	s := c.Series()
	return model.Release{Major: int(s.Major), Minor: int(s.Minor)}
}

// builtin reports whether the plugin is the built-in auth plugin minor
// (auth/none 100, auth/munge 101, auth/jwt 102): the type and the id.
func (c *Ctx) builtin(minor string) bool {
	p := c.Target().Plugin
	id := map[string]uint32{"none": 100, "munge": 101, "jwt": 102}[minor]
	return p.Kind() == profile.Auth && p.Minor() == minor && p.ID != nil && *p.ID == id
}

// configuredTTL is the credential lifetime the run configures: --auth-ttl,
// else a ttl= in the AuthInfo; 0 when neither says.
func (c *Ctx) configuredTTL() int {
	if ttl := c.Config().AuthTTL; ttl > 0 {
		return ttl
	}
	for _, kv := range strings.Split(c.AuthInfo(), ",") {
		if v, ok := strings.CutPrefix(kv, "ttl="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return n
			}
		}
	}
	return 0
}

// mungeTTL is the TTL a munge plugin asks for: the configured one, else
// munged's default.
func (c *Ctx) mungeTTL() uint32 {
	if ttl := c.configuredTTL(); ttl > 0 {
		return uint32(ttl)
	}
	return munge.DefaultTTL
}

// ---- ORACLE-MODEL ----

// oraclePlugin runs the contract model's operations in one worker.
type oraclePlugin struct {
	a    *loader.Auth
	info string
	pv   uint16
}

func (p *oraclePlugin) Create(data []byte) (contract.Handle, error) {
	h, _, err := p.a.Create(p.info, profile.SlurmAuthUIDAny, data)
	return contract.Handle(h), err
}

func (p *oraclePlugin) Pack(h contract.Handle) ([]byte, int32, error) {
	b, rc, _, err := p.a.PackBytes(uintptr(h), p.pv)
	return b, rc, err
}

func (p *oraclePlugin) Unpack(b []byte) (contract.Handle, int, error) {
	h, n, _, err := p.a.UnpackBytes(b, p.pv)
	return contract.Handle(h), n, err
}

func (p *oraclePlugin) Verify(h contract.Handle) (int32, error) {
	rc, _, err := p.a.Verify(uintptr(h), p.info)
	return rc, err
}

func (p *oraclePlugin) IDs(h contract.Handle) (uint32, uint32, error) {
	uid, gid, _, _, err := p.a.IDs(uintptr(h))
	return uid, gid, err
}

func (p *oraclePlugin) Data(h contract.Handle) ([]byte, int32, error) {
	d, rc, _, err := p.a.Data(uintptr(h))
	return d, rc, err
}

func (p *oraclePlugin) Host(h contract.Handle) (string, bool, error) {
	host, ok, _, err := p.a.Host(uintptr(h))
	return host, ok, err
}

func (p *oraclePlugin) Destroy(h contract.Handle) (int32, error) {
	rc, _, err := p.a.Destroy(uintptr(h))
	return rc, err
}

// exports reports whether the plugin exports the function of op.
func exports(a *loader.Auth, op profile.Op) bool {
	f := a.Profile.Func(op)
	return f != nil && a.W.Has(f.Symbol)
}

// oracleSemantics is what the contract model needs to know about this
// plugin: auth/none's documented lack of security, or the contract with
// the replay behaviour measured on this build and the configured lifetime.
func (c *Ctx) oracleSemantics(a *loader.Auth) contract.Semantics {
	uid, gid := c.workerIDs()
	creator := model.Identity{UID: uid, GID: gid}
	hasData, hasHost := exports(a, profile.OpGetData), exports(a, profile.OpGetHost)
	if c.builtin("none") {
		host := shortHost()
		return contract.AuthNone(model.AuthNone{Release: c.release()}, creator, &host, c.Protocol(), hasData, hasHost)
	}
	lifetime := time.Duration(c.configuredTTL()) * time.Second
	if lifetime == 0 && c.builtin("munge") {
		lifetime = munge.DefaultTTL * time.Second
	}
	return contract.Contract(creator, c.replayProtected(), lifetime, hasData, hasHost)
}

// replayProtected measures, in a worker of its own, whether a second
// unpacked copy of a credential whose first copy verified fails verify
// (AUTH-REPLAY's question; build-dependent for auth/munge).
func (c *Ctx) replayProtected() (protected bool) {
	err := InterceptGomegaFailure(func() {
		k := c.authKit()
		packed := k.pack(k.create([]byte("replay")))
		first, second := k.unpack(packed), k.unpack(packed)
		rc1, _ := k.verify(first)
		rc2, _ := k.verify(second)
		protected = rc1 == 0 && rc2 != 0
	})
	Expect(err).NotTo(HaveOccurred(), "precondition: measuring replay protection (create, pack, unpack twice, verify both)")
	return protected
}

// startOracle starts a worker with an initialised plugin for the model.
// Workers for shrinking are not kept for the spec's evidence: there may be
// hundreds.
func (c *Ctx) startOracle(keep bool) (*loader.Worker, *oraclePlugin, error) {
	var w *loader.Worker
	var err error
	if keep {
		w = c.Start()
	} else if w, err = c.run.sandbox.Start(context.Background()); err != nil {
		return nil, nil, err
	}
	a, err := w.Auth()
	if err == nil {
		var r loader.Result
		if r, err = a.Init(); err == nil && r.Int() != 0 {
			err = fmt.Errorf("init() returned %d (errno %d)", r.Int(), r.Errno)
		}
		if err != nil && strings.Contains(err.Error(), loader.ErrNoSymbol.Error()) {
			err = nil
		}
	}
	return w, &oraclePlugin{a: a, info: c.AuthInfo(), pv: c.Protocol()}, err
}

func (c *Ctx) oracleModel() {
	seed := GinkgoRandomSeed()
	_, p, err := c.startOracle(true)
	Expect(err).NotTo(HaveOccurred(), "precondition: a worker with the plugin initialised")
	sem := c.oracleSemantics(p.a)
	r := contract.Explore(sem, uint64(seed), oracleSteps, p, nil)
	if r.Failure == nil {
		AddReportEntry("ORACLE-MODEL", fmt.Sprintf("%d steps agree with the model (seed %d, replay protection %v, lifetime %v)",
			len(r.Entries), seed, sem.ReplayProtected, sem.Lifetime))
		return
	}
	run := func(steps []contract.Step) *contract.Result {
		w, p, err := c.startOracle(false)
		if w != nil {
			defer w.Close()
		}
		if err != nil {
			return &contract.Result{Failure: &contract.Mismatch{Kind: "start", Got: err.Error()}}
		}
		return contract.Run(sem, steps, p, nil)
	}
	sh := contract.Shrink(r, run, oracleShrinkBudget)
	// The shrunk sequence once more, in a worker whose calls and stderr
	// the report keeps.
	final := sh.Result
	if _, p, err := c.startOracle(true); err == nil {
		if again := contract.Run(sem, final.Steps(), p, nil); again.Failure != nil && again.Failure.Kind == final.Failure.Kind {
			final = again
		}
	}
	note := ""
	if sh.Exhausted {
		note = " (shrinking stopped at its budget)"
	}
	transcript := final.Transcript()
	Fail(fmt.Sprintf("%s (seed %d: a sequence of %d steps, shrunk to %d in %d runs%s; plugincheck --seed %d reproduces it)\n%s",
		final.Failure, seed, sh.From, len(final.Entries), sh.Runs, note, seed, transcript))
}

// ---- ORACLE-MUNGE ----

// mungeKey ends the spec unless the plugin makes MUNGE credentials and the
// suite knows the key of the munged it uses.
func (c *Ctx) mungeKey() *munge.Key {
	p := c.Target().Plugin
	if p.Kind() == profile.Auth && !c.builtin("munge") || p.Kind() == profile.Cred && p.Minor() != "munge" {
		c.NotApplicable("%s does not make MUNGE credentials (auth/munge and cred/munge do)", p.Type)
	}
	if p.Kind() == profile.Cred {
		c.Need(profile.OpSign, profile.OpVerifySign)
	}
	if c.run.mungeKey == nil {
		c.NotTested("the munge key is unknown: the run uses a running munged (--munged SOCKET); --munged auto starts one whose key the suite knows")
	}
	key, err := munge.NewKey(c.run.mungeKey)
	Expect(err).NotTo(HaveOccurred())
	return key
}

func (c *Ctx) mungeAuthDecode() {
	key := c.mungeKey()
	k := c.authKit()
	uid, gid := c.workerIDs()
	m := model.AuthMunge{Release: c.release()}
	withData := len(c.Profile().Func(profile.OpCreate).Params) == 4
	cases := []struct {
		what string
		data []byte
		ruid uint32
	}{
		{"a credential with data", []byte("oracle-munge payload"), munge.UIDAny},
		{"a credential with no data", []byte{}, munge.UIDAny},
		{"a credential restricted to another uid", []byte("restricted"), uid + 1},
	}
	for _, tc := range cases {
		if !withData && (tc.ruid != munge.UIDAny || len(tc.data) == 0) {
			continue // the one-argument create takes neither
		}
		cred, r, err := k.a.Create(c.AuthInfo(), tc.ruid, tc.data)
		Expect(err).NotTo(HaveOccurred())
		Expect(cred).NotTo(BeZero(), "create returned NULL, errno %d", r.Errno)
		body := k.pack(cred)
		want := model.MungeExpect{Identity: model.Identity{UID: uid, GID: gid}, TTL: c.mungeTTL(),
			Payload: tc.data, RestrictUID: tc.ruid, RestrictGID: munge.GIDAny}
		if !withData {
			want.Payload = nil
		}
		Expect(m.CheckBody(body, key, want, time.Now())).To(Succeed(), "%s", tc.what)
		k.destroy(cred)
	}
}

// forgery is one credential made by the Go codec.
type forgery struct {
	what string
	cred *munge.Cred
	// key is the key it is made with (nil: the munged's).
	key *munge.Key
	// opts, when set, picks the cipher, MAC and compression.
	cipher munge.Cipher
	mac    munge.MAC
	zip    munge.Zip
	// change alters the armored text (a tampered credential).
	change func(string) string
	// again verifies the previous forgery's text a second time.
	again bool
}

// forgeries are the credentials ORACLE-MUNGE makes for identity id and
// payload, with munged's TTL ttl, against which a plugin's verdicts are
// compared with the model's.
func forgeries(id model.Identity, payload []byte, ttl uint32) []forgery {
	now := uint32(time.Now().Unix())
	mk := func(uid, gid uint32, payload []byte, edit func(*munge.Cred)) *munge.Cred {
		c := munge.NewCred(uid, gid, payload)
		c.TTL = ttl
		if edit != nil {
			edit(c)
		}
		return c
	}
	other, _ := munge.NewKey(bytes.Repeat([]byte("another munge key "), 4))
	return []forgery{
		{what: "a credential for the worker's uid and gid", cred: mk(id.UID, id.GID, payload, nil)},
		{what: "the same credential a second time (a replay)", again: true},
		{what: "forged uid 1234 and gid 5678", cred: mk(1234, 5678, payload, nil)},
		{what: "forged uid 0 (root)", cred: mk(0, 0, payload, nil)},
		{what: "uid and gid SLURM_AUTH_NOBODY (99)", cred: mk(model.Nobody, model.Nobody, payload, nil)},
		{what: "no payload", cred: mk(id.UID, id.GID, nil, nil)},
		{what: "another payload of the same length", cred: mk(id.UID, id.GID, flipped(payload), nil)},
		{what: "a shorter payload", cred: mk(id.UID, id.GID, payload[:len(payload)/2], nil)},
		{what: "expired (encoded ttl+10 s ago)", cred: mk(id.UID, id.GID, payload, func(c *munge.Cred) { c.EncodeTime = now - ttl - 10 })},
		{what: "from the future (encoded 2·ttl+60 s ahead: rewound)", cred: mk(id.UID, id.GID, payload, func(c *munge.Cred) { c.EncodeTime = now + 2*ttl + 60 })},
		{what: "made with another key", cred: mk(id.UID, id.GID, payload, nil), key: other},
		{what: "one base64 character changed", cred: mk(id.UID, id.GID, payload, nil), change: changeMiddle},
		{what: "restricted to another uid", cred: mk(id.UID, id.GID, payload, func(c *munge.Cred) { c.RestrictUID = id.UID + 1 })},
		{what: "restricted to another gid", cred: mk(id.UID, id.GID, payload, func(c *munge.Cred) { c.RestrictGID = id.GID + 1 })},
		{what: "restricted to the worker's uid and gid", cred: mk(id.UID, id.GID, payload, func(c *munge.Cred) { c.RestrictUID, c.RestrictGID = id.UID, id.GID })},
		{what: "aes256 and sha512", cred: mk(id.UID, id.GID, payload, nil), cipher: munge.CipherAES256, mac: munge.MACSHA512},
		{what: "zlib-compressed, eight times the payload", cred: mk(id.UID, id.GID, bytes.Repeat(payload, 8), nil),
			cipher: munge.CipherAES128, mac: munge.MACSHA256, zip: munge.ZipZlib},
		{what: "no cipher and sha1", cred: mk(id.UID, id.GID, payload, nil), cipher: munge.CipherNone, mac: munge.MACSHA1},
	}
}

func flipped(b []byte) []byte {
	out := bytes.Clone(b)
	if len(out) > 0 {
		out[0] ^= 0x01
	}
	return out
}

// changeMiddle replaces the base64 character in the middle of a credential
// with another base64 character.
func changeMiddle(text string) string {
	b := []byte(text)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// encode makes a forgery's armored text.
func (f forgery) encode(key *munge.Key) string {
	if f.key != nil {
		key = f.key
	}
	cred := *f.cred
	if f.cipher != 0 || f.mac != 0 {
		cred.Cipher, cred.MAC, cred.Zip = f.cipher, f.mac, f.zip
	}
	text, err := munge.Encode(key, &cred, nil)
	Expect(err).NotTo(HaveOccurred(), "encoding %s", f.what)
	if f.change != nil {
		text = f.change(text)
	}
	return text
}

func accepted(ok bool) string {
	if ok {
		return "accepted"
	}
	return "rejected"
}

func (c *Ctx) mungeAuthForged() {
	key := c.mungeKey()
	k := c.authKit()
	uid, gid := c.workerIDs()
	id := model.Identity{UID: uid, GID: gid}
	// Debian builds auth/munge with MULTIPLE_SLURMD, which accepts replays:
	// measured here on the plugin's own credential.
	m := model.AuthMunge{Release: c.release(), MultipleSlurmd: c.replayAccepted(k)}
	// The model's munged: the key, and a replay memory of its own (every
	// forgery is new to the real munged too: fresh salt, fresh MAC).
	dec := &munge.Decoder{Key: key, Replay: munge.NewReplayCache()}
	client := munge.Client{UID: uid, GID: gid}
	hasData := exports(k.a, profile.OpGetData)
	var text string
	var payload []byte
	var verdicts []string
	defer func() { AddReportEntry("ORACLE-MUNGE verdicts", strings.Join(verdicts, "\n")) }()
	for _, f := range forgeries(id, []byte("forged by the Go MUNGE codec"), c.mungeTTL()) {
		if !f.again {
			text, payload = f.encode(key), f.cred.Payload
		}
		h := k.unpack(m.Body(text))
		want := m.Verify(dec, text, time.Now(), client)
		rc, errno := k.verify(h)
		verdicts = append(verdicts, fmt.Sprintf("%-52s %s (model: %s, %s)", f.what, accepted(rc == 0), accepted(want.OK), want.Why))
		Expect(rc == 0).To(Equal(want.OK), "%s: the model predicts %s (%s); verify returned %d, errno %d",
			f.what, accepted(want.OK), want.Why, rc, errno)
		if want.OK {
			gotUID, gotGID := k.ids(h)
			Expect([]uint32{gotUID, gotGID}).To(Equal([]uint32{want.Cred.UID, want.Cred.GID}), "%s: uid and gid after verify", f.what)
			if hasData {
				d, drc, _, err := k.a.Data(h)
				Expect(err).NotTo(HaveOccurred())
				Expect(drc).To(BeZero(), "%s: get_data", f.what)
				Expect(bytes.Equal(d, payload)).To(BeTrue(), "%s: get_data returns %d bytes %.32q; the payload is %d bytes %.32q",
					f.what, len(d), d, len(payload), payload)
			}
		}
		k.destroy(h)
	}
}

// replayAccepted: a second unpacked copy of the plugin's own credential
// verifies after the first did.
func (c *Ctx) replayAccepted(k *authKit) bool {
	packed := k.pack(k.create([]byte("replay")))
	first, second := k.unpack(packed), k.unpack(packed)
	k.mustVerify(first)
	rc, _ := k.verify(second)
	return rc == 0
}

// slurmUser is SlurmUser (and SlurmdUser) of the generated slurm.conf: the
// worker's uid. With the user's slurm.conf the model does not know it.
func (c *Ctx) slurmUser() uint32 {
	if c.Config().SlurmConf != "" {
		c.NotTested("SlurmUser and SlurmdUser come from the user's slurm.conf, which the cred/munge model does not read")
	}
	uid, _ := c.workerIDs()
	return uid
}

func (c *Ctx) mungeCredDecode() {
	key := c.mungeKey()
	slurmdUser := c.slurmUser()
	k := c.credKit()
	uid, gid := c.workerIDs()
	m := model.CredMunge{Release: c.release()}
	for _, n := range []int{0, 1, 100, 64 << 10} {
		buf := buffer(n)
		sig := k.sign(buf)
		want := model.MungeExpect{Identity: model.Identity{UID: uid, GID: gid}, TTL: c.mungeTTL(),
			Payload: buf, RestrictUID: slurmdUser, RestrictGID: munge.GIDAny}
		Expect(m.CheckSignature(sig, key, want, time.Now())).To(Succeed(), "the signature of a %d-byte buffer", n)
	}
}

func (c *Ctx) mungeCredForged() {
	key := c.mungeKey()
	slurmUser := c.slurmUser()
	k := c.credKit()
	uid, gid := c.workerIDs()
	buf := buffer(100)
	// Replays: Debian's 22.05 cred/munge accepts them; measured on the
	// plugin's own signature.
	sig := k.sign(buf)
	k.verify(buf, sig, false)
	again, _ := k.verify(buf, sig, false)
	m := model.CredMunge{Release: c.release(), SlurmUser: slurmUser, ReplayAllowed: again == 0}
	dec := &munge.Decoder{Key: key, Replay: munge.NewReplayCache()}
	client := munge.Client{UID: uid, GID: gid}
	var text string
	var verdicts []string
	defer func() { AddReportEntry("ORACLE-MUNGE verdicts", strings.Join(verdicts, "\n")) }()
	for _, f := range forgeries(model.Identity{UID: slurmUser, GID: gid}, buf, c.mungeTTL()) {
		if !f.again {
			text = f.encode(key)
		}
		want, why := m.Verify(dec, buf, text, time.Now(), client)
		rc, errno := k.verify(buf, append([]byte(text), 0), false)
		verdicts = append(verdicts, fmt.Sprintf("%-52s %d (model: %d, %s)", f.what, rc, want, why))
		Expect(rc == 0).To(Equal(want == 0), "%s: the model predicts %s (%d: %s); verify_sign returned %d, errno %d",
			f.what, accepted(want == 0), want, why, rc, errno)
		// The model knows cred/munge's codes too: munged's error number, or
		// an ESIG_* code of its own.
		Expect(rc).To(BeEquivalentTo(want), "%s: verify_sign returned %d; the model predicts %d (%s)", f.what, rc, want, why)
	}
}
