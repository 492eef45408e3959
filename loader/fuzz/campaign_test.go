package fuzz_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/fuzz"
)

// TestCampaignFindsTheOverRead runs a short campaign on auth_bad_unpack
// without the command line: the over-read is found, reported once as it is
// saved, confirmed alone, minimized, and saved with its record. On amd64
// the workers recover from it, thousands of times, and keep running;
// elsewhere each crash ends a worker and a spare takes its place.
func TestCampaignFindsTheOverRead(t *testing.T) {
	sb := fuzzSandbox(t, testenv.Fixture(t, "auth_bad_unpack.so"))
	dir := t.TempDir()
	var found []fuzz.Record
	c := fuzz.New(fuzz.Options{Sandbox: sb, Worker: loader.FuzzConfig{Timeout: time.Second}, Duration: 2 * time.Second, Jobs: 2,
		Seed: 1, MinimizeTries: 100, Crashers: filepath.Join(dir, "crashers"), Corpus: filepath.Join(dir, "corpus"),
		Found: func(r fuzz.Record) { found = append(found, r) }})
	rep, err := c.Run(context.Background())
	ok(t, "campaign", err)
	if len(rep.Unique) != 1 || len(found) != 1 || rep.Failures < 2 || rep.Execs == 0 || rep.Seed != 1 || c.Lost() != nil {
		t.Fatalf("report %+v, found %d", rep, len(found))
	}
	u := rep.Unique[0]
	if u.Kind != loader.FailCrash || u.Signal != "SIGSEGV" || u.Function != "auth_p_unpack" || !u.Reproducible || u.Target != loader.FuzzUnpack {
		t.Fatalf("failure %+v", u)
	}
	if u.Size >= u.OriginalSize || u.MinimizeTries == 0 || found[0].File != u.File {
		t.Errorf("not minimized, or reported other than saved: %+v", u)
	}
	data, err := os.ReadFile(u.File)
	ok(t, "reproducer", err)
	var rec fuzz.Record
	side, err := os.ReadFile(u.File + ".json")
	ok(t, "record", err)
	ok(t, "record", json.Unmarshal(side, &rec))
	if len(data) != u.Size || rec.Key() != u.Key() {
		t.Errorf("saved %d bytes, record %+v", len(data), rec)
	}
	if runtime.GOARCH == "amd64" {
		// One worker a job, or two where a job retired one after its
		// maxRecovered faults; without recovery there would be a worker
		// a failure.
		if rep.WorkersStarted > 2*rep.Jobs || rep.Failures < 100*rep.WorkersStarted {
			t.Errorf("%d workers for %d failures", rep.WorkersStarted, rep.Failures)
		}
		if !strings.Contains(u.Detail, "recovered") {
			t.Errorf("the first failure is not a recovered one: %q", u.Detail)
		}
	} else if rep.WorkersStarted < rep.Failures {
		// Every crash ended a worker, and a spare took its place.
		t.Errorf("%d workers for %d failures", rep.WorkersStarted, rep.Failures)
	}
	if p := c.Progress(); p.Execs != rep.Execs || p.Unique != 1 {
		t.Errorf("progress %+v after the run, report %d execs", p, rep.Execs)
	}
	if st, err := os.Stat(filepath.Join(dir, "corpus")); err != nil || !st.IsDir() {
		t.Errorf("corpus directory: %v", err)
	}
}

// TestCampaignGoodBuildNoFailure: the same campaign on auth_good_2205, the
// same source without the defect, finds nothing: no recovered fault is a
// false one.
func TestCampaignGoodBuildNoFailure(t *testing.T) {
	sb := fuzzSandbox(t, testenv.Fixture(t, "auth_good_2205.so"))
	c := fuzz.New(fuzz.Options{Sandbox: sb, Worker: loader.FuzzConfig{Timeout: time.Second}, Duration: 2 * time.Second, Jobs: 2,
		Seed: 1, MinimizeTries: 100, Crashers: t.TempDir()})
	rep, err := c.Run(context.Background())
	ok(t, "campaign", err)
	if rep.Failures != 0 || len(rep.Unique) != 0 || rep.Execs < 10000 || rep.WorkersStarted != rep.Jobs {
		t.Fatalf("report %+v", rep)
	}
}

// TestCampaignEndsWithItsContext: an ended context stops the jobs and
// leaves a report of what ran, no error.
func TestCampaignEndsWithItsContext(t *testing.T) {
	sb := fuzzSandbox(t, testenv.Plugin(t, "22.05", "auth_none.so"))
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c := fuzz.New(fuzz.Options{Sandbox: sb, Duration: time.Hour, Crashers: t.TempDir()})
	rep, err := c.Run(ctx)
	ok(t, "campaign", err)
	if rep.DurationS > 30 || rep.Execs == 0 || len(rep.Unique) != 0 {
		t.Fatalf("report %+v", rep)
	}
}
