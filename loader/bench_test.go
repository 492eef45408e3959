package loader_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/loader"
)

// reportMedian adds the median of samples as a metric: one slow outlier on
// a shared machine should not move the figure the issue asks for.
func reportMedian(b *testing.B, samples []time.Duration, unit string, scale time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2])/float64(scale), unit)
}

// BenchmarkWorkerReady measures spawn → host and plugin loaded → init
// returned, for the real 22.05 auth_none.
func BenchmarkWorkerReady(b *testing.B) {
	tg, err := loader.Open(realPlugin(b, "22.05", "auth_none.so"), loader.Options{})
	if err != nil {
		b.Fatal(err)
	}
	sb, err := tg.NewSandbox(loader.SandboxOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		w, err := sb.Start(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		a, _ := w.Auth()
		if r, err := a.Init(); err != nil || r.Int() != 0 {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		w.Close()
		b.StartTimer()
	}
	reportMedian(b, samples, "ms-median/ready", time.Millisecond)
}

// BenchmarkCallRoundTrip measures one plugin call through the worker
// (auth_p_get_uid on a live credential), parent to parent.
func BenchmarkCallRoundTrip(b *testing.B) {
	w := start(b, realPlugin(b, "22.05", "auth_none.so"), loader.Options{}, loader.SandboxOptions{})
	a, _ := w.Auth()
	a.Init()
	cred, _, err := a.Create("", 0xFFFFFFFF, nil)
	if err != nil || cred == 0 {
		b.Fatal(err)
	}
	samples := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := w.Call("auth_p_get_uid", loader.Ptr(cred)); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportMedian(b, samples, "µs-median/call", time.Microsecond)
}
