// Package fuzz runs fuzzing campaigns against a plugin's unpack and
// verify_sign functions: jobs of workers (loader.FuzzWorker) feeding
// batches of mutated inputs from a shared, deduplicated corpus, each
// failure confirmed alone in a fresh worker, minimized and saved as a
// reproducer with a JSON record. The seeds are what the plugin makes
// itself, re-packed wrong field by field (StructuredSeeds), or generic
// packed shapes (GenericSeeds).
//
// The worker side (the mutation loop, the guard pages, the status file)
// is in loader; this package decides what to run and what a result means.
package fuzz

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plugincheck/plugincheck/loader"
)

// Record is the sidecar (FILE.json) of a reproducer FILE: how it fails and
// how to call the function with it.
type Record struct {
	loader.FuzzFailure
	Target        loader.FuzzTarget `json:"target"`
	Protocol      uint16            `json:"protocol_version"`
	Plugin        string            `json:"plugin"`
	PluginType    string            `json:"plugin_type"`
	Generation    string            `json:"generation"`
	Size          int               `json:"size"`
	OriginalSize  int               `json:"original_size"`
	MinimizeTries int               `json:"minimize_tries"`
	Reproducible  bool              `json:"reproducible"`
	// Original is the file holding the input as the campaign found it.
	Original     string  `json:"original,omitempty"`
	FoundAfterS  float64 `json:"found_after_seconds"`
	FoundAtExecs uint64  `json:"found_after_execs"`
	File         string  `json:"file"`
}

// Report is what a campaign did (`plugincheck fuzz --json`).
type Report struct {
	SchemaVersion  int      `json:"schema_version"`
	Plugin         string   `json:"plugin"`
	PluginType     string   `json:"plugin_type"`
	Generation     string   `json:"generation"`
	Targets        []string `json:"targets"`
	Seed           uint64   `json:"seed"`
	Jobs           int      `json:"jobs"`
	DurationS      float64  `json:"duration_seconds"`
	Execs          uint64   `json:"execs"`
	ExecsPerSec    float64  `json:"execs_per_sec"`
	Accepted       uint64   `json:"accepted"`
	Corpus         int      `json:"corpus"`
	Failures       int      `json:"failures"`
	Unique         []Record `json:"unique_failures"`
	WorkersStarted int      `json:"workers_started"`
	Errors         []string `json:"errors,omitempty"`
	// Interrupted: a signal ended the campaign before its duration.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Options describe a campaign.
type Options struct {
	Sandbox *loader.Sandbox
	// Worker is how each fuzzing worker runs (zero fields: the defaults).
	Worker loader.FuzzConfig
	// Targets are the functions fed, in turn (default: all the plugin has).
	Targets  []loader.FuzzTarget
	Duration time.Duration
	// Jobs is how many workers fuzz at once (default 1).
	Jobs int
	// Seed makes the mutations repeatable with one job (0: a random seed).
	Seed uint64
	// MinimizeTries bounds the tries (each in a fresh worker) to minimize
	// one failure; 0 saves failures as found.
	MinimizeTries int
	// Crashers is where reproducers are saved; Corpus, when set, is read
	// for seeds and receives new interesting inputs; CredCorpus is read
	// (never written) for the 23.11+ unpack functions' seeds.
	Crashers, Corpus, CredCorpus string
	// Found, when set, is called with each unique failure once it is
	// saved, one call at a time.
	Found func(Record)
}

// Campaign is one fuzzing run: jobs of workers feeding batches of mutated
// inputs, a corpus they share, and the failures found.
type Campaign struct {
	o       Options
	target  *loader.Target
	seed    uint64
	started atomic.Pointer[time.Time]

	mu     sync.Mutex
	corpus []loader.FuzzInput
	seen   map[string]bool // corpus entries by hash
	bad    map[string]bool // inputs that made a worker fail
	found  map[string]*Record
	order  []string // keys of found, in order
	errs   []string
	lost   error // the first finding or corpus entry that could not be saved

	foundMu  sync.Mutex // one Found call at a time
	failures atomic.Int64
	workers  atomic.Int64
	accepted atomic.Uint64
	jobs     []*job
}

// New prepares a campaign; Run runs it.
func New(o Options) *Campaign {
	c := &Campaign{o: o, target: o.Sandbox.Target, seen: map[string]bool{}, bad: map[string]bool{}, found: map[string]*Record{}}
	c.o.Worker = o.Worker.WithDefaults()
	if len(c.o.Targets) == 0 {
		c.o.Targets = loader.FuzzTargets(c.target.Profile)
	}
	c.o.Jobs = max(c.o.Jobs, 1)
	if c.seed = o.Seed; c.seed == 0 {
		c.seed = rand.Uint64()
	}
	return c
}

// Seed is the campaign's seed, drawn at random when Options gave none.
func (c *Campaign) Seed() uint64 { return c.seed }

// Lost is the first finding or corpus entry that could not be saved.
func (c *Campaign) Lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// Progress is a campaign's figures so far.
type Progress struct {
	Elapsed           time.Duration
	Execs             uint64
	Corpus, Unique    int
	Failures, Workers int64
}

// Progress reports the campaign's figures so far; it may be called from
// any goroutine while Run runs.
func (c *Campaign) Progress() Progress {
	var p Progress
	if start := c.started.Load(); start != nil {
		p.Elapsed = time.Since(*start)
	}
	p.Execs = c.execs()
	c.mu.Lock()
	p.Corpus, p.Unique = len(c.corpus), len(c.found)
	c.mu.Unlock()
	p.Failures, p.Workers = c.failures.Load(), c.workers.Load()
	return p
}

type job struct {
	execs atomic.Uint64                     // of finished batches
	live  atomic.Pointer[loader.FuzzWorker] // the worker running a batch
}

func inputKey(in loader.FuzzInput) string {
	h := sha1.New()
	fmt.Fprintf(h, "%s/%d/", in.Target, in.Protocol)
	h.Write(in.Data)
	return hex.EncodeToString(h.Sum(nil))
}

// addCorpus adds inputs not seen before; it reports how many were new.
func (c *Campaign) addCorpus(ins []loader.FuzzInput, save bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, in := range ins {
		k := inputKey(in)
		if c.seen[k] || c.bad[k] || len(in.Data) > c.o.Worker.MaxLen {
			continue
		}
		c.seen[k] = true
		c.corpus = append(c.corpus, in)
		n++
		if save && c.o.Corpus != "" {
			if err := os.WriteFile(filepath.Join(c.o.Corpus, k[:16]), in.Data, 0o644); err != nil && c.lost == nil {
				c.lost = err
			}
		}
	}
	return n
}

// snapshot is the corpus as it is now (entries are only ever appended or
// dropped by rebuilding the slice, so the returned slice stays valid).
func (c *Campaign) snapshot() []loader.FuzzInput {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.corpus
}

// dropBad removes an input that made a worker fail from the corpus, so
// that a new worker does not fail on it again, and with remember keeps it
// out for good. A recovered fault's input is not remembered: a worker
// that recovers never offers it as a corpus entry, and at thousands a
// second the set would grow without bound.
func (c *Campaign) dropBad(in loader.FuzzInput, remember bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := inputKey(in)
	if remember {
		c.bad[k] = true
	}
	if !c.seen[k] {
		return
	}
	kept := make([]loader.FuzzInput, 0, len(c.corpus))
	for _, x := range c.corpus {
		if inputKey(x) != k {
			kept = append(kept, x)
		}
	}
	c.corpus = kept
}

func (c *Campaign) execs() uint64 {
	var n uint64
	for _, j := range c.jobs {
		n += j.execs.Load()
		if fw := j.live.Load(); fw != nil {
			n += fw.LiveExecs()
		}
	}
	return n
}

func (c *Campaign) errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) < 20 {
		c.errs = append(c.errs, fmt.Sprintf(format, args...))
	}
}

// Run runs the campaign until its duration has passed or ctx ends. An
// ended context is no error: the report says what ran until then.
func (c *Campaign) Run(ctx context.Context) (*Report, error) {
	for _, dir := range []string{c.o.Corpus, c.o.Crashers} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
		}
	}
	// Every version the series accepts, and one below them all (which
	// unpack must refuse); never one above the host's own, which the
	// framework never passes.
	var protocols []uint16
	if sr := c.target.Series; sr != nil {
		protocols = append(sr.ProtocolVersions(), 0)
	} else {
		protocols = []uint16{0}
	}
	// Interrupted while seeding, the campaign ran nothing: its report
	// says so, like that of any interrupted campaign.
	if err := c.seedCorpus(ctx, protocols[0]); err != nil && ctx.Err() == nil {
		return nil, err
	}

	start := time.Now()
	c.started.Store(&start)
	deadline := start.Add(c.o.Duration)
	c.jobs = make([]*job, c.o.Jobs)
	for i := range c.jobs {
		c.jobs[i] = &job{}
	}
	var wg sync.WaitGroup
	for i, j := range c.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.job(ctx, i, j, deadline, protocols)
		}()
	}
	wg.Wait()

	elapsed := time.Since(start)
	rep := &Report{SchemaVersion: 1, Plugin: c.target.Plugin.Path, PluginType: c.target.Plugin.Type,
		Generation: c.target.Profile.Name, Seed: c.seed, Jobs: c.o.Jobs, DurationS: elapsed.Seconds(),
		Execs: c.execs(), Accepted: c.accepted.Load(), Failures: int(c.failures.Load()), WorkersStarted: int(c.workers.Load()),
		Unique: []Record{}}
	for _, t := range c.o.Targets {
		rep.Targets = append(rep.Targets, string(t))
	}
	rep.ExecsPerSec = float64(rep.Execs) / elapsed.Seconds()
	c.mu.Lock()
	rep.Corpus = len(c.corpus)
	for _, k := range c.order {
		rep.Unique = append(rep.Unique, *c.found[k])
	}
	rep.Errors = c.errs
	c.mu.Unlock()
	if rep.Execs == 0 && len(rep.Errors) > 0 && ctx.Err() == nil {
		return nil, errors.New("no input could be run: " + rep.Errors[0])
	}
	return rep, nil
}

// seedCorpus fills the corpus: what the plugin itself makes, re-packed
// wrong field by field, generic packed shapes, and the given directories.
func (c *Campaign) seedCorpus(ctx context.Context, protocol uint16) error {
	for _, t := range c.o.Targets {
		valid, err := c.o.Sandbox.FuzzSeeds(ctx, c.o.Worker, t)
		var setup *loader.SetupError
		switch {
		case errors.As(err, &setup):
			return err // the plugin does not load: nothing can run
		case err != nil:
			// No valid input from the plugin (create or sign failed): fuzz
			// from generic shapes, and say so.
			c.errorf("no seed inputs from the plugin for %s: %v", t, oneLine(err))
			valid = nil
		}
		// The 23.11+ unpack functions have no plugin-made seeds; valid
		// credentials come from CredCorpus.
		if dir := c.o.CredCorpus; dir != "" && (t == loader.FuzzCredUnpack || t == loader.FuzzSbcastUnpack) {
			ins, err := readInputs(dir, t, protocol)
			if err != nil {
				return fmt.Errorf("cred corpus: %w", err)
			}
			valid = append(valid, ins...)
		}
		c.addCorpus(valid, false)
		c.addCorpus(StructuredSeeds(valid), false)
		if len(valid) == 0 {
			c.addCorpus(GenericSeeds(t, protocol), false)
		}
	}
	if c.o.Corpus != "" {
		ins, err := readInputs(c.o.Corpus, c.o.Targets[0], protocol)
		if err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		c.addCorpus(ins, false)
	}
	return nil
}

// maxRecovered is how many recovered faults a worker may take before the
// job retires it, as hygiene: each abandoned call may have left state
// behind besides the memory the worker accounts for (FuzzBatch.FaultHeap).
// On auth_bad_unpack, which faults once in a dozen inputs, a job reaches
// it in a few seconds; a worker start costs tens of milliseconds of CPU.
const maxRecovered = 16384

// job is one worker's share of the campaign: batches until the deadline,
// the spare worker (started while this one ran) after each failure that
// ended it, after maxRecovered recovered faults, and every minute.
func (c *Campaign) job(ctx context.Context, id int, j *job, deadline time.Time, protocols []uint16) {
	rng := rand.New(rand.NewPCG(c.seed, uint64(id)))
	pool := newSpares(ctx, c.o.Sandbox, c.o.Worker)
	var fw *loader.FuzzWorker
	defer func() {
		if fw != nil {
			fw.Close()
		}
		pool.close()
	}()
	count := 256
	errorsInARow := 0
	recovered := 0 // faults the worker fw recovered from
	for batch := 0; time.Now().Before(deadline) && ctx.Err() == nil; batch++ {
		if fw == nil {
			var err error
			if fw, err = pool.get(); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.errorf("starting a worker: %v", oneLine(err))
				if errorsInARow++; errorsInARow > 5 {
					return
				}
				continue
			}
			c.workers.Add(1)
			recovered = 0
		}
		target := c.o.Targets[batch%len(c.o.Targets)]
		// Keep the batch within a tenth of a second, and within the deadline.
		n := count
		if left := time.Until(deadline); left < 100*time.Millisecond {
			n = max(int(float64(count)*left.Seconds()/0.1), 1)
		}
		j.live.Store(fw)
		b, fail, err := fw.Batch(target, rng.Uint64(), n, c.snapshot(), protocols)
		j.live.Store(nil)
		if b != nil {
			j.execs.Add(b.Execs)
			c.accepted.Add(b.Accepted)
			c.addCorpus(b.New, true)
			if b.Elapsed > 0 {
				scale := 0.1 / b.Elapsed.Seconds()
				count = min(max(int(float64(count)*min(max(scale, 0.5), 4)), 16), 1<<20)
			}
			// Recovered faults are failures like those that end a worker;
			// the worker goes on.
			for i := range b.Faults {
				if ctx.Err() != nil {
					break
				}
				c.failure(ctx, &b.Faults[i], false)
			}
			recovered += len(b.Faults)
		}
		switch {
		case ctx.Err() != nil:
			// Interrupted: the worker was killed by the interrupt, not by
			// the input; nothing of this batch is a finding.
			return
		case fail != nil:
			// Smaller batches while failures are frequent: what a batch
			// found is lost with its worker.
			count = max(count/2, 16)
			j.execs.Add(fw.LiveExecs())
			fw.Close()
			fw = nil
			c.failure(ctx, fail, true)
			errorsInARow = 0
		case err != nil:
			c.errorf("%s batch: %v", target, oneLine(err))
			fw.Close()
			fw = nil
			if errorsInARow++; errorsInARow > 5 {
				return
			}
		default:
			errorsInARow = 0
			// A fresh worker every minute, after many recovered faults,
			// when unfreed 23.11+ credentials have grown the heap, and
			// before what faulting calls left allocated (address space,
			// mostly: large blocks are mapped, and only touched up to the
			// fault) can make an allocation fail.
			if fw.Age() > time.Minute || recovered >= maxRecovered || (b != nil &&
				(b.HeapGrowth-b.FaultHeap > int64(c.o.Worker.HeapLimit) || b.FaultHeap > b.FaultBudget)) {
				fw.Close()
				fw = nil
			}
		}
	}
}

// failure records a failure; a new kind is confirmed in a fresh worker,
// minimized and saved. ended: the failure ended its worker (not one of a
// batch's recovered faults).
func (c *Campaign) failure(ctx context.Context, fail *loader.FuzzFailure, ended bool) {
	c.failures.Add(1)
	c.dropBad(fail.Input, ended)
	key := fail.Key()
	c.mu.Lock()
	if _, known := c.found[key]; known {
		c.mu.Unlock()
		return
	}
	rec := &Record{FuzzFailure: *fail}
	c.found[key] = rec
	c.order = append(c.order, key)
	c.mu.Unlock()

	foundAfter, foundAt := c.Progress().Elapsed.Seconds(), c.execs()
	small := fail
	tries := 0
	got, err := c.o.Sandbox.Reproduce(ctx, c.o.Worker, fail.Input, fail.Kind)
	reproducible := err == nil && fail.Same(got)
	if reproducible && c.o.MinimizeTries > 0 {
		maxTries := c.o.MinimizeTries
		if fail.Kind == loader.FailHang {
			maxTries = min(maxTries, 20) // each failing try lasts the timeout
		}
		mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		m, n, merr := Minimize(mctx, c.o.Sandbox, c.o.Worker, fail, maxTries)
		cancel()
		tries = n
		if merr != nil {
			c.errorf("minimizing %s: %v", fail, oneLine(merr))
		}
		if m != nil {
			small = m
		}
	}
	name := fmt.Sprintf("%s-%s", fail.Key(), inputKey(small.Input)[:12])
	path := filepath.Join(c.o.Crashers, name)
	r := Record{FuzzFailure: *small, Target: small.Input.Target, Protocol: small.Input.Protocol,
		Plugin: c.target.Plugin.Path, PluginType: c.target.Plugin.Type, Generation: c.target.Profile.Name,
		Size: len(small.Input.Data), OriginalSize: len(fail.Input.Data), MinimizeTries: tries, Reproducible: reproducible,
		FoundAfterS: foundAfter, FoundAtExecs: foundAt, File: path}
	if r.Detail == "" {
		r.Detail = fail.Detail
	}
	var lost error
	if err := os.WriteFile(path, small.Input.Data, 0o644); err != nil {
		c.errorf("saving %s: %v", path, err)
		lost = err
	}
	if len(small.Input.Data) != len(fail.Input.Data) {
		r.Original = path + ".orig"
		if err := os.WriteFile(r.Original, fail.Input.Data, 0o644); err != nil {
			lost = err
		}
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path+".json", append(data, '\n'), 0o644); err != nil {
		c.errorf("saving %s.json: %v", path, err)
		lost = err
	}
	c.mu.Lock()
	*rec = r
	if lost != nil && c.lost == nil {
		c.lost = lost
	}
	c.mu.Unlock()
	if c.o.Found != nil {
		c.foundMu.Lock()
		c.o.Found(r)
		c.foundMu.Unlock()
	}
}

// readInputs reads every regular file of dir as an input.
func readInputs(dir string, target loader.FuzzTarget, protocol uint16) ([]loader.FuzzInput, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ins []loader.FuzzInput
	for _, e := range entries {
		if e.Type().IsRegular() {
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
				ins = append(ins, loader.FuzzInput{Target: target, Protocol: protocol, Data: data})
			}
		}
	}
	return ins, nil
}

// oneLine is err's message on one line, as the report's error list keeps it.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
