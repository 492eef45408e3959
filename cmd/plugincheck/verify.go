package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/plugincheck/plugincheck/internal/bundle"
	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/suite"
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
	rerun := fs.Bool("rerun", false, "run the certified run again on --plugin, with the bundle's settings and seed, and compare every clause")
	dirs, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &usageError{"verify takes one bundle directory (usage: plugincheck verify DIR [--plugin PLUGIN] [--pubkey FILE] [--rerun])"}
	}
	if *rerun && *plugin == "" {
		return &usageError{"--rerun needs --plugin FILE: the plugin to run the certified run on again"}
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
	line("E2E", "%s", rep.E2EScope())
	if c := rep.Cluster; c != nil {
		line("cluster", "%d node(s), every node's section present, %d srun launch, clock skew %.1f ms", len(c.Nodes), c.Launches, c.SkewMS)
	}
	if *rerun {
		return rerunBundle(rep, *plugin, stdout)
	}
	if !rep.Conformant() {
		return &exitStatus{code: 1, err: errors.New("bundle intact; plugin not conformant: " + rep.Why())}
	}
	if rep.Signed {
		fmt.Fprintf(stdout, "verified: %s%s\n", s.Verdict, e2eNote(rep))
	} else {
		fmt.Fprintf(stdout, "verified: %s%s (UNSIGNED: integrity only)\n", s.Verdict, e2eNote(rep))
	}
	return nil
}

// rerunBundle runs the certified run again on plugin — the settings and
// seed the bundle recorded, on the same host library — and compares every
// clause's result with the bundle's. Exit 0 when all agree; 1 with a table
// of the differences. A reviewer need not take the bundle's word for it.
func rerunBundle(rep *bundle.Report, plugin string, stdout io.Writer) error {
	if len(rep.Env.RunArgs) == 0 {
		return &usageError{"the bundle records no run settings (made by a plugincheck before verify --rerun): it cannot be re-run"}
	}
	// The host must be the certified one: another Slurm build would test
	// something else.
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	if _, err := parse(fs, rep.Env.RunArgs); err != nil {
		return fmt.Errorf("the bundle's run settings %q: %w", rep.Env.RunArgs, err)
	}
	_, info, err := openAndDescribe(plugin, hf.options())
	if err != nil {
		return err
	}
	if info.Host.SHA256 != rep.Plugin.Host.SHA256 {
		return &usageError{fmt.Sprintf("host library %s (SHA-256 %s) is not the certified one (%s, SHA-256 %s): a re-run would test another Slurm build",
			info.Host.Library, info.Host.SHA256, rep.Plugin.Host.Library, rep.Plugin.Host.SHA256)}
	}
	tmp, forget, err := cleanup.MkdirTemp("rerun")
	if err != nil {
		return err
	}
	defer forget()
	defer os.RemoveAll(tmp)
	summaryPath := filepath.Join(tmp, bundle.SummaryJSON)
	args := append([]string{"run", plugin}, rep.Env.RunArgs...)
	args = append(args, "--seed", strconv.FormatInt(rep.Summary.Seed, 10), "--no-color", "--summary-json", summaryPath)
	cmd := selfCommand(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(stdout, "%-14s plugincheck %s\n", "re-run", shellJoin(args))
	runErr := runChild(cmd)
	var again suite.Summary
	data, err := os.ReadFile(summaryPath)
	if err == nil {
		err = json.Unmarshal(data, &again)
	}
	if err != nil {
		return fmt.Errorf("the re-run wrote no summary (%v): %s", runErr, lastLine(out.String()))
	}
	diffs := compareClauses(rep.Summary, &again)
	if len(diffs) == 0 {
		fmt.Fprintf(stdout, "re-run agrees: all %d clauses give the bundle's results (%s)\n", len(again.Clauses), again.Verdict)
		return nil
	}
	fmt.Fprintf(stdout, "%-18s %-16s %s\n", "CLAUSE", "BUNDLE", "RE-RUN")
	for _, d := range diffs {
		fmt.Fprintf(stdout, "%-18s %-16s %s\n", d[0], d[1], d[2])
	}
	return &exitStatus{code: 1, err: fmt.Errorf("the re-run disagrees with the bundle on %d clause(s): first %s (bundle %s, re-run %s)", len(diffs), diffs[0][0], diffs[0][1], diffs[0][2])}
}

// compareClauses lists the clauses whose results differ between two runs,
// in the bundle's order: [clause, bundle's result, re-run's result].
func compareClauses(certified, again *suite.Summary) [][3]string {
	rerun := map[string]string{}
	for _, c := range again.Clauses {
		rerun[c.ID] = string(c.Result)
	}
	var diffs [][3]string
	seen := map[string]bool{}
	for _, c := range certified.Clauses {
		seen[c.ID] = true
		if r, ok := rerun[c.ID]; !ok || r != string(c.Result) {
			diffs = append(diffs, [3]string{c.ID, string(c.Result), orDash(r)})
		}
	}
	for _, c := range again.Clauses {
		if !seen[c.ID] {
			diffs = append(diffs, [3]string{c.ID, "-", string(c.Result)})
		}
	}
	return diffs
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
