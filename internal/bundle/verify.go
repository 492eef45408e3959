package bundle

import (
	"crypto/ed25519"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/suite"
)

// VerifyOptions say what else to check besides the bundle itself.
type VerifyOptions struct {
	// PublicKey, when set, requires MANIFEST.sig to be its signature of
	// MANIFEST.
	PublicKey ed25519.PublicKey
	// Plugin, when set, is a plugin file that must be the certified one.
	Plugin string
	// ToolVersion is this plugincheck's version ("" means ToolVersion()).
	ToolVersion string
}

// Report is what Verify found in an intact bundle.
type Report struct {
	Files     int
	Signature string // what was checked of MANIFEST.sig, for people
	// Signed: MANIFEST.sig was checked against the given public key. An
	// unsigned bundle proves only that its files agree with each other.
	Signed  bool
	Product *Product
	Plugin  *PluginInfo
	Env     *Environment
	Summary *suite.Summary
	// Required are the MUST clauses of the plugin's kind; all were present.
	Required []string
	// NotApplicable are those of Required the generation lacks.
	NotApplicable []string
	// Failures say why the plugin is not conformant, one per MUST clause
	// not passed; empty when it is.
	Failures []Failure
	// PluginChecked: VerifyOptions.Plugin was given and matches.
	PluginChecked bool
	// Cluster is the cluster part of a `certify --cluster` bundle (nil
	// without one); its clauses not passed are among Failures.
	Cluster *ClusterReport
	// E2E is e2e.json: the E2E clauses, or why they were left out; nil
	// for a bundle of a format before it.
	E2E *E2ERecord
}

// Failure is a MUST clause that did not pass.
type Failure struct {
	Clause string
	Result suite.Result
	Reason string
}

func (f Failure) String() string {
	s := strings.TrimSpace(f.Clause + " " + string(f.Result))
	if f.Reason != "" {
		s += " (" + clip(f.Reason, 120) + ")"
	}
	return s
}

// Conformant reports whether the bundle shows a conformant plugin.
func (r *Report) Conformant() bool { return len(r.Failures) == 0 }

// Why says in one line why the plugin is not conformant: the first failure
// with its reason, then the other clauses.
func (r *Report) Why() string {
	if len(r.Failures) == 0 {
		return ""
	}
	parts := []string{r.Failures[0].String()}
	const most = 8
	for i, f := range r.Failures[1:] {
		if i == most {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Failures)-1-most))
			break
		}
		parts = append(parts, strings.TrimSpace(f.Clause+" "+string(f.Result)))
	}
	return strings.Join(parts, ", ")
}

// NewerError is a bundle made by a newer plugincheck than this one.
type NewerError struct{ Msg string }

func (e *NewerError) Error() string { return e.Msg }

// RequiredClauses are the MUST clauses that apply to plugins of kind: those
// with a spec for that kind. Whether a function exists in the plugin's API
// generation is the spec's business: it reports "not applicable" then, so
// every required clause is in every complete run's summary.
func RequiredClauses(kind profile.Kind) []suite.Clause {
	applies := map[string]bool{}
	for _, s := range suite.Specs() {
		if s.AppliesTo(kind) {
			applies[s.Clause] = true
		}
	}
	var out []suite.Clause
	for _, c := range suite.Clauses {
		if c.Level == suite.Must && applies[c.ID] {
			out = append(out, c)
		}
	}
	return out
}

// Verify checks the bundle in dir. It returns an error when the bundle
// cannot be trusted (an *InvalidError or *NewerError, or an error about
// dir itself); otherwise a Report, whose Failures say whether the plugin it
// certifies is conformant.
func Verify(dir string, opts VerifyOptions) (*Report, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s: no such directory", dir)
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s: not a directory (a bundle is the directory plugincheck certify --out wrote)", dir)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, Manifest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no MANIFEST: not a plugincheck bundle, or certify did not finish", dir)
	}
	if err != nil {
		return nil, err
	}
	rep := &Report{}

	// 1. The files are the ones the manifest (and its signer) vouch for.
	if opts.PublicKey != nil {
		if err := checkSignature(dir, manifest, opts.PublicKey); err != nil {
			return nil, err
		}
		rep.Signature = "verified with key " + KeyID(opts.PublicKey)
		rep.Signed = true
	} else if _, err := os.Lstat(filepath.Join(dir, Signature)); err == nil {
		rep.Signature = "present, not checked (no --pubkey): integrity only"
	} else {
		rep.Signature = "UNSIGNED: integrity only (the files match MANIFEST; nothing says who wrote them)"
	}
	entries, problems := checkManifest(dir, manifest)
	if len(problems) > 0 {
		return nil, firstOf(problems)
	}
	rep.Files = len(entries)

	// 2. A plugincheck that knows what the files mean made them.
	mine := opts.ToolVersion
	if mine == "" {
		mine = ToolVersion()
	}
	rep.Env = &Environment{}
	if err := readJSON(dir, EnvJSON, rep.Env); err != nil {
		return nil, err
	}
	var head struct {
		Schema int `json:"schema_version"`
	}
	if err := readJSON(dir, SummaryJSON, &head); err != nil {
		return nil, err
	}
	switch {
	case NewerThan(rep.Env.Plugincheck, mine):
		return nil, &NewerError{fmt.Sprintf("made by a newer plugincheck (%s; this is %s); upgrade to verify it", rep.Env.Plugincheck, mine)}
	case head.Schema > suite.SummarySchema:
		return nil, &NewerError{fmt.Sprintf("made by a newer plugincheck (%s, summary schema %d; this one reads schema %d); upgrade to verify it",
			rep.Env.Plugincheck, head.Schema, suite.SummarySchema)}
	case rep.Env.BundleFormat > Format:
		return nil, &NewerError{fmt.Sprintf("made by a newer plugincheck (%s, bundle format %d; this one reads format %d); upgrade to verify it",
			rep.Env.Plugincheck, rep.Env.BundleFormat, Format)}
	case head.Schema < 1:
		return nil, invalid(SummaryJSON, "no schema_version")
	case rep.Env.BundleFormat < 1:
		return nil, invalid(EnvJSON, "no bundle_format")
	}
	rep.Summary, rep.Plugin = &suite.Summary{}, &PluginInfo{}
	if err := readJSON(dir, SummaryJSON, rep.Summary); err != nil {
		return nil, err
	}
	if err := readJSON(dir, PluginJSON, rep.Plugin); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, ProductYAML))
	if err != nil {
		return nil, invalid(ProductYAML, "cannot read: %v", err)
	}
	if rep.Product, err = ParseProduct(data); err != nil {
		return nil, invalid(ProductYAML, "%v", err)
	}

	// 3. The files describe one run of one plugin.
	if err := consistent(rep); err != nil {
		return nil, err
	}
	if err := checkJUnit(dir); err != nil {
		return nil, err
	}

	// 4. The run was complete: every MUST clause of the kind is there, in the
	// summary and in Ginkgo's own report, and they agree.
	byID := map[string]*suite.ClauseResult{}
	for i := range rep.Summary.Clauses {
		c := &rep.Summary.Clauses[i]
		if byID[c.ID] != nil {
			return nil, invalid(SummaryJSON, "clause %s listed twice", c.ID)
		}
		byID[c.ID] = c
	}
	required := RequiredClauses(profile.Kind(rep.Summary.Kind))
	for _, c := range required {
		if byID[c.ID] == nil {
			return nil, invalid(SummaryJSON, "MUST clause %s is missing: a certification run tests every MUST clause of its kind (was it skipped?)", c.ID)
		}
		rep.Required = append(rep.Required, c.ID)
	}
	if err := checkGinkgo(dir, rep, required, byID); err != nil {
		return nil, err
	}
	if rep.E2E, err = readE2E(dir, rep); err != nil {
		return nil, err
	}

	// 5. The plugin at hand is the one certified.
	if opts.Plugin != "" {
		sum, _, err := FileSHA256(opts.Plugin)
		if err != nil {
			return nil, err
		}
		if sum != rep.Plugin.SHA256 {
			return nil, fmt.Errorf("%s: SHA-256 %s differs from the certified plugin's %s (plugin.json): the bundle certifies another build", opts.Plugin, sum, rep.Plugin.SHA256)
		}
		rep.PluginChecked = true
	}

	// 6. The verdict: every MUST clause passed, or does not apply to the
	// generation. Clauses this plugincheck does not know count by the level
	// the summary gives them.
	isMust := map[string]bool{}
	for _, c := range required {
		isMust[c.ID] = true
	}
	for _, c := range rep.Summary.Clauses {
		if !isMust[c.ID] && c.Level != suite.Must {
			continue
		}
		switch c.Result {
		case suite.Passed:
		case suite.Warning:
			// A MUST spec never warns: a SHOULD spec of a mixed clause
			// (CRED-FAILVAL) did, and its MUST specs passed.
		case suite.NotApplicable:
			rep.NotApplicable = append(rep.NotApplicable, c.ID)
		case suite.Failed, suite.NotTested:
			rep.Failures = append(rep.Failures, Failure{Clause: c.ID, Result: c.Result, Reason: c.Reason})
		default:
			return nil, invalid(SummaryJSON, "clause %s has an unknown result %q", c.ID, c.Result)
		}
	}
	// The E2E clauses, when they ran, count as the unit clauses do; left
	// out, they are in the report's scope line, not its verdict.
	rep.Failures = append(rep.Failures, e2eFailures(rep.E2E)...)
	if len(rep.Failures) == 0 && !rep.Summary.Conformant {
		rep.Failures = append(rep.Failures, Failure{Reason: "the run's verdict: " + rep.Summary.Verdict})
	}
	// 7. A cluster bundle: every node's part.
	if err := verifyCluster(dir, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// consistent checks that summary.json, plugin.json and product.yaml speak
// of the same plugin.
func consistent(rep *Report) error {
	s, p := rep.Summary, rep.Plugin
	differ := func(what, a, b string) error {
		return invalid(SummaryJSON, "%s %q differs from plugin.json's %q", what, a, b)
	}
	switch {
	case s.Kind != string(profile.Auth) && s.Kind != string(profile.Cred):
		return invalid(SummaryJSON, "kind %q is neither auth nor cred", s.Kind)
	case s.Kind != p.Kind:
		return differ("kind", s.Kind, p.Kind)
	case s.PluginType != p.Type:
		return differ("plugin_type", s.PluginType, p.Type)
	case s.Version != p.Version:
		return differ("plugin_version", s.Version, p.Version)
	case s.HostVersion != p.Host.SlurmVersion:
		return differ("host_version", s.HostVersion, p.Host.SlurmVersion)
	case s.Generation != p.Generation && !strings.HasPrefix(s.Generation, p.Generation+" "):
		return differ("generation", s.Generation, p.Generation)
	case filepath.Base(s.Plugin) != p.File:
		return differ("plugin", filepath.Base(s.Plugin), p.File)
	case len(p.SHA256) != 64:
		return invalid(PluginJSON, "no SHA-256 of the plugin")
	case rep.Product.Plugin != "" && rep.Product.Plugin != p.File:
		return invalid(ProductYAML, "plugin %q is not the certified file %q", rep.Product.Plugin, p.File)
	}
	return nil
}

// checkGinkgo checks Ginkgo's own report of the run: unfiltered, the same
// run as the summary, with a spec of every required clause, and no spec
// failed where the summary says its clause passed.
func checkGinkgo(dir string, rep *Report, required []suite.Clause, byID map[string]*suite.ClauseResult) error {
	var reports []types.Report
	if err := readJSON(dir, GinkgoJSON, &reports); err != nil {
		return err
	}
	if len(reports) != 1 {
		return invalid(GinkgoJSON, "want the report of one suite run, found %d", len(reports))
	}
	r := reports[0]
	sc := r.SuiteConfig
	var filters []string
	for _, f := range sc.FocusStrings {
		filters = append(filters, "--focus "+f)
	}
	for _, f := range sc.SkipStrings {
		filters = append(filters, "--skip "+f)
	}
	if sc.LabelFilter != "" {
		filters = append(filters, "--label-filter "+sc.LabelFilter)
	}
	if len(sc.FocusFiles)+len(sc.SkipFiles) > 0 {
		filters = append(filters, "file filters")
	}
	if len(filters) > 0 {
		return invalid(GinkgoJSON, "the run was filtered (%s): a certification run runs every spec", strings.Join(filters, ", "))
	}
	if sc.RandomSeed != rep.Summary.Seed {
		return invalid(GinkgoJSON, "seed %d differs from summary.json's %d: not the same run", sc.RandomSeed, rep.Summary.Seed)
	}
	specs := map[string][]types.SpecReport{}
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt || len(sr.ContainerHierarchyTexts) == 0 {
			continue
		}
		specs[sr.ContainerHierarchyTexts[0]] = append(specs[sr.ContainerHierarchyTexts[0]], sr)
	}
	for _, c := range required {
		if len(specs[c.ID]) == 0 {
			return invalid(GinkgoJSON, "no spec of MUST clause %s: a certification run tests every MUST clause of its kind", c.ID)
		}
	}
	for id, srs := range specs {
		cr := byID[id]
		if cr == nil {
			return invalid(SummaryJSON, "clause %s, which ginkgo.json reports, is missing", id)
		}
		for _, sr := range srs {
			if sr.State.Is(types.SpecStateFailureStates) && cr.Result != suite.Failed {
				return invalid(SummaryJSON, "clause %s is %s, but ginkgo.json records its spec %q as %s", id, cr.Result, sr.LeafNodeText, sr.State)
			}
		}
	}
	return nil
}

// checkJUnit checks that junit.xml is a well-formed JUnit report.
func checkJUnit(dir string) error {
	f, err := os.Open(filepath.Join(dir, JUnit))
	if err != nil {
		return invalid(JUnit, "cannot read: %v", err)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return invalid(JUnit, "not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "testsuites" {
		return invalid(JUnit, "not a JUnit report (root element %q, want testsuites)", root)
	}
	return nil
}

func firstOf(problems []error) error {
	if len(problems) == 1 {
		return problems[0]
	}
	var ie *InvalidError
	if errors.As(problems[0], &ie) {
		return &InvalidError{File: ie.File, Msg: fmt.Sprintf("%s (and %d more problems)", ie.Msg, len(problems)-1)}
	}
	return fmt.Errorf("%w (and %d more problems)", problems[0], len(problems)-1)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
