// Package bundle writes and verifies plugincheck certification bundles: the
// evidence of one full conformance run (reports, console log, product
// statement, plugin and machine facts) bound together by a SHA-256 manifest
// that may be signed with ed25519.
//
// A bundle is a directory of plain files:
//
//	product.yaml      the vendor's statement, as given (see Product)
//	plugin.json       the certified file: path, SHA-256, ELF build-id, plugin_type,
//	                  plugin_version, generation, host library and its SHA-256, sysroot
//	environment.json  plugincheck version and commit, bundle format, summary schema,
//	                  Go, OS, kernel, C library, munged, command line, times, signing key id
//	summary.json      the run's summary (suite.Summary, versioned by schema_version)
//	ginkgo.json       Ginkgo's JSON report of the run
//	junit.xml         Ginkgo's JUnit report of the run
//	console.log       everything the run printed
//	e2e.json          the E2E clauses in real Slurm daemons of the plugin's release,
//	                  or why they were left out (--no-e2e, not root, no daemons)
//	MANIFEST          "<sha256>  <file>" for each file above, sorted: sha256sum -c reads it
//	MANIFEST.sig      optional: base64 ed25519 signature of MANIFEST's bytes
//
// Verify accepts a bundle when the files are exactly those MANIFEST lists
// with those sums (and MANIFEST.sig verifies, when a key is given); a
// plugincheck no newer than this one made it; summary.json, plugin.json,
// product.yaml and ginkgo.json describe the same, unfiltered run; and every
// MUST clause of the plugin's kind is in it. The plugin is conformant when
// each of those passed or does not apply to its generation, and every MUST
// E2E clause passed when e2e.json says they ran (left out, they are not
// counted as passed: the bundle's scope says so).
package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Format is the version of the bundle layout (which files, and what
// plugin.json and environment.json mean). It changes when a file is added,
// removed or changes meaning. Format 2 added e2e.json.
const Format = 2

// The files of a bundle.
const (
	Manifest    = "MANIFEST"
	Signature   = "MANIFEST.sig"
	ConsoleLog  = "console.log"
	JUnit       = "junit.xml"
	GinkgoJSON  = "ginkgo.json"
	SummaryJSON = "summary.json"
	ProductYAML = "product.yaml"
	PluginJSON  = "plugin.json"
	EnvJSON     = "environment.json"
	// ReportHTML is the run's HTML report. Bundles made before it existed
	// lack it, so it is not Required; when present, MANIFEST covers it.
	ReportHTML = "report.html"
)

// Required lists the files every bundle holds besides MANIFEST and
// MANIFEST.sig, in the order a reader wants them.
var Required = []string{ProductYAML, PluginJSON, EnvJSON, SummaryJSON, GinkgoJSON, JUnit, ConsoleLog}

// version is plugincheck's version when the linker sets it:
//
//	go build -ldflags "-X github.com/plugincheck/plugincheck/internal/bundle.version=v1.2.3"
var version string

// ToolVersion is this plugincheck's version: the one set at link time, else
// the main module's version from the build information ("(devel)" for a
// build from a source tree).
func ToolVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// buildSetting is one VCS setting of the build ("" when absent).
func buildSetting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// NewerThan reports whether version a is newer than version b. Only
// semantic versions ("v1.2.3", "v0.0.0-20260101120000-abcdef012345",
// build metadata ignored) compare; anything else, such as "(devel)" for a
// build from source, is never newer nor older.
func NewerThan(a, b string) bool {
	va, oka := parseSemver(a)
	vb, okb := parseSemver(b)
	if !oka || !okb {
		return false
	}
	return compareSemver(va, vb) > 0
}

type semver struct {
	num [3]int
	pre []string
}

func parseSemver(v string) (semver, bool) {
	var s semver
	if !strings.HasPrefix(v, "v") {
		return s, false
	}
	v = v[1:]
	if i := strings.IndexByte(v, '+'); i >= 0 {
		v = v[:i]
	}
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p == "" {
			return s, false
		}
		s.num[i] = n
	}
	if hasPre {
		if pre == "" {
			return s, false
		}
		s.pre = strings.Split(pre, ".")
	}
	return s, true
}

// compareSemver follows semver.org §11.
func compareSemver(a, b semver) int {
	for i := range a.num {
		if a.num[i] != b.num[i] {
			return cmpInt(a.num[i], b.num[i])
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < len(a.pre) && i < len(b.pre); i++ {
		x, y := a.pre[i], b.pre[i]
		nx, errx := strconv.Atoi(x)
		ny, erry := strconv.Atoi(y)
		switch {
		case errx == nil && erry == nil:
			if nx != ny {
				return cmpInt(nx, ny)
			}
		case errx == nil:
			return -1
		case erry == nil:
			return 1
		case x != y:
			return strings.Compare(x, y)
		}
	}
	return cmpInt(len(a.pre), len(b.pre))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FileSHA256 is the hex SHA-256 of a file's contents, and its size.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// WriteJSON writes v, indented, to path.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// readJSON decodes a bundle file; a bundle from a newer format may carry
// fields this one does not know, so unknown fields are allowed.
func readJSON(dir, name string, v any) error {
	data, err := os.ReadFile(dir + "/" + name)
	if err != nil {
		return invalid(name, "cannot read: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return invalid(name, "not valid JSON of the expected form: %v", err)
	}
	return nil
}

// InvalidError says a bundle cannot be trusted: a file was changed, added or
// removed, the signature does not verify, required evidence is missing, or
// the files contradict each other. plugincheck exits 2 on it.
type InvalidError struct {
	File string // the file at fault, relative to the bundle; may be empty
	Msg  string
}

func (e *InvalidError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

func invalid(file, format string, args ...any) *InvalidError {
	return &InvalidError{File: file, Msg: fmt.Sprintf(format, args...)}
}
