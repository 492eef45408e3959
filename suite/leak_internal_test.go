package suite

import (
	"testing"
	"time"
)

// TestExpiredBy: a leak window waits until the clock's second says every
// credential it made has outlived its lifetime, counted in whole seconds
// as plugins and munged count it, and no longer.
func TestExpiredBy(t *testing.T) {
	at := func(sec, ms int) time.Time { return time.Unix(int64(sec), int64(ms)*int64(time.Millisecond)) }
	for _, c := range []struct {
		now     time.Time
		ttl     int
		wantSec int // the second time(NULL) must read
	}{
		{at(100, 0), 1, 102},   // made in second 100: still valid while time(NULL) reads 101
		{at(100, 999), 1, 102}, // made late in the same second: the same
		{at(101, 1), 1, 103},   // cycles that crossed into 101
		{at(100, 500), 0, 101}, // no lifetime configured: the next second
		{at(100, 500), 5, 106},
	} {
		got := expiredBy(c.now, c.ttl)
		if want := at(c.wantSec, 0).Add(expiryMargin); !got.Equal(want) {
			t.Errorf("expiredBy(%v, %d) = %v, want %v", c.now.UnixMilli(), c.ttl, got.UnixMilli(), want.UnixMilli())
		}
	}
}
