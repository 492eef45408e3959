// Package contract is a reference model of the auth plugin contract as a
// state machine: the life cycle of credentials (created, packed, unpacked,
// tampered, verified, failed, expired, destroyed) and what each operation
// on them must give — success or error, uid and gid or SLURM_AUTH_NOBODY,
// data, host. It draws seeded random sequences of operations over a small
// pool of credentials, runs them against a plugin (anything that
// implements [Plugin]), compares every outcome with its prediction, and
// shrinks a failing sequence to a minimal one (delta debugging) that fails
// the same way.
//
// The model predicts only what the contract fixes. Where the contract
// leaves a choice to the plugin (does a credential that was never packed
// verify? does a changed byte make unpack or verify fail?), the model
// accepts either outcome and then follows the one the plugin chose. What
// depends on the plugin's build or family comes in [Semantics]: replay
// protection (Debian's auth/munge accepts replays), the lifetime, and for
// auth/none, which authenticates nothing, that verify accepts anything and
// the ids are readable at once.
package contract

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/plugincheck/plugincheck/reference/model"
)

// Op is one operation of a sequence.
type Op uint8

const (
	OpCreate  Op = iota // o = create(payload)
	OpPack              // b = pack(o)
	OpUnpack            // o = unpack(b)
	OpTamper            // b' = b with one byte changed (no plugin call)
	OpVerify            // verify(o)
	OpIDs               // get_uid/get_gid or get_ids(o)
	OpData              // get_data(o)
	OpHost              // get_host(o)
	OpDestroy           // destroy(o)
	OpWait              // sleep until every credential so far has expired
)

var opNames = [...]string{"create", "pack", "unpack", "tamper", "verify", "ids", "data", "host", "destroy", "wait"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op%d", o)
}

// Pool sizes: credential handles o0…o3 and packed credentials b0…b2.
const (
	Objects = 4
	Blobs   = 3
)

// Where is the byte a tamper step changes. The positions are fixed (first,
// middle, last) rather than drawn, so that whether a sequence meets a
// given defect does not depend on the seed; changing every byte is
// AUTH-TAMPER's job.
type Where uint8

const (
	First Where = iota
	Middle
	Last
)

func (w Where) String() string { return [...]string{"first", "middle", "last"}[w%3] }

func (w Where) offset(n int) int {
	switch w {
	case First:
		return 0
	case Middle:
		return n / 2
	}
	return n - 1
}

// Step is one operation with its operands.
type Step struct {
	Op Op
	// Obj is the credential slot: the target of create and unpack, the
	// subject of every other call.
	Obj int
	// Blob is the packed-credential slot: the target of pack, the source
	// of unpack and tamper; To is tamper's target.
	Blob, To int
	// Payload numbers create's data (see Payload).
	Payload int
	Where   Where
}

func (s Step) String() string {
	switch s.Op {
	case OpCreate:
		return fmt.Sprintf("o%d = create(data #%d, %d bytes)", s.Obj, s.Payload, len(Payload(s.Payload)))
	case OpPack:
		return fmt.Sprintf("b%d = pack(o%d)", s.Blob, s.Obj)
	case OpUnpack:
		return fmt.Sprintf("o%d = unpack(b%d)", s.Obj, s.Blob)
	case OpTamper:
		return fmt.Sprintf("b%d = b%d with its %s byte changed", s.To, s.Blob, s.Where)
	case OpWait:
		return "wait until every credential so far has expired"
	}
	return fmt.Sprintf("%s(o%d)", s.Op, s.Obj)
}

// Payload is create's data for payload number i: empty, 12, 40 or 300
// bytes by turns, each starting with its number, so two credentials' data
// never look alike unless both are empty.
func Payload(i int) []byte {
	n := [...]int{0, 12, 40, 300}[i%4]
	var b []byte
	for len(b) < n {
		b = fmt.Appendf(b, "#%d oracle payload ", i)
	}
	return b[:n]
}

// Handle is a credential in the plugin's process; 0 is NULL.
type Handle uint64

// Plugin is the plugin under test, in one process. err reports the process
// failing (a crash, a hang): never a plugin's ordinary error return.
type Plugin interface {
	Create(data []byte) (Handle, error)
	Pack(h Handle) (body []byte, rc int32, err error)
	Unpack(body []byte) (h Handle, consumed int, err error)
	Verify(h Handle) (rc int32, err error)
	IDs(h Handle) (uid, gid uint32, err error)
	Data(h Handle) (data []byte, rc int32, err error)
	Host(h Handle) (host string, ok bool, err error)
	// Destroy returns 0 where destroy is void.
	Destroy(h Handle) (rc int32, err error)
}

// Semantics is what the model needs to know about the plugin beyond the
// contract.
type Semantics struct {
	// Creator is the identity of the process that creates and verifies.
	Creator model.Identity
	// Authenticates is false for auth/none: verify accepts anything, the
	// ids and host are readable before verify, and nothing expires.
	Authenticates bool
	// ReplayProtected: a second copy of a credential that already verified
	// fails verify (measured: build-dependent for auth/munge).
	ReplayProtected bool
	// Lifetime is the credentials' lifetime when known; with zero the
	// model assumes at least MinLifetime and never predicts expiry.
	Lifetime time.Duration
	// HasData and HasHost: the generation has get_data, the plugin
	// exports get_host.
	HasData, HasHost bool
	// CarriesData: get_data returns create's data (false for auth/none,
	// whose get_data always returns none).
	CarriesData bool
	// Host is what get_host returns when Authenticates is false (auth/none:
	// the short host name).
	Host *string
	// TamperedIdentity predicts the ids a changed credential claims when
	// Authenticates is false (auth/none: its first eight bytes).
	TamperedIdentity func(body []byte) (model.Identity, bool)
}

// MinLifetime is the lifetime assumed when none is known.
const MinLifetime = 10 * time.Second

// Contract is the semantics of a plugin that authenticates, created by
// and verified in a process with identity creator.
func Contract(creator model.Identity, replayProtected bool, lifetime time.Duration, hasData, hasHost bool) Semantics {
	return Semantics{Creator: creator, Authenticates: true, ReplayProtected: replayProtected, Lifetime: lifetime,
		HasData: hasData, HasHost: hasHost, CarriesData: true}
}

// AuthNone is the semantics of auth/none (model.AuthNone) at protocol pv.
func AuthNone(m model.AuthNone, creator model.Identity, host *string, pv uint16, hasData, hasHost bool) Semantics {
	return Semantics{Creator: creator, HasData: hasData, HasHost: hasHost, Host: host,
		TamperedIdentity: func(body []byte) (model.Identity, bool) {
			c, _, err := m.Unpack(body, pv)
			return c.Identity, err == nil
		}}
}

// Mismatch is an outcome the model did not predict.
type Mismatch struct {
	// Kind classifies it ("verify rejected", "ids", "crash", …); shrinking
	// keeps a sequence only while it fails with the same Kind.
	Kind      string
	Want, Got string
}

func (m *Mismatch) String() string {
	return fmt.Sprintf("%s: the model predicts %s; the plugin gave %s", m.Kind, m.Want, m.Got)
}

// Entry is one executed step and what came of it.
type Entry struct {
	Step     Step
	Got      string
	Mismatch *Mismatch
}

// Result is one run of a sequence.
type Result struct {
	// Entries are the steps executed, in order; steps whose operands did
	// not exist (a credential slot left empty by a NULL unpack, say) are
	// left out. The last one carries the Mismatch, if any.
	Entries []Entry
	Failure *Mismatch
}

// Steps are the executed steps.
func (r *Result) Steps() []Step {
	out := make([]Step, len(r.Entries))
	for i, e := range r.Entries {
		out[i] = e.Step
	}
	return out
}

// Transcript prints the executed steps with their outcomes, and the
// mismatch under the step that met it.
func (r *Result) Transcript() string {
	var b strings.Builder
	for i, e := range r.Entries {
		fmt.Fprintf(&b, "%3d. %-46s → %s\n", i+1, e.Step, e.Got)
		if e.Mismatch != nil {
			fmt.Fprintf(&b, "     ✗ the model predicts %s\n", e.Mismatch.Want)
		}
	}
	return b.String()
}

type objState uint8

const (
	unverified objState = iota
	verified
	failed
	// unsure: a verified credential whose re-verify failed after its term
	// may have ended; the plugin may or may not still call it verified.
	unsure
)

// token is one credential as create made it; packed and unpacked copies
// share it.
type token struct {
	data         []byte
	cStart, cEnd time.Time // around the create call
	consumed     bool      // a copy verified (replay protection)
	bodies       [][]byte  // what pack wrote for unchanged copies
	expired      bool      // a verify showed its term is over
}

func (t *token) packed(body []byte) bool {
	for _, b := range t.bodies {
		if bytes.Equal(b, body) {
			return true
		}
	}
	return false
}

type object struct {
	tok      *token
	h        Handle
	created  bool // from create, never packed and unpacked
	tampered bool // unpacked from changed bytes (or a copy of such)
	body     []byte
	state    objState
}

type blob struct {
	tok      *token
	tampered bool
	body     []byte
}

// Clock is the model's time; tests substitute a fake one.
type Clock interface {
	Now() time.Time
	Sleep(d time.Duration)
}

type realClock struct{}

func (realClock) Now() time.Time        { return time.Now() }
func (realClock) Sleep(d time.Duration) { time.Sleep(d) }

// RealClock is the wall clock.
var RealClock Clock = realClock{}

// machine runs steps against a plugin and checks each outcome.
type machine struct {
	sem   Semantics
	p     Plugin
	clock Clock
	objs  [Objects]*object
	blobs [Blobs]*blob
	// host: what get_host returned for the first verified credential;
	// every verified credential of the run must name the same host.
	host      *string
	hostKnown bool
}

func newMachine(sem Semantics, p Plugin, clock Clock) *machine {
	if clock == nil {
		clock = RealClock
	}
	return &machine{sem: sem, p: p, clock: clock}
}

// applicable reports whether a step's operands exist in the current state.
func (m *machine) applicable(s Step) bool {
	if s.Obj < 0 || s.Obj >= Objects || s.Blob < 0 || s.Blob >= Blobs || s.To < 0 || s.To >= Blobs {
		return false
	}
	switch s.Op {
	case OpCreate:
		return m.objs[s.Obj] == nil
	case OpUnpack:
		return m.blobs[s.Blob] != nil && m.objs[s.Obj] == nil
	case OpTamper:
		return m.blobs[s.Blob] != nil
	case OpWait:
		return m.sem.Authenticates && m.sem.Lifetime > 0
	case OpData:
		return m.sem.HasData && m.objs[s.Obj] != nil
	case OpHost:
		return m.sem.HasHost && m.objs[s.Obj] != nil
	}
	return m.objs[s.Obj] != nil
}

func crash(op Op, err error) *Mismatch {
	return &Mismatch{Kind: "crash in " + op.String(), Want: "an answer", Got: err.Error()}
}

// exec runs one applicable step.
func (m *machine) exec(s Step) Entry {
	e := Entry{Step: s}
	fail := func(kind, want, got string) Entry {
		e.Got = got
		e.Mismatch = &Mismatch{Kind: kind, Want: want, Got: got}
		return e
	}
	o := m.objs[s.Obj]
	switch s.Op {
	case OpCreate:
		data := Payload(s.Payload)
		t0 := m.clock.Now()
		h, err := m.p.Create(data)
		t1 := m.clock.Now()
		if err != nil {
			e.Mismatch = crash(s.Op, err)
			e.Got = "crashed"
			return e
		}
		if h == 0 {
			return fail("create failed", "a credential", "NULL")
		}
		m.objs[s.Obj] = &object{tok: &token{data: data, cStart: t0, cEnd: t1}, h: h, created: true}
		e.Got = "a credential"
	case OpPack:
		body, rc, err := m.p.Pack(o.h)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		if rc != 0 || len(body) == 0 {
			return fail("pack failed", "0 and some bytes", fmt.Sprintf("%d and %d bytes", rc, len(body)))
		}
		m.blobs[s.Blob] = &blob{tok: o.tok, tampered: o.tampered, body: body}
		if !o.tampered {
			o.tok.bodies = append(o.tok.bodies, body)
		}
		e.Got = fmt.Sprintf("%d bytes", len(body))
	case OpUnpack:
		b := m.blobs[s.Blob]
		h, consumed, err := m.p.Unpack(b.body)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		switch {
		case h == 0 && b.tampered:
			e.Got = "NULL"
			return e
		case h == 0:
			return fail("unpack failed", "a credential", "NULL")
		case !b.tampered && consumed != len(b.body):
			return fail("unpack consumed", fmt.Sprintf("exactly the %d bytes pack wrote consumed", len(b.body)),
				fmt.Sprintf("%d bytes consumed", consumed))
		}
		m.objs[s.Obj] = &object{tok: b.tok, h: h, tampered: b.tampered, body: b.body[:min(max(consumed, 0), len(b.body))]}
		e.Got = "a credential"
	case OpTamper:
		b := m.blobs[s.Blob]
		body := bytes.Clone(b.body)
		at := s.Where.offset(len(body))
		body[at] ^= 0x01
		// Changed twice back to what pack wrote, it is unchanged again.
		m.blobs[s.To] = &blob{tok: b.tok, tampered: !b.tok.packed(body), body: body}
		e.Got = fmt.Sprintf("byte %d of %d", at, len(body))
	case OpVerify:
		vs := m.clock.Now()
		rc, err := m.p.Verify(o.h)
		ve := m.clock.Now()
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		okAllowed, failAllowed, why := m.wantVerify(o, vs, ve)
		e.Got = fmt.Sprint(rc)
		switch {
		case rc == 0 && !okAllowed:
			return fail("verify accepted", "failure: "+why, "0")
		case rc != 0 && !failAllowed:
			return fail("verify rejected", "success: "+why, fmt.Sprint(rc))
		}
		m.afterVerify(o, rc == 0, vs, ve)
	case OpIDs:
		uid, gid, err := m.p.IDs(o.h)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		got := model.Identity{UID: uid, GID: gid}
		e.Got = fmt.Sprintf("uid %d gid %d", uid, gid)
		if want, any := m.wantIDs(o); !any && !containsID(want, got) {
			return fail("ids", idList(want), e.Got)
		}
	case OpData:
		data, rc, err := m.p.Data(o.h)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		e.Got = fmt.Sprintf("%d, %s", rc, quote(data))
		if want := m.wantData(o, rc, data); want != "" {
			return fail("data", want, e.Got)
		}
	case OpHost:
		host, ok, err := m.p.Host(o.h)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		var got *string
		if ok {
			got = &host
		}
		e.Got = strp(got)
		if want := m.wantHost(o, got); want != "" {
			return fail("host", want, e.Got)
		}
	case OpDestroy:
		rc, err := m.p.Destroy(o.h)
		if err != nil {
			e.Mismatch, e.Got = crash(s.Op, err), "crashed"
			return e
		}
		m.objs[s.Obj] = nil
		e.Got = fmt.Sprint(rc)
		if rc != 0 {
			return fail("destroy failed", "0", e.Got)
		}
	case OpWait:
		m.wait()
		e.Got = "done"
	}
	return e
}

// term says whether a credential is certainly within its term, or
// certainly past it, for a verify between vs and ve. Plugins and munged
// count whole seconds (expired when now > created + ttl, some when
// now >= created + ttl); between the two certainties either answer is right.
func (m *machine) term(t *token, vs, ve time.Time) (valid, expired bool) {
	switch {
	case !m.sem.Authenticates:
		return true, false
	case t.expired:
		return false, true
	case m.sem.Lifetime <= 0:
		return ve.Sub(t.cStart) < MinLifetime, false
	}
	ttl := int64((m.sem.Lifetime + time.Second - 1) / time.Second)
	return ve.Unix() < t.cStart.Unix()+ttl, vs.Unix() > t.cEnd.Unix()+ttl
}

func (m *machine) wantVerify(o *object, vs, ve time.Time) (okAllowed, failAllowed bool, why string) {
	if !m.sem.Authenticates {
		return true, false, "a plugin that authenticates nothing (auth/none) accepts everything"
	}
	t := o.tok
	valid, expired := m.term(t, vs, ve)
	switch {
	case o.state == verified && valid:
		return true, false, "it verified before and its term is not over"
	case o.state == verified:
		return true, true, "it verified before, but its term may be over"
	case expired:
		return false, true, "its term is over"
	case m.sem.ReplayProtected && t.consumed:
		return false, true, "a copy of the same credential already verified, and the plugin refuses replays"
	case o.tampered:
		return true, true, "its bytes were changed (if it verifies, it must be the same credential)"
	case o.created:
		return true, true, "the contract does not say whether a credential that was never packed verifies"
	case !valid:
		return true, true, "its term may be over"
	}
	return true, false, "an unchanged copy within its term"
}

func (m *machine) afterVerify(o *object, ok bool, vs, ve time.Time) {
	if ok {
		o.state = verified
		if m.sem.Authenticates {
			o.tok.consumed = true
		}
		return
	}
	if o.state == verified || o.state == unsure {
		o.state = unsure
		return
	}
	o.state = failed
	// The only reason left for an unchanged, unpacked copy to fail is
	// that its term is over: from now on every copy must fail.
	valid, _ := m.term(o.tok, vs, ve)
	if !valid && !o.tampered && !o.created && !(m.sem.ReplayProtected && o.tok.consumed) {
		o.tok.expired = true
	}
}

func (m *machine) wantIDs(o *object) (want []model.Identity, any bool) {
	nobody := model.Identity{UID: model.Nobody, GID: model.Nobody}
	if !m.sem.Authenticates {
		if !o.tampered {
			return []model.Identity{m.sem.Creator}, false
		}
		if m.sem.TamperedIdentity != nil {
			if id, ok := m.sem.TamperedIdentity(o.body); ok {
				return []model.Identity{id}, false
			}
		}
		return nil, true
	}
	switch o.state {
	case verified:
		return []model.Identity{m.sem.Creator}, false
	case unsure:
		return []model.Identity{m.sem.Creator, nobody}, false
	}
	return []model.Identity{nobody}, false
}

// wantData returns "" when get_data's answer is right, else what it should
// have been.
func (m *machine) wantData(o *object, rc int32, data []byte) string {
	if !m.sem.CarriesData {
		if rc != 0 || len(data) != 0 {
			return "0 and no data (the plugin carries none)"
		}
		return ""
	}
	want := o.tok.data
	switch {
	case o.state == verified && (rc != 0 || !bytes.Equal(data, want)):
		return "0, " + quote(want) + " (the data given to create)"
	case o.state != verified && rc == 0 && !o.tampered && len(data) > 0 && !bytes.Equal(data, want):
		// Unverified: an error, nothing, or this credential's data; never
		// another credential's.
		return "an error, no data or " + quote(want)
	}
	return ""
}

func (m *machine) wantHost(o *object, got *string) string {
	if !m.sem.Authenticates {
		if !o.tampered && strp(got) != strp(m.sem.Host) {
			return strp(m.sem.Host)
		}
		return ""
	}
	if o.state != verified {
		return ""
	}
	if !m.hostKnown {
		m.host, m.hostKnown = got, true
		return ""
	}
	if strp(got) != strp(m.host) {
		return strp(m.host) + ", as for the credential verified first in this process"
	}
	return ""
}

// wait sleeps until every credential created so far is certainly past its
// term.
func (m *machine) wait() {
	var last time.Time
	seen := map[*token]bool{}
	visit := func(t *token) {
		if !seen[t] && t.cEnd.After(last) {
			last = t.cEnd
		}
		seen[t] = true
	}
	for _, o := range m.objs {
		if o != nil {
			visit(o.tok)
		}
	}
	for _, b := range m.blobs {
		if b != nil {
			visit(b.tok)
		}
	}
	if last.IsZero() {
		return
	}
	ttl := int64((m.sem.Lifetime + time.Second - 1) / time.Second)
	until := time.Unix(last.Unix()+ttl+1, 0).Add(20 * time.Millisecond)
	if d := until.Sub(m.clock.Now()); d > 0 {
		m.clock.Sleep(d)
	}
}

func containsID(ids []model.Identity, id model.Identity) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func idList(ids []model.Identity) string {
	var s []string
	for _, id := range ids {
		s = append(s, fmt.Sprintf("uid %d gid %d", id.UID, id.GID))
	}
	return strings.Join(s, " or ")
}

func quote(b []byte) string {
	if len(b) == 0 {
		return "no data"
	}
	if len(b) > 24 {
		return fmt.Sprintf("%d bytes %q…", len(b), b[:24])
	}
	return fmt.Sprintf("%d bytes %q", len(b), b)
}

func strp(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *s)
}
