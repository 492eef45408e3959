package suite

import "testing"

// TestSameSignature: munged's base64 decoder ignores the unused low bits
// of the last character, so flipping the low bit of a final '0' (two
// unused bits after two bytes) changes nothing, and CRED2-TAMPER must not
// count it as an accepted forgery; a change anywhere else is one.
func TestSameSignature(t *testing.T) {
	for _, c := range []struct {
		sig, changed string
		same         bool
	}{
		{"MUNGE:AA0=:", "MUNGE:AA1=:", true},  // only unused bits
		{"MUNGE:AA0=:", "MUNGE:AB0=:", false}, // a data bit
		{"MUNGE:AAQ=:", "MUNGE:AAP=:", false}, // 'Q'^1 is 'P': data bits differ
		{"MUNGE:AA0=:", "MUNGE:A@0=:", false}, // not base64: munged refuses it
		{"fake signature", "fake signaturd", false},
	} {
		if got := sameSignature(c.sig, c.changed); got != c.same {
			t.Errorf("sameSignature(%q, %q) = %v, want %v", c.sig, c.changed, got, c.same)
		}
	}
}
