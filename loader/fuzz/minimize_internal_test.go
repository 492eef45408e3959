package fuzz

import (
	"bytes"
	"testing"
)

// TestMinimizeBytes: the shortest input that still fails, found by prefix
// search and chunk removal.
func TestMinimizeBytes(t *testing.T) {
	// Fails when it holds 'x' somewhere after a 'k'.
	fails := func(b []byte) bool {
		k := bytes.IndexByte(b, 'k')
		return k >= 0 && bytes.IndexByte(b[k:], 'x') > 0
	}
	in := []byte("aaaaaaaakbbbbbbbbbbbxccccccccccc")
	tries := 0
	var best []byte
	minimizeBytes(in, func(b []byte) bool {
		tries++
		if fails(b) {
			best = b
			return true
		}
		return false
	})
	if string(best) != "kx" {
		t.Fatalf("minimized to %q, want \"kx\"", best)
	}
	if tries > 10*len(in) {
		t.Errorf("%d tries for %d bytes", tries, len(in))
	}
}
