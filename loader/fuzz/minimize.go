package fuzz

import (
	"context"

	"github.com/plugincheck/plugincheck/loader"
)

// Minimize looks for the shortest input that still fails the same way as
// fail, each try in a fresh worker, within maxTries and the context's
// deadline. It returns the shortest failing input's failure and the
// number of tries.
func Minimize(ctx context.Context, sb *loader.Sandbox, cfg loader.FuzzConfig, fail *loader.FuzzFailure, maxTries int) (*loader.FuzzFailure, int, error) {
	pool := newSpares(ctx, sb, cfg)
	defer pool.close()
	best := fail
	tries := 0
	var lastErr error
	check := func(data []byte) bool {
		if tries >= maxTries || ctx.Err() != nil {
			return false
		}
		tries++
		fw, err := pool.get()
		if err != nil {
			lastErr = err
			return false
		}
		in := loader.FuzzInput{Target: fail.Input.Target, Protocol: fail.Input.Protocol, Data: data}
		got, err := fw.Reproduce(in, fail.Kind)
		fw.Close()
		if err != nil {
			lastErr = err
			return false
		}
		if fail.Same(got) {
			best = got
			return true
		}
		return false
	}
	// Work on each part separately: a verify_sign input is a buffer and a
	// signature, the others one byte string.
	parts := [][]byte{fail.Input.Data}
	rebuild := func(p [][]byte) []byte { return p[0] }
	if fail.Input.Target == loader.FuzzVerifySign {
		b, sig := loader.SplitSigned(fail.Input.Data)
		parts = [][]byte{b, sig}
		rebuild = func(p [][]byte) []byte { return loader.SignedInput(p[0], p[1]) }
	}
	for i := range parts {
		try := func(cand []byte) bool {
			p := append([][]byte(nil), parts...)
			p[i] = cand
			if check(rebuild(p)) {
				parts[i] = cand
				return true
			}
			return false
		}
		minimizeBytes(parts[i], try)
	}
	if tries == 0 && lastErr != nil {
		return best, tries, lastErr
	}
	return best, tries, nil
}

// minimizeBytes shortens b while fails accepts the shorter input: first
// the shortest failing prefix (binary search), then removing chunks from
// half the length down to single bytes.
func minimizeBytes(b []byte, fails func([]byte) bool) {
	cur := b
	lo, hi := 0, len(cur) // cur[:hi] fails; find the smallest such hi
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(cur[:mid]) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	cur = cur[:hi]
	for chunk := len(cur) / 2; chunk >= 1; chunk /= 2 {
		for at := 0; at+chunk <= len(cur); {
			cand := append(append([]byte(nil), cur[:at]...), cur[at+chunk:]...)
			if fails(cand) {
				cur = cand
			} else {
				at += chunk
			}
		}
	}
}

// spares keeps the next fuzzing worker started while the current one runs:
// a worker takes about 15 ms to start (exec, the host library, init), as
// long as hundreds of executions, and a crash ends one.
type spares struct {
	ctx  context.Context
	sb   *loader.Sandbox
	cfg  loader.FuzzConfig
	next chan started
}

type started struct {
	fw  *loader.FuzzWorker
	err error
}

func newSpares(ctx context.Context, sb *loader.Sandbox, cfg loader.FuzzConfig) *spares {
	p := &spares{ctx: ctx, sb: sb, cfg: cfg, next: make(chan started, 1)}
	p.fill()
	return p
}

func (p *spares) fill() {
	go func() {
		fw, err := p.sb.NewFuzzWorker(p.ctx, p.cfg)
		p.next <- started{fw, err}
	}()
}

// get returns the spare worker and starts the next.
func (p *spares) get() (*loader.FuzzWorker, error) {
	r := <-p.next
	p.fill()
	return r.fw, r.err
}

// close ends the spare being started.
func (p *spares) close() {
	if r := <-p.next; r.fw != nil {
		r.fw.Close()
	}
}
