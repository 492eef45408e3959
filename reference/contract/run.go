package contract

import (
	"math/rand/v2"
	"time"
)

// Run executes steps against p in order and checks each outcome, skipping
// steps whose operands do not exist, until the first mismatch.
func Run(sem Semantics, steps []Step, p Plugin, clock Clock) *Result {
	m := newMachine(sem, p, clock)
	r := &Result{}
	for _, s := range steps {
		if !m.applicable(s) {
			continue
		}
		e := m.exec(s)
		r.Entries = append(r.Entries, e)
		if e.Mismatch != nil {
			r.Failure = e.Mismatch
			break
		}
	}
	return r
}

// Explore draws a sequence of n steps from seed and runs it against p as
// it goes (each step is drawn for the state the previous ones left),
// stopping at the first mismatch. When the semantics have a lifetime of at
// most MaxWait, one step in the middle third waits for every credential to
// expire and the next one verifies a credential made before it.
func Explore(sem Semantics, seed uint64, n int, p Plugin, clock Clock) *Result {
	m := newMachine(sem, p, clock)
	g := newGenerator(sem, seed, n)
	r := &Result{}
	for i := 0; i < n || len(g.queue) > 0; i++ {
		s, ok := g.next(m, i)
		if !ok {
			break
		}
		e := m.exec(s)
		r.Entries = append(r.Entries, e)
		if e.Mismatch != nil {
			r.Failure = e.Mismatch
			break
		}
	}
	return r
}

// MaxWait is the longest lifetime Explore waits out.
const MaxWait = 3 * time.Second

type generator struct {
	sem     Semantics
	rng     *rand.Rand
	creates int
	waitAt  int
	queue   []Step
	last    Step
}

func newGenerator(sem Semantics, seed uint64, n int) *generator {
	g := &generator{sem: sem, rng: rand.New(rand.NewPCG(seed, 0x6f7261636c65)), waitAt: -1}
	if sem.Authenticates && sem.Lifetime > 0 && sem.Lifetime <= MaxWait && n >= 3 {
		g.waitAt = n/3 + g.rng.IntN(n/3+1)
	}
	return g
}

func (g *generator) pick(xs []int) int { return xs[g.rng.IntN(len(xs))] }

// next draws the step at index i for the machine's current state.
func (g *generator) next(m *machine, i int) (Step, bool) {
	if len(g.queue) > 0 {
		s := g.queue[0]
		g.queue = g.queue[1:]
		if m.applicable(s) {
			return s, true
		}
	}
	// Classify the pool, so that draws favour what can still show
	// something: unverified copies that may verify, verified credentials to
	// query, failed or expired ones to destroy, blobs whose credential can
	// still verify.
	var free, live, fresh, copies, good, dead, sets, usable []int
	for j, o := range m.objs {
		if o == nil {
			free = append(free, j)
			continue
		}
		live = append(live, j)
		spent := o.tok.expired || m.sem.ReplayProtected && o.tok.consumed
		switch {
		case o.state == verified:
			good = append(good, j)
		case o.state == unverified && !o.tampered && !spent:
			fresh = append(fresh, j)
			if !o.created {
				copies = append(copies, j)
			}
		default:
			dead = append(dead, j)
		}
	}
	for j, b := range m.blobs {
		if b == nil {
			continue
		}
		sets = append(sets, j)
		if !b.tampered && !b.tok.expired && !(m.sem.ReplayProtected && b.tok.consumed) {
			usable = append(usable, j)
		}
	}
	// prefer draws from pref three times in four.
	prefer := func(pref, all []int) int {
		if len(pref) > 0 && g.rng.IntN(4) != 0 {
			return g.pick(pref)
		}
		return g.pick(all)
	}
	if i == g.waitAt {
		// Wait, then verify a credential made before: after the wait it
		// must fail.
		switch {
		case len(fresh) > 0:
			g.queue = append(g.queue, Step{Op: OpVerify, Obj: g.pick(fresh)})
			return Step{Op: OpWait}, true
		case len(free) > 0:
			o := g.pick(free)
			g.queue = append(g.queue, Step{Op: OpWait}, Step{Op: OpVerify, Obj: o})
			g.last = g.create(o)
			return g.last, true
		default:
			g.waitAt++ // make room first
			return Step{Op: OpDestroy, Obj: g.pick(live)}, true
		}
	}
	// Two times in three, follow the life cycle of the credential the last step
	// touched, as Slurm does (create, pack, unpack, verify, query); the
	// rest of the time, anything goes.
	if s, ok := g.follow(m, free, good); ok && g.rng.IntN(3) != 0 {
		g.last = s
		return s, true
	}
	type choice struct {
		w  int
		mk func() Step
	}
	var cs []choice
	add := func(ok bool, w int, mk func() Step) {
		if ok {
			cs = append(cs, choice{w, mk})
		}
	}
	anyBlob := func() int { return g.rng.IntN(Blobs) }
	w := 4
	if len(fresh)+len(good) == 0 {
		w = 8
	}
	add(len(free) > 0, w, func() Step { return g.create(g.pick(free)) })
	add(len(live) > 0, 3, func() Step {
		return Step{Op: OpPack, Obj: prefer(append(append([]int(nil), fresh...), good...), live), Blob: anyBlob()}
	})
	add(len(sets) > 0 && len(free) > 0, 4, func() Step { return Step{Op: OpUnpack, Blob: prefer(usable, sets), Obj: g.pick(free)} })
	add(len(sets) > 0, 1, func() Step {
		return Step{Op: OpTamper, Blob: g.pick(sets), To: anyBlob(), Where: Where(g.rng.IntN(3))}
	})
	// Verify unpacked copies first, as Slurm does; a credential that was
	// never packed less often (with replay protection, verifying it spends
	// its copies).
	w = 1
	if len(copies) > 0 {
		w = 5
	}
	add(len(live) > 0, w, func() Step {
		if len(copies) > 0 && g.rng.IntN(10) != 0 {
			return Step{Op: OpVerify, Obj: g.pick(copies)}
		}
		return Step{Op: OpVerify, Obj: g.pick(live)}
	})
	half := func(pref, all []int) int {
		if len(pref) > 0 && g.rng.IntN(2) == 0 {
			return g.pick(pref)
		}
		return g.pick(all)
	}
	add(len(live) > 0, 3, func() Step { return Step{Op: OpIDs, Obj: half(good, live)} })
	add(len(live) > 0 && g.sem.HasData, 3, func() Step { return Step{Op: OpData, Obj: half(good, live)} })
	add(len(live) > 0 && g.sem.HasHost, 1, func() Step { return Step{Op: OpHost, Obj: half(good, live)} })
	w = 2
	if len(free) == 0 {
		w = 6
	}
	add(len(live) > 0, w, func() Step { return Step{Op: OpDestroy, Obj: prefer(dead, live)} })
	total := 0
	for _, c := range cs {
		total += c.w
	}
	if total == 0 {
		return Step{}, false
	}
	x := g.rng.IntN(total)
	for _, c := range cs {
		if x < c.w {
			g.last = c.mk()
			return g.last, true
		}
		x -= c.w
	}
	return Step{}, false
}

// follow proposes the natural next step for the credential the last step
// touched: pack what was created, unpack what was packed, verify what was
// unpacked, query what was verified.
func (g *generator) follow(m *machine, free, good []int) (Step, bool) {
	l := g.last
	var s Step
	switch l.Op {
	case OpCreate:
		s = Step{Op: OpPack, Obj: l.Obj, Blob: g.rng.IntN(Blobs)}
	case OpPack, OpTamper:
		if len(free) == 0 {
			return Step{}, false
		}
		b := l.Blob
		if l.Op == OpTamper {
			b = l.To
		}
		s = Step{Op: OpUnpack, Blob: b, Obj: g.pick(free)}
	case OpUnpack:
		s = Step{Op: OpVerify, Obj: l.Obj}
	case OpVerify:
		ops := []Op{OpIDs, OpIDs}
		if g.sem.HasData {
			ops = append(ops, OpData, OpData)
		}
		if g.sem.HasHost {
			ops = append(ops, OpHost)
		}
		s = Step{Op: ops[g.rng.IntN(len(ops))], Obj: l.Obj}
	default:
		return Step{}, false
	}
	return s, m.applicable(s)
}

func (g *generator) create(obj int) Step {
	s := Step{Op: OpCreate, Obj: obj, Payload: g.creates}
	g.creates++
	return s
}
