package suite

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/extensions/globals"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
)

// ServeWorkerIfRequested must be the first call in main and in TestMain of
// a test binary that runs the suite: workers, and the processes a run
// spreads its specs over, are that binary re-executed.
func ServeWorkerIfRequested() {
	loader.ServeWorkerIfRequested()
	if os.Getenv(specServerEnv) != "" {
		serveSpecs()
	}
}

// runState is what one run's specs share.
type runState struct {
	cfg     *Config
	target  *loader.Target
	sandbox *loader.Sandbox
	munged  *munged.Daemon
	// mungeKey is the key of the munged the run started, which the oracle
	// specs decode credentials with; nil when the run uses one it did not
	// start, or none.
	mungeKey []byte
	authInfo string
	// keys holds the cred key files the suite made (good and bad ones).
	keys *keyFiles
	// keyNotices are the key files the workers cannot read, one line each,
	// said before the run.
	keyNotices []string
	report     types.Report
	// interrupt is the signal that interrupted the run (0: none) and
	// interruptAt when: no spec that had not ended by then has a result.
	interrupt   syscall.Signal
	interruptAt time.Time
}

// current is the run under way; Ginkgo runs one suite at a time.
var (
	runMu   sync.Mutex
	current *runState
)

// StartMunge sets up what the plugin authenticates with: a private munged
// when cfg.Munged is "auto" (the default for munge plugins) or the socket it
// names, and the AuthInfo value the run uses, with the socket and the TTL
// added. d is nil unless a munged was started; the caller stops it.
func StartMunge(cfg *Config, t *loader.Target) (d *munged.Daemon, socket, authInfo string, err error) {
	return loader.StartMunge(cfg.SessionOptions().Munge, t)
}

// prepare opens the plugin and sets up its host: everything that can fail
// before a spec runs, as a setup error.
func prepare(cfg *Config) (*runState, error) {
	t, err := loader.Open(cfg.Plugin, cfg.Loader)
	if err != nil {
		return nil, err
	}
	if err := loader.CheckTempDir(); err != nil {
		return nil, err
	}
	rs := &runState{cfg: cfg, target: t}
	if rs.munged, _, rs.authInfo, err = StartMunge(cfg, t); err != nil {
		return nil, err
	}
	if rs.munged != nil {
		rs.mungeKey = rs.munged.Key
	}
	// Key files (the cred key pair, and broken ones for LIFE-BADCONF).
	if rs.keys, err = makeKeyFiles(cfg, rs); err != nil {
		rs.close()
		return nil, err
	}
	rs.sandbox, err = t.NewSandbox(rs.sandboxOptions())
	if err != nil {
		rs.close()
		return nil, err
	}
	// Load host, configuration and plugin once before any spec: a
	// slurm.conf the host rejects, or a plugin that cannot be loaded, is a
	// setup error (exit 2), not a failure of every spec.
	w, err := rs.sandbox.Start(cleanup.Context())
	if err != nil {
		rs.close()
		return nil, err
	}
	w.Close()
	rs.keyNotices = rs.unreadableKeys()
	return rs, nil
}

// sandboxOptions set up the run's workers.
func (rs *runState) sandboxOptions() loader.SandboxOptions {
	opts := rs.cfg.SessionOptions().Sandbox
	opts.AuthInfo = rs.authInfo
	return opts
}

func (rs *runState) close() {
	if rs.keys != nil {
		os.RemoveAll(rs.keys.dir)
		rs.keys.forget()
	}
	if rs.sandbox != nil {
		rs.sandbox.Close()
	}
	if rs.munged != nil {
		rs.munged.Stop()
	}
}

// buildTree registers a Ginkgo container per spec that applies to the
// plugin's kind. Specs of the other kind are not registered at all: they
// are not "not tested", they do not exist for this plugin.
func buildTree(rs *runState, progressTo io.Writer) *progress {
	kind := rs.target.Plugin.Kind()
	var specs []*Spec
	for _, s := range Specs() {
		if s.AppliesTo(kind) {
			specs = append(specs, s)
		}
	}
	p := newProgress(progressTo, len(specs))
	for _, s := range specs {
		registerSpec(rs, s, p)
	}
	ReportBeforeSuite(func(r Report) { p.willRun(r.PreRunStats.SpecsThatWillRun) })
	ReportAfterSuite("plugincheck summary", func(r Report) { rs.report = r })
	return p
}

// registerSpec adds s to the Ginkgo tree as a container named for its
// clause holding one It. A run in several processes registers each spec
// through here too, alone in its process's tree, so its report is the one
// a run in one process makes.
func registerSpec(rs *runState, s *Spec, p *progress) {
	Describe(s.Clause, Label(s.Labels()...), func() {
		It(s.Text, func() {
			if cleanup.Check() != nil {
				Skip(notRunInterrupted)
			}
			p.begin(s.Clause, s.Text)
			runSpec(rs, s)
		})
	})
}

func runSpec(rs *runState, s *Spec) {
	c := &Ctx{run: rs, spec: s}
	defer c.close()
	if s.Level == Must {
		s.Body(c)
		return
	}
	// SHOULD and MAY findings are warnings: reported, never failing the run.
	if err := InterceptGomegaFailure(func() { s.Body(c) }); err != nil {
		AddReportEntry(warningEntry, err.Error())
	}
}

const warningEntry = "warning"

// failer lets RunSpecs run outside `go test`.
type failer struct{ failed bool }

func (f *failer) Fail() { f.failed = true }

// Run checks the plugin cfg names and returns the summary. A setup problem
// (no such file, no host, a configuration Slurm rejects) is an error; a
// non-conformant plugin is a Summary whose Conformant is false. With
// opts.Procs above one the specs run in that many child processes at once
// (procs.go); the report is the same as from one process.
func Run(cfg Config, opts RunOptions) (*Summary, error) {
	if err := checkSelection(opts); err != nil {
		return nil, err
	}
	rs, err := prepare(&cfg)
	if err != nil {
		return nil, err
	}
	defer rs.close()
	for _, n := range rs.keyNotices {
		fmt.Fprintln(os.Stderr, "plugincheck: "+n)
	}
	if procs := opts.procs(); procs > 1 {
		suiteCfg, repCfg := rs.ginkgoConfig(opts)
		if err := rs.runInProcesses(suiteCfg, repCfg, opts, procs); err != nil {
			return nil, err
		}
	} else {
		rs.runHere(opts)
	}
	rs.interrupt, rs.interruptAt = cleanup.Interrupted()
	sum := summarize(rs)
	if !sum.Interrupted {
		describeErrnos(rs, sum)
		diagnose(rs, sum)
	}
	// Ginkgo's own report writing would only fail a report node: written
	// here, a lost report is an error of the run.
	return sum, sum.WriteGinkgoReports(opts.JUnitReport, opts.JSONReport)
}

// checkSelection refuses filters Ginkgo would reject, or panic on.
func checkSelection(opts RunOptions) error {
	if opts.LabelFilter != "" {
		if _, err := types.ParseLabelFilter(opts.LabelFilter); err != nil {
			return &loader.InputError{Msg: "bad --label-filter: " + firstLine(err.Error())}
		}
	}
	// Ginkgo panics on a regular expression it cannot compile.
	for _, f := range []struct {
		flag string
		res  []string
	}{{"--focus", opts.Focus}, {"--skip", opts.Skip}} {
		for _, re := range f.res {
			if _, err := regexp.Compile(re); err != nil {
				return &loader.InputError{Msg: fmt.Sprintf("bad %s %q: %v", f.flag, re, err)}
			}
		}
	}
	if os.Getenv(specServerEnv) != "" {
		// A spec process that did not serve: its main or TestMain does not
		// call ServeWorkerIfRequested first, and would start spec
		// processes of its own without end.
		return &loader.InputError{Msg: "a spec process ran the suite itself", Hint: "call suite.ServeWorkerIfRequested first in main and TestMain"}
	}
	if opts.Procs < 0 {
		return &loader.InputError{Msg: fmt.Sprintf("bad --procs %d: give 1 or more", opts.Procs)}
	}
	return nil
}

// ginkgoConfig is the process's Ginkgo configuration with the run's
// filters, seed and output settings.
func (rs *runState) ginkgoConfig(opts RunOptions) (types.SuiteConfig, types.ReporterConfig) {
	suiteCfg, repCfg := userGinkgoConfiguration()
	suiteCfg.LabelFilter = opts.LabelFilter
	suiteCfg.FocusStrings, suiteCfg.SkipStrings = opts.Focus, opts.Skip
	if rs.cfg.Seed != 0 {
		suiteCfg.RandomSeed = rs.cfg.Seed
	}
	repCfg.Verbose, repCfg.NoColor, repCfg.Succinct = opts.Verbose, opts.NoColor, opts.Quiet
	return suiteCfg, repCfg
}

// runHere runs every spec in this process, one after another.
func (rs *runState) runHere(opts RunOptions) {
	runMu.Lock()
	defer runMu.Unlock()
	globals.Reset()
	RegisterFailHandler(Fail)
	p := buildTree(rs, opts.Progress)
	suiteCfg, repCfg := rs.ginkgoConfig(opts)
	current = rs
	RunSpecs(&failer{}, rs.suiteName(), suiteCfg, repCfg)
	p.finish()
	current = nil
}

func (rs *runState) suiteName() string { return "plugincheck " + rs.target.Plugin.Type }

// Test runs the suite from a plugin author's `go test`: it fails t when the
// plugin is not conformant. Ginkgo's -ginkgo.* flags select specs as usual.
// The specs run DefaultProcs at a time, each batch in a process of the
// test binary, so its TestMain must call ServeWorkerIfRequested first.
func Test(t *testing.T, cfg Config) *Summary {
	t.Helper()
	rs, err := prepare(&cfg)
	if err != nil {
		t.Fatalf("plugincheck: %v", err)
	}
	defer rs.close()
	for _, n := range rs.keyNotices {
		t.Log("plugincheck: " + n)
	}
	suiteCfg, repCfg := userGinkgoConfiguration()
	if err := rs.runInProcesses(suiteCfg, repCfg, RunOptions{}, DefaultProcs()); err != nil {
		t.Fatalf("plugincheck: %v", err)
	}
	if !rs.report.SuiteSucceeded {
		t.Fail() // as RunSpecs(t, …) would
	}
	sum := summarize(rs)
	if !sum.Conformant {
		t.Errorf("plugincheck: %s", sum.Verdict)
	}
	return sum
}

// userConfig is Ginkgo's configuration as the process's -ginkgo.* flags
// set it, taken at the first Run or Test. RunSpecs keeps the last
// configuration it was given, so without it a library-mode Test would
// inherit an earlier Run's --focus and run nothing.
var userConfig struct {
	once     sync.Once
	suite    types.SuiteConfig
	reporter types.ReporterConfig
}

func userGinkgoConfiguration() (types.SuiteConfig, types.ReporterConfig) {
	userConfig.once.Do(func() { userConfig.suite, userConfig.reporter = GinkgoConfiguration() })
	return userConfig.suite, userConfig.reporter
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// generationOf names a target's generation for reports.
func generationOf(t *loader.Target) string { return t.Profile.Describe() }
