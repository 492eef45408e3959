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
// a test binary that runs the suite: workers are that binary re-executed.
func ServeWorkerIfRequested() { loader.ServeWorkerIfRequested() }

// runState is what one run's specs share.
type runState struct {
	cfg      *Config
	target   *loader.Target
	sandbox  *loader.Sandbox
	munged   *munged.Daemon
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
	// Key files (the cred key pair, and broken ones for LIFE-BADCONF).
	if rs.keys, err = makeKeyFiles(cfg, rs); err != nil {
		rs.close()
		return nil, err
	}
	sbOpts := cfg.SessionOptions().Sandbox
	sbOpts.AuthInfo = rs.authInfo
	rs.sandbox, err = t.NewSandbox(sbOpts)
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
		s := s
		Describe(s.Clause, Label(s.Labels()...), func() {
			It(s.Text, func() {
				if cleanup.Check() != nil {
					Skip(notRunInterrupted)
				}
				p.begin(s.Clause, s.Text)
				defer p.end()
				runSpec(rs, s)
			})
		})
	}
	ReportBeforeSuite(func(r Report) { p.willRun(r.PreRunStats.SpecsThatWillRun) })
	ReportAfterSuite("plugincheck summary", func(r Report) { rs.report = r })
	return p
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
// non-conformant plugin is a Summary whose Conformant is false.
func Run(cfg Config, opts RunOptions) (*Summary, error) {
	runMu.Lock()
	defer runMu.Unlock()
	if opts.LabelFilter != "" {
		if _, err := types.ParseLabelFilter(opts.LabelFilter); err != nil {
			return nil, &loader.InputError{Msg: "bad --label-filter: " + firstLine(err.Error())}
		}
	}
	// Ginkgo panics on a regular expression it cannot compile.
	for _, f := range []struct {
		flag string
		res  []string
	}{{"--focus", opts.Focus}, {"--skip", opts.Skip}} {
		for _, re := range f.res {
			if _, err := regexp.Compile(re); err != nil {
				return nil, &loader.InputError{Msg: fmt.Sprintf("bad %s %q: %v", f.flag, re, err)}
			}
		}
	}
	rs, err := prepare(&cfg)
	if err != nil {
		return nil, err
	}
	defer rs.close()
	globals.Reset()
	RegisterFailHandler(Fail)
	p := buildTree(rs, opts.Progress)
	suiteCfg, repCfg := userGinkgoConfiguration()
	suiteCfg.LabelFilter = opts.LabelFilter
	suiteCfg.FocusStrings, suiteCfg.SkipStrings = opts.Focus, opts.Skip
	if cfg.Seed != 0 {
		suiteCfg.RandomSeed = cfg.Seed
	}
	repCfg.Verbose, repCfg.NoColor, repCfg.Succinct = opts.Verbose, opts.NoColor, opts.Quiet
	for _, n := range rs.keyNotices {
		fmt.Fprintln(os.Stderr, "plugincheck: "+n)
	}
	current = rs
	RunSpecs(&failer{}, "plugincheck "+rs.target.Plugin.Type, suiteCfg, repCfg)
	p.finish()
	current = nil
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

// Test runs the suite from a plugin author's `go test`: it fails t when the
// plugin is not conformant. Ginkgo's -ginkgo.* flags select specs as usual.
// The test binary's TestMain must call ServeWorkerIfRequested first.
func Test(t *testing.T, cfg Config) *Summary {
	t.Helper()
	runMu.Lock()
	defer runMu.Unlock()
	rs, err := prepare(&cfg)
	if err != nil {
		t.Fatalf("plugincheck: %v", err)
	}
	defer rs.close()
	for _, n := range rs.keyNotices {
		t.Log("plugincheck: " + n)
	}
	globals.Reset()
	RegisterFailHandler(Fail)
	buildTree(rs, nil)
	suiteCfg, repCfg := userGinkgoConfiguration()
	RunSpecs(t, "plugincheck "+rs.target.Plugin.Type, suiteCfg, repCfg)
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
