package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/plugincheck/plugincheck/internal/bundle"
)

// toolVersion is this plugincheck's version as verify compares it with a
// bundle's; tests replace it.
var toolVersion = bundle.ToolVersion

// verifyCmd re-checks a certification bundle: its manifest (and signature),
// that a plugincheck this one understands made it, that every MUST clause
// of the plugin's kind was tested, and optionally that a plugin file is the
// certified one. Exit 0: intact and conformant; 1: intact, not conformant;
// 2: anything else.
func verifyCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	plugin := fs.String("plugin", "", "a plugin file that must be the certified one")
	pubkey := fs.String("pubkey", "", "ed25519 public key whose signature MANIFEST.sig must be")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &usageError{"verify takes one bundle directory (usage: plugincheck verify DIR [--plugin PLUGIN] [--pubkey FILE])"}
	}
	opts := bundle.VerifyOptions{Plugin: *plugin, ToolVersion: toolVersion()}
	if *pubkey != "" {
		var pub ed25519.PublicKey
		if pub, err = bundle.ReadPublicKey(*pubkey); err != nil {
			return &usageError{"--pubkey: " + err.Error()}
		}
		opts.PublicKey = pub
	}
	rep, err := bundle.Verify(dirs[0], opts)
	if err != nil {
		var ie *bundle.InvalidError
		if errors.As(err, &ie) {
			return fmt.Errorf("bundle %s rejected: %w", dirs[0], err)
		}
		return err
	}
	line := func(k, format string, args ...any) {
		fmt.Fprintf(stdout, "%-14s %s\n", k, fmt.Sprintf(format, args...))
	}
	p, s, e := rep.Plugin, rep.Summary, rep.Env
	line("MANIFEST", "%d files, every SHA-256 matches", rep.Files)
	line("MANIFEST.sig", "%s", rep.Signature)
	line("product", "%s %s %s (%s)", rep.Product.Vendor, rep.Product.Product, rep.Product.Version, rep.Product.Contact)
	match := ""
	if rep.PluginChecked {
		match = ", matches " + *plugin
	}
	line("plugin", "%s %s %s sha256 %s build-id %s%s", p.File, p.Type, orDash(p.Version), p.SHA256, orDash(p.BuildID), match)
	line("host", "Slurm %s, generation %s", orDash(p.Host.SlurmVersion), s.Generation)
	line("made by", "plugincheck %s (summary schema %d) on %s, %s", e.Plugincheck, s.Schema, e.OS, e.Finished)
	line("MUST clauses", "all %d of %s plugins present in the run (%d not applicable to the generation)", len(rep.Required), s.Kind, len(rep.NotApplicable))
	if !rep.Conformant() {
		return &exitStatus{code: 1, err: errors.New("bundle intact; plugin not conformant: " + rep.Why())}
	}
	fmt.Fprintf(stdout, "verified: %s\n", s.Verdict)
	return nil
}
