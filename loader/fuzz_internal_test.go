package loader

import (
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
)

// TestHistogram: bucket midpoints stay within 3 % of the values they hold,
// and percentiles read them back.
func TestHistogram(t *testing.T) {
	for _, v := range []uint64{0, 1, 31, 32, 33, 100, 1000, 12345, 1 << 20, 1e9, 1 << 40} {
		b := wire.HistBucket(v)
		if b < 0 || b >= wire.HistBuckets {
			t.Fatalf("bucket of %d: %d", v, b)
		}
		got := wire.HistValue(b)
		if d := float64(got) - float64(v); d > 0.03*float64(v)+1 || -d > 0.03*float64(v)+1 {
			t.Errorf("value %d lands in bucket %d, read back as %d", v, b, got)
		}
		if b > 0 && wire.HistBucket(v) < wire.HistBucket(v/2) {
			t.Errorf("buckets not monotonic at %d", v)
		}
	}
	st := BenchStep{Hist: make([]uint64, wire.HistBuckets)}
	for v := uint64(1); v <= 1000; v++ {
		st.Hist[wire.HistBucket(v*1000)]++
		st.Count++
	}
	for _, p := range []float64{.5, .9, .99} {
		want := time.Duration(p * 1000 * 1000)
		if got := st.Percentile(p); got < want*97/100 || got > want*103/100 {
			t.Errorf("p%.0f = %v, want about %v", p*100, got, want)
		}
	}
}

func TestOutOfMemory(t *testing.T) {
	if !outOfMemory("error: x\nslurm_xcalloc: xmalloc.c:86: malloc failed\n") {
		t.Error("xmalloc's message not recognised")
	}
	if outOfMemory("error: unpackstr_xmalloc: Buffer to be unpacked is too large (3316059392 > 1073741824)\n") {
		t.Error("a refused length is not an allocation failure")
	}
}
