package cluster

import (
	"bytes"
	"strings"
	"testing"
)

// TestFragmentsInterleaved: messages longer than a fragment, from three
// agents whose lines srun merges in any order, come out whole; a line
// that is not an agent's goes to other; a message missing a fragment is
// lost, not mistaken for another.
func TestFragmentsInterleaved(t *testing.T) {
	var per [3]bytes.Buffer
	for r := range per {
		w := &lineWriter{w: &per[r], prefix: agentPrefix, fragments: true, rank: r}
		for _, note := range []string{"short", strings.Repeat("long note with spaces ", 200)} {
			if err := w.send(message{Op: opMake, Rank: r, OtherNote: note}); err != nil {
				t.Fatal(err)
			}
		}
	}
	lines := [3][]string{}
	for r := range per {
		lines[r] = strings.SplitAfter(strings.TrimSuffix(per[r].String(), "\n"), "\n")
		if len(lines[r]) < 4 {
			t.Fatalf("agent %d: %d lines, want the long message in several fragments", r, len(lines[r]))
		}
		for _, l := range lines[r] {
			if len(l) > fragmentSize+len(agentPrefix)+32 {
				t.Fatalf("a line of %d bytes", len(l))
			}
		}
	}
	// Round-robin over the agents, a stray line in between, and agent 2's
	// third line dropped (its long message must be lost).
	var merged strings.Builder
	for i := 0; ; i++ {
		any := false
		for r := range lines {
			if i < len(lines[r]) {
				any = true
				if !(r == 2 && i == 2) {
					merged.WriteString(strings.TrimSuffix(lines[r][i], "\n") + "\n")
				}
			}
		}
		if i == 1 {
			merged.WriteString("a plugin printed this\n")
		}
		if !any {
			break
		}
	}
	out := make(chan message, 16)
	var others []string
	readMessages(strings.NewReader(merged.String()), agentPrefix, true, out, func(l string) { others = append(others, l) })
	got := map[int][]int{}
	for m := range out {
		got[m.Rank] = append(got[m.Rank], len(m.OtherNote))
	}
	long := len(strings.Repeat("long note with spaces ", 200))
	for r, want := range [][]int{{5, long}, {5, long}, {5}} {
		if len(got[r]) != len(want) || got[r][0] != want[0] || len(want) > 1 && got[r][1] != want[1] {
			t.Errorf("agent %d: notes of lengths %v, want %v", r, got[r], want)
		}
	}
	if len(others) != 1 || others[0] != "a plugin printed this" {
		t.Errorf("other lines %q", others)
	}
}
