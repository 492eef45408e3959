package suite

import (
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Metadata clauses read the plugin's file; no plugin code runs.

func printable(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// builtinIDs are the plugin_id values of Slurm's own auth plugins.
var builtinIDs = map[uint32]string{100: "none", 101: "munge", 102: "jwt", 103: "slurm"}

func init() {
	register(Spec{Clause: "PLG-TYPE", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "plugin_type is a printable <major>/<minor> whose major type is the kind under test",
		Body: func(c *Ctx) {
			p := c.Target().Plugin
			major, minor, slash := strings.Cut(p.Type, "/")
			Expect(printable(p.Type)).To(BeTrue(), "plugin_type %q is not a printable string", p.Type)
			Expect(slash).To(BeTrue(), "plugin_type %q has no '/'", p.Type)
			Expect(major).To(BeElementOf("auth", "cred"), "major type %q", major)
			Expect(minor).NotTo(BeEmpty(), "plugin_type %q has an empty minor type", p.Type)
		}})
	register(Spec{Clause: "PLG-TYPE", Level: Should, Kinds: bothKind, Area: Metadata,
		Text: "the file is named <major>_<minor>.so, the name Slurm looks for",
		Body: func(c *Ctx) {
			p := c.Target().Plugin
			want := strings.ReplaceAll(p.Type, "/", "_") + ".so"
			Expect(filepath.Base(p.Path)).To(Equal(want), "Slurm loads %q from file %s", p.Type, want)
		}})
	register(Spec{Clause: "PLG-NAME", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "plugin_name is exported, non-empty and printable",
		Body: func(c *Ctx) {
			p := c.Target().Plugin
			_, exported := p.Defined["plugin_name"]
			Expect(exported).To(BeTrue(), "plugin_name is not exported")
			Expect(printable(p.Name)).To(BeTrue(), "plugin_name %q is empty or not printable", p.Name)
		}})
	register(Spec{Clause: "PLG-VERSION", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "plugin_version equals the host's SLURM_VERSION_NUMBER",
		Body: func(c *Ctx) {
			t := c.Target()
			Expect(t.Plugin.Version).NotTo(BeNil(), "plugin_version is not exported")
			if t.Host.Version == nil {
				Expect(t.Profile.Covers(*t.Plugin.Version) || t.Detection.SameSeries(*t.Plugin.Version)).To(BeTrue(),
					"host release unknown, and plugin_version %s is not a release of generation %s", t.Plugin.Version, t.Profile.Name)
				return
			}
			Expect(t.Plugin.VersionRaw).To(Equal(t.Host.Version.Number()),
				"plugin_version %s (%#x) ≠ host %s (%#x): Slurm's loader refuses the plugin",
				t.Plugin.Version, t.Plugin.VersionRaw, t.Host.Version, t.Host.Version.Number())
		}})
	register(Spec{Clause: "PLG-SYMBOLS", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "every symbol the generation's framework looks up is exported",
		Body: func(c *Ctx) {
			d := c.Target().Detection
			Expect(d.Missing).To(BeEmpty(), "missing (Slurm calls fatal()): %s", strings.Join(d.Missing, ", "))
		}})
	register(Spec{Clause: "PLG-SYMBOLS", Level: Must, Kinds: auth, Area: Metadata,
		Text: "plugin_id is exported and a third-party plugin does not reuse a built-in id",
		Body: func(c *Ctx) {
			p := c.Target().Plugin
			Expect(p.ID).NotTo(BeNil(), "plugin_id is not exported")
			if owner, builtin := builtinIDs[*p.ID]; builtin {
				Expect(p.Minor()).To(Equal(owner), "plugin_id %d belongs to auth/%s", *p.ID, owner)
			}
		}})
	register(Spec{Clause: "PLG-LINK", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "every undefined symbol resolves against the host library and the DT_NEEDED libraries",
		Body: func(c *Ctx) {
			l := c.Target().Linkage
			Expect(l.Unresolved).To(BeEmpty(), "resolve nowhere (a daemon crashes when it first calls one): %s",
				strings.Join(l.Unresolved, ", "))
		}})
	register(Spec{Clause: "PLG-GENERATION", Level: Must, Kinds: bothKind, Area: Metadata,
		Text: "the symbol set is exactly one known generation of the plugin's release series",
		Body: func(c *Ctx) {
			t := c.Target()
			d := t.Detection
			if f := t.VerifySignForm; f != nil {
				AddReportEntry("host", fmt.Sprintf("%s; the suite calls it as generation %s", f, t.Profile.Name))
			}
			Expect(d.Exact()).To(BeTrue(), d.Note)
			if d.Agree() || t.Plugin.Version == nil {
				return
			}
			if d.SameSeries(*t.Plugin.Version) {
				AddReportEntry("note", d.Note)
				return
			}
			Fail(d.Note)
		}})
}

// describeErrno formats an errno for messages.
func describeErrno(e int32) string { return fmt.Sprintf("errno %d", e) }
