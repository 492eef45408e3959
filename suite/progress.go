package suite

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows which spec runs: on a terminal one line redrawn in place,
// once the run has lasted a second; elsewhere a plain line per spec.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	total    int
	begun    int
	start    time.Time
	drawn    bool
}

func newProgress(w io.Writer, total int) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// willRun sets the number of specs the filters leave.
func (p *progress) willRun(n int) {
	if p != nil {
		p.mu.Lock()
		p.total = n
		p.mu.Unlock()
	}
}

// begin announces a spec.
func (p *progress) begin(clause, text string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Counted as they begin: specs in processes of their own begin
	// before the ones under way have ended.
	p.begun++
	line := fmt.Sprintf("[%d/%d] %s: %s", p.begun, p.total, clause, text)
	switch {
	case !p.terminal:
		fmt.Fprintln(p.w, "plugincheck: "+line)
	case time.Since(p.start) > time.Second:
		if len(line) > 100 {
			line = line[:97] + "..."
		}
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
	}
}

// finish clears the live line.
func (p *progress) finish() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
