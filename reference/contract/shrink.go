package contract

import (
	"fmt"
	"strings"
	"time"
)

// Runner runs a sequence in a fresh plugin process and returns what
// happened (Run's result).
type Runner func(steps []Step) *Result

// Budget bounds shrinking.
type Budget struct {
	Runs int
	Time time.Duration
}

// Shrunk is the outcome of Shrink.
type Shrunk struct {
	// Result is the final run of the minimal sequence.
	Result *Result
	// From and To are the lengths before and after; Runs counts the fresh
	// runs it took.
	From, To, Runs int
	// Exhausted: the budget ran out before the sequence was 1-minimal.
	Exhausted bool
}

// Shrink reduces a failing sequence to a minimal one that fails the same
// way (the same mismatch Kind). It runs every candidate in a fresh process
// (run), so each try starts from a clean plugin:
//
//  1. the failing run's executed steps up to the mismatch;
//  2. without the wait steps (they cost seconds), if it still fails;
//  3. delta debugging (ddmin): drop chunks of steps, halving the chunk
//     size down to single steps, until no single step can go;
//  4. copy elimination: an unpacked copy replaced by the credential it was
//     packed from (pack and unpack dropped), which ddmin cannot do alone;
//     then ddmin again, until neither finds anything;
//     tamper elimination: a changed blob replaced by the one it was made
//     from (one tamper, or two in a row, which may restore the bytes);
//     and relocation: a credential moved to a slot the sequence never
//     uses, so that the destroy that made room for it can go;
//  5. slots renumbered in order of first use.
func Shrink(failing *Result, run Runner, budget Budget) *Shrunk {
	start := time.Now()
	want := failing.Failure.Kind
	seen := map[string]bool{}
	sh := &Shrunk{Result: failing, From: len(failing.Entries)}
	cur := failing.Steps()
	out := func() bool {
		return sh.Runs >= budget.Runs || budget.Time > 0 && time.Since(start) > budget.Time
	}
	// test runs a candidate and keeps it when it fails the same way.
	test := func(c []Step) bool {
		k := key(c)
		if seen[k] || len(c) == 0 {
			return false
		}
		seen[k] = true
		if out() {
			sh.Exhausted = true
			return false
		}
		sh.Runs++
		r := run(c)
		if r.Failure == nil || r.Failure.Kind != want {
			return false
		}
		sh.Result = r
		return true
	}
	accept := func(c []Step) bool {
		if test(c) {
			cur = sh.Result.Steps()
			return true
		}
		return false
	}
	if noWait := without(cur, OpWait); len(noWait) < len(cur) {
		accept(noWait)
	}
	for {
		cur = ddmin(cur, test, func() []Step { return sh.Result.Steps() })
		if !eliminateCopies(cur, accept) && !eliminateTampers(cur, accept) && !relocate(cur, accept) || sh.Exhausted {
			break
		}
	}
	if renamed := renumber(cur); key(renamed) != key(cur) {
		accept(renamed)
	}
	sh.To = len(sh.Result.Entries)
	return sh
}

// ddmin is Zeller's delta debugging minimisation over steps: try removing
// each of n chunks (then keeping each chunk alone); on success continue
// with the smaller sequence, else split finer, until chunks are single
// steps. last returns the executed steps of the last accepted run (steps
// whose operands vanished drop out of it).
func ddmin(c []Step, test func([]Step) bool, last func() []Step) []Step {
	n := 2
	for len(c) >= 2 {
		chunks := split(c, n)
		reduced := false
		for i := range chunks {
			if test(concatExcept(chunks, i)) {
				c, n, reduced = last(), max(n-1, 2), true
				break
			}
		}
		if !reduced {
			for i := range chunks {
				if len(chunks) > 2 && test(chunks[i]) {
					c, n, reduced = last(), 2, true
					break
				}
			}
		}
		if !reduced {
			if n >= len(c) {
				break
			}
			n = min(2*n, len(c))
		}
	}
	return c
}

func split(c []Step, n int) [][]Step {
	var out [][]Step
	for i := 0; i < n; i++ {
		lo, hi := i*len(c)/n, (i+1)*len(c)/n
		if hi > lo {
			out = append(out, c[lo:hi])
		}
	}
	return out
}

func concatExcept(chunks [][]Step, skip int) []Step {
	var out []Step
	for i, ch := range chunks {
		if i != skip {
			out = append(out, ch...)
		}
	}
	return out
}

func without(c []Step, op Op) []Step {
	var out []Step
	for _, s := range c {
		if s.Op != op {
			out = append(out, s)
		}
	}
	return out
}

// eliminateCopies tries, for each unpack whose blob came straight from a
// pack, the sequence without that unpack in which the later uses of the
// unpacked copy use the packed credential instead. It reports whether one
// was accepted.
func eliminateCopies(c []Step, accept func([]Step) bool) bool {
	for i, s := range c {
		if s.Op != OpUnpack {
			continue
		}
		src := -1
		for j := i - 1; j >= 0; j-- {
			if p := c[j]; p.Op == OpPack && p.Blob == s.Blob {
				src = p.Obj
				break
			} else if p.Op == OpTamper && p.To == s.Blob {
				break
			}
		}
		if src < 0 || src == s.Obj {
			continue
		}
		cand := append([]Step(nil), c[:i]...)
		renaming := true
		for _, t := range c[i+1:] {
			if renaming && t.Op != OpTamper && t.Op != OpWait && t.Obj == s.Obj {
				if t.Op == OpCreate || t.Op == OpUnpack {
					renaming = false // the slot holds another credential from here
				} else {
					t.Obj = src
				}
			}
			cand = append(cand, t)
		}
		if accept(cand) {
			return true
		}
	}
	return false
}

// eliminateTampers tries, for each tamper step (and each tamper of a
// tamper's output), the sequence without it in which later reads of its
// output read its input. It reports whether one was accepted.
func eliminateTampers(c []Step, accept func([]Step) bool) bool {
	for i, s := range c {
		if s.Op != OpTamper {
			continue
		}
		if accept(dropTamper(c, i, -1)) {
			return true
		}
		for j := i + 1; j < len(c); j++ {
			t := c[j]
			if t.Op == OpTamper && t.Blob == s.To {
				if accept(dropTamper(c, i, j)) {
					return true
				}
				break
			}
			if writesBlob(t, s.To) {
				break
			}
		}
	}
	return false
}

// dropTamper removes tamper step i (and j, a tamper of its output, when
// j >= 0) and renames the blob their output lands in to i's input for the
// steps after, until that blob is written again.
func dropTamper(c []Step, i, j int) []Step {
	from, to := c[i].Blob, c[i].To
	last := i
	if j >= 0 {
		to, last = c[j].To, j
	}
	var out []Step
	renaming := true
	for k, t := range c {
		switch {
		case k == i || k == j:
			continue
		case k > last && renaming:
			if writesBlob(t, to) {
				renaming = false
			} else if (t.Op == OpUnpack || t.Op == OpTamper) && t.Blob == to {
				t.Blob = from
			}
		}
		out = append(out, t)
	}
	return out
}

func writesBlob(s Step, b int) bool {
	return s.Op == OpPack && s.Blob == b || s.Op == OpTamper && s.To == b
}

// relocate tries, for each create or unpack into a slot that held another
// credential before, the sequence in which this credential lives in a slot
// the sequence never uses. It reports whether one was accepted.
func relocate(c []Step, accept func([]Step) bool) bool {
	used := map[int]bool{}
	for _, s := range c {
		if s.Op != OpTamper && s.Op != OpWait {
			used[s.Obj] = true
		}
	}
	for i, s := range c {
		if s.Op != OpCreate && s.Op != OpUnpack || !earlierUse(c[:i], s.Obj) {
			continue
		}
		for y := 0; y < Objects; y++ {
			if used[y] {
				continue
			}
			cand := append([]Step(nil), c...)
			for j := i; j < len(cand); j++ {
				t := &cand[j]
				if t.Op == OpTamper || t.Op == OpWait || t.Obj != s.Obj {
					continue
				}
				if j > i && (t.Op == OpCreate || t.Op == OpUnpack) {
					break
				}
				t.Obj = y
			}
			if accept(cand) {
				return true
			}
			break
		}
	}
	return false
}

func earlierUse(c []Step, obj int) bool {
	for _, s := range c {
		if s.Op != OpTamper && s.Op != OpWait && s.Obj == obj {
			return true
		}
	}
	return false
}

// renumber names slots in the order the sequence first uses them.
func renumber(c []Step) []Step {
	objs, blobs := map[int]int{}, map[int]int{}
	name := func(m map[int]int, x int) int {
		if y, ok := m[x]; ok {
			return y
		}
		m[x] = len(m)
		return m[x]
	}
	out := make([]Step, len(c))
	for i, s := range c {
		switch s.Op {
		case OpTamper:
			s.Blob = name(blobs, s.Blob)
			s.To = name(blobs, s.To)
		case OpPack, OpUnpack:
			if s.Op == OpUnpack {
				s.Blob = name(blobs, s.Blob)
				s.Obj = name(objs, s.Obj)
			} else {
				s.Obj = name(objs, s.Obj)
				s.Blob = name(blobs, s.Blob)
			}
		case OpWait:
		default:
			s.Obj = name(objs, s.Obj)
		}
		out[i] = s
	}
	return out
}

func key(c []Step) string {
	var b strings.Builder
	for _, s := range c {
		fmt.Fprintf(&b, "%d.%d.%d.%d.%d.%d;", s.Op, s.Obj, s.Blob, s.To, s.Payload, s.Where)
	}
	return b.String()
}
