package suite

import (
	"context"
	"fmt"
	"github.com/onsi/ginkgo/v2/types"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Ctx is what a spec body works with: the target, the run's setup, and
// workers it starts (each closed when the spec ends).
type Ctx struct {
	run     *runState
	spec    *Spec
	workers []*loader.Worker
}

// Target is the plugin under test.
func (c *Ctx) Target() *loader.Target { return c.run.target }

// Profile is the plugin's API generation.
func (c *Ctx) Profile() *profile.Profile { return c.run.target.Profile }

// Series holds the release facts (protocol versions) of the plugin.
func (c *Ctx) Series() *profile.Series {
	s := c.run.target.Series
	if s == nil {
		c.NotTested("the plugin's release series is unknown, so its protocol versions are")
	}
	return s
}

// Protocol is the plugin's current SLURM_PROTOCOL_VERSION.
func (c *Ctx) Protocol() uint16 { return c.Series().Protocol }

// AuthInfo is the auth_info argument for create and verify.
func (c *Ctx) AuthInfo() string { return c.run.authInfo }

// Config is the run's configuration.
func (c *Ctx) Config() *Config { return c.run.cfg }

// NotApplicable ends the spec: the clause does not apply to this plugin
// (its generation lacks the function). It does not count against
// completeness.
func (c *Ctx) NotApplicable(format string, args ...any) {
	Skip(notApplicablePrefix + fmt.Sprintf(format, args...))
}

// NotTested ends the spec: it applies but this setup cannot run it (no TTL
// configured, no second uid). A MUST clause not tested makes the run
// incomplete.
func (c *Ctx) NotTested(format string, args ...any) {
	Skip(notTestedPrefix + fmt.Sprintf(format, args...))
}

const (
	notApplicablePrefix = "not applicable: "
	notTestedPrefix     = "not tested: "
)

// Need ends the spec as not applicable when the generation lacks op.
func (c *Ctx) Need(ops ...profile.Op) {
	for _, op := range ops {
		if !c.Profile().Has(op) {
			c.NotApplicable("generation %s has no %s", c.Profile().Name, op)
		}
	}
}

// Start starts a fresh worker (host and plugin loaded, init not called).
func (c *Ctx) Start() *loader.Worker {
	w, err := c.run.sandbox.Start(context.Background())
	Expect(err).NotTo(HaveOccurred(), "starting a worker")
	c.workers = append(c.workers, w)
	return w
}

// StartWithoutKeyAccess starts a worker that reads files with its uid's
// permissions only (a daemon running as SlurmUser), for specs about key
// files it must not be able to read.
func (c *Ctx) StartWithoutKeyAccess() *loader.Worker {
	w, err := c.run.sandbox.StartWithoutKeyAccess(context.Background())
	Expect(err).NotTo(HaveOccurred(), "starting a worker")
	c.workers = append(c.workers, w)
	return w
}

// Auth starts a worker and calls init, which must succeed: most clauses
// are about an initialised plugin.
func (c *Ctx) Auth() *loader.Auth {
	a, err := c.Start().Auth()
	Expect(err).NotTo(HaveOccurred())
	c.init(a.Init)
	return a
}

// Cred starts a worker and calls init.
func (c *Ctx) Cred() *loader.Cred {
	cr, err := c.Start().Cred()
	Expect(err).NotTo(HaveOccurred())
	c.init(cr.Init)
	return cr
}

func (c *Ctx) init(initFn func() (loader.Result, error)) {
	r, err := initFn()
	if err != nil && strings.Contains(err.Error(), loader.ErrNoSymbol.Error()) {
		return // no init: the loader skips it too
	}
	Expect(err).NotTo(HaveOccurred(), "init()")
	Expect(r.Int()).To(BeZero(), "precondition: init() returned %d (errno %d); see LIFE-INIT", r.Int(), r.Errno)
}

// close ends the spec's workers and attaches their evidence when it failed.
func (c *Ctx) close() {
	// A warning is a finding too: its evidence is kept as a failure's.
	report := CurrentSpecReport()
	failed := report.Failed() || hasEntry(report, warningEntry)
	for i, w := range c.workers {
		if failed {
			if calls := w.Calls(); len(calls) > 0 {
				AddReportEntry(fmt.Sprintf("worker %d calls", i+1), strings.Join(tailOf(calls, 40), " → "))
			}
			for _, out := range []struct{ name, text string }{{"stderr", w.Stderr()}, {"stdout", w.Stdout()}} {
				if s := strings.TrimSpace(out.text); s != "" {
					AddReportEntry(fmt.Sprintf("worker %d %s", i+1, out.name), lastLines(s, 20))
				}
			}
		}
		w.Close()
	}
}

func hasEntry(r types.SpecReport, name string) bool {
	for _, e := range r.ReportEntries {
		if e.Name == name {
			return true
		}
	}
	return false
}

func tailOf(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(tailOf(lines, n), "\n")
}
