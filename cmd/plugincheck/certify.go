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
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/bundle"
	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/internal/e2e"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/suite"
)

// selfCommand starts this binary with args: certify runs the suite in a
// child process so that everything the run prints goes to console.log.
// Tests replace it to start the test binary as the CLI.
var selfCommand = func(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, args...)
}

// runFlags are the flags of `run` that set up the host and the plugin's
// configuration; certify passes them on to the run it makes.
var runFlags = append([]string{"slurm-lib", "slurm-conf", "sysroot", "lib-path", "generation"}, suiteFlagNames...)

// passOn is the command line of the flags named that were set on fs, for a
// child plugincheck; repeated flags give each of their values.
func passOn(fs *flag.FlagSet, names []string, repeated map[string][]string) []string {
	var args []string
	fs.Visit(func(f *flag.Flag) {
		for _, name := range names {
			if f.Name != name {
				continue
			}
			values, ok := repeated[name]
			if !ok {
				values = []string{f.Value.String()}
			}
			for _, v := range values {
				args = append(args, "--"+name+"="+v)
			}
		}
	})
	return args
}

// selectionFlags choose specs; a certification run has none.
var selectionFlags = []string{"focus", "skip", "label-filter"}

// certifyCmd runs the whole suite on one plugin and writes the evidence
// bundle: reports, console log, product statement, plugin and machine
// facts, and a manifest of them all, optionally signed.
func certifyCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("certify", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	var sf suiteFlags
	sf.register(fs)
	var focus, skip multiFlag
	var labelFilter string
	fs.Var(&focus, "focus", "not allowed")
	fs.Var(&skip, "skip", "not allowed")
	fs.StringVar(&labelFilter, "label-filter", "", "not allowed")
	product := fs.String("product", "", "the product statement (YAML with Kubernetes conformance's PRODUCT.yaml keys; see --init-product)")
	initProduct := fs.Bool("init-product", false, "print a commented product.yaml template, and do nothing else")
	out := fs.String("out", "", "directory to write the bundle to (must not exist, or be empty)")
	signKey := fs.String("sign-key", "", "ed25519 private key to sign MANIFEST with")
	genKey := fs.String("gen-key", "", "write a new ed25519 key pair FILE and FILE.pub, and do nothing else")
	configFile := fs.String("config", "", "YAML file of flag values (flag name: value); command-line flags win")
	var cc clusterCertify
	cc.register(fs)
	noE2E := fs.Bool("no-e2e", false, "leave the E2E clauses out (the bundle records it, and certifies the unit clauses only)")
	var ef e2eFlags
	ef.register(fs)
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *configFile != "" {
		if err := applyConfig(fs, *configFile, append(selectionFlags, "out", "product", "sign-key", "gen-key", "no-e2e")...); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if *initProduct {
		if len(paths) > 0 || len(set) > 1 {
			return &usageError{"--init-product takes nothing else (usage: plugincheck certify --init-product > product.yaml)"}
		}
		_, err := io.WriteString(stdout, bundle.ProductTemplate())
		return err
	}
	if *genKey != "" {
		if len(paths) > 0 || len(set) > 1 {
			return &usageError{"--gen-key FILE takes nothing else (usage: plugincheck certify --gen-key FILE)"}
		}
		pub, err := bundle.GenerateKey(*genKey)
		if err != nil {
			return &usageError{"--gen-key: " + err.Error()}
		}
		fmt.Fprintf(stdout, "wrote %s (private key: keep it secret) and %s.pub (public key %s)\n", *genKey, *genKey, bundle.KeyID(pub))
		return nil
	}
	for _, name := range selectionFlags {
		if set[name] {
			return &usageError{fmt.Sprintf("certify runs every spec; --%s is not allowed", name)}
		}
	}
	switch {
	case len(paths) != 1:
		return &usageError{"certify takes one plugin (usage: plugincheck certify PLUGIN --product FILE --out DIR [flags])"}
	case *product == "":
		return &usageError{"certify needs --product FILE: the product statement (plugincheck certify --init-product prints a template)"}
	case *out == "":
		return &usageError{"certify needs --out DIR: the directory to write the bundle to"}
	}
	cfg, err := sf.config(&hf)
	if err != nil {
		return err
	}
	ef.authInfo, ef.confLines = cfg.AuthInfo, cfg.ConfLines
	if _, err := ef.options(paths[0], io.Discard); err != nil {
		return err
	}
	plugin := paths[0]
	prod, prodData, err := bundle.ReadProduct(*product)
	if err != nil {
		return &usageError{"--product " + err.Error()}
	}
	if prod.Plugin != "" && prod.Plugin != filepath.Base(plugin) {
		return &usageError{fmt.Sprintf("%s: plugin %q is not the file being certified, %q", *product, prod.Plugin, filepath.Base(plugin))}
	}
	var key ed25519.PrivateKey
	if *signKey != "" {
		if key, err = bundle.ReadPrivateKey(*signKey); err != nil {
			return &usageError{"--sign-key: " + err.Error()}
		}
	}
	dir, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if err := emptyOrAbsent(dir); err != nil {
		return err
	}
	// Open the plugin here too: a plugin that cannot be tested at all is a
	// setup error before any file is written.
	t, info, err := openAndDescribe(plugin, hf.options())
	if err != nil {
		return err
	}
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, bundle.ProductYAML), prodData, 0o644); err != nil {
		return err
	}
	if err := bundle.WriteJSON(filepath.Join(dir, bundle.PluginJSON), info); err != nil {
		return err
	}

	// The run: this binary's own `run`, with the same host flags and every
	// report written into the bundle.
	started := time.Now().UTC()
	childArgs := append([]string{"run", info.Path}, passOn(fs, runFlags, map[string][]string{"conf-line": sf.confLines, "env": sf.env})...)
	runArgs := append([]string(nil), childArgs[2:]...)
	childArgs = append(childArgs, "-v", "--no-color",
		"--junit-report", filepath.Join(dir, bundle.JUnit),
		"--json-report", filepath.Join(dir, bundle.GinkgoJSON),
		"--summary-json", filepath.Join(dir, bundle.SummaryJSON),
		"--html-report", filepath.Join(dir, bundle.ReportHTML))
	code, childErr, err := runLogged(dir, started, args, childArgs, info, stdout)
	if err := abandonIfInterrupted(dir, created); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, bundle.SummaryJSON)); code == suite.ExitSetup || code < 0 || code > suite.ExitIncomplete || err != nil {
		msg := childErr
		if msg == "" {
			msg = fmt.Sprintf("the suite run ended with exit status %d", code)
		}
		return &exitStatus{code: 2, err: fmt.Errorf("%s; bundle not finished, no MANIFEST written (the run's output is in %s)", msg, filepath.Join(dir, bundle.ConsoleLog))}
	}

	if cc.wanted() {
		if err := cc.run(dir, info.Path, runArgs, stdout); err != nil {
			if err := abandonIfInterrupted(dir, created); err != nil {
				return err
			}
			return err
		}
	}

	// The E2E clauses: the plugin inside real daemons of its release,
	// unless left out; e2e.json records either.
	e2eRec, code, err := certifyE2E(dir, info.Path, *noE2E, &ef, fs, stdout)
	if err := abandonIfInterrupted(dir, created); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	if code > 1 {
		fmt.Fprintf(stdout, "\nE2E clauses not tested: %s\n", e2eRec.LeftOut)
	}
	if err := bundle.WriteJSON(filepath.Join(dir, bundle.E2EJSON), e2eRec); err != nil {
		return err
	}

	env := bundle.CollectEnvironment(suite.SummarySchema, cfg.Munged != "" || t.Plugin.Minor() == "munge", munged.Binary)
	env.Command = append([]string{"plugincheck", "certify"}, args...)
	env.RunArgs = runArgs
	env.PluginEnv = loader.EnvNames(loader.WorkerEnv(os.Environ(), sf.env))
	env.Started, env.Finished = started.Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339)
	if key != nil {
		env.SigningKey = bundle.KeyID(key.Public().(ed25519.PublicKey))
	}
	if err := bundle.WriteJSON(filepath.Join(dir, bundle.EnvJSON), env); err != nil {
		return err
	}
	if _, err := bundle.WriteManifest(dir); err != nil {
		return err
	}
	var pub ed25519.PublicKey
	if key != nil {
		if err := bundle.Sign(dir, key); err != nil {
			return err
		}
		pub = key.Public().(ed25519.PublicKey)
	}

	// The verdict is the one verify will give.
	rep, err := bundle.Verify(dir, bundle.VerifyOptions{PublicKey: pub})
	if err != nil {
		return fmt.Errorf("the bundle just written in %s does not verify: %w", dir, err)
	}
	signed := "unsigned"
	if pub != nil {
		signed = "MANIFEST signed with key " + bundle.KeyID(pub)
	}
	fmt.Fprintf(stdout, "\nbundle: %s (%d files in MANIFEST, %s)\nE2E: %s\n", dir, rep.Files, signed, rep.E2EScope())
	if !rep.Conformant() {
		return &exitStatus{code: 1, err: fmt.Errorf("bundle written to %s; plugin not conformant: %s", dir, rep.Why())}
	}
	fmt.Fprintf(stdout, "certified: %s%s\n", rep.Summary.Verdict, e2eNote(rep))
	return nil
}

// e2eNote is what a verdict adds about the E2E clauses.
func e2eNote(rep *bundle.Report) string {
	switch {
	case rep.E2E == nil:
		return " (no E2E record)"
	case !rep.E2E.Ran:
		return " (unit clauses only; E2E left out: " + rep.E2E.LeftOut + ")"
	}
	return "; E2E clauses passed in the Slurm " + rep.E2E.Report.Release + " daemons"
}

// e2eFlagNames are the flags of e2eFlags that certify passes on to its
// e2e run.
var e2eFlagNames = []string{"nodes", "daemons", "daemon-root", "slurm-sbin", "refuse-auth-info", "refuse-env", "stable-rpcs", "stable-jobs", "submitter"}

// certifyE2E runs `plugincheck e2e` on the plugin in a child process (its
// output goes to console.log and the terminal) and returns e2e.json's
// record with the child's exit status. The clauses are left out, and the
// record says why, with --no-e2e, when not root, or when the e2e run could
// not set up (no daemons of the plugin's release, no munged): a setup
// problem of e2e is no setup problem of the certification.
func certifyE2E(dir, plugin string, noE2E bool, ef *e2eFlags, fs *flag.FlagSet, stdout io.Writer) (*bundle.E2ERecord, int, error) {
	switch {
	case noE2E:
		return &bundle.E2ERecord{LeftOut: "--no-e2e"}, 0, nil
	case os.Geteuid() != 0:
		return &bundle.E2ERecord{LeftOut: "certify did not run as root (the private Slurm cluster needs root: a mount namespace, SlurmUser=root)"}, 2, nil
	}
	tmp, forget, err := cleanup.MkdirTemp("certify-e2e")
	if err != nil {
		return nil, 0, err
	}
	defer forget()
	defer os.RemoveAll(tmp)
	report := filepath.Join(tmp, "e2e.json")
	args := append([]string{"e2e", plugin, "--quiet", "--summary-json", report},
		passOn(fs, e2eFlagNames, map[string][]string{"refuse-env": ef.refuseEnv})...)
	if ef.authInfo != "" {
		args = append(args, "--auth-info="+ef.authInfo)
	}
	for _, l := range ef.confLines {
		args = append(args, "--conf-line="+l)
	}
	code, childErr, err := runLoggedAppend(dir, args, stdout)
	if err != nil {
		return nil, 0, err
	}
	rec := &bundle.E2ERecord{Command: append([]string{"plugincheck"}, args...)}
	if code > 1 {
		if childErr == "" {
			childErr = fmt.Sprintf("plugincheck e2e ended with exit status %d", code)
		}
		return &bundle.E2ERecord{LeftOut: childErr}, code, nil
	}
	rec.Ran, rec.Report = true, &e2e.Report{}
	data, err := os.ReadFile(report)
	if err == nil {
		err = json.Unmarshal(data, rec.Report)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("the e2e run wrote no report: %w", err)
	}
	return rec, code, nil
}

// runLoggedAppend runs a child plugincheck like runLogged, appending its
// output to the bundle's console.log.
func runLoggedAppend(dir string, childArgs []string, stdout io.Writer) (int, string, error) {
	f, err := os.OpenFile(filepath.Join(dir, bundle.ConsoleLog), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	log := &lockedWriter{w: f}
	fmt.Fprintf(log, "\n# run: plugincheck %s\n\n", shellJoin(childArgs))
	code, childErr, err := runChildLogged(log, childArgs, stdout)
	if err != nil {
		return 0, "", err
	}
	fmt.Fprintf(log, "\n# exit status %d\n", code)
	return code, childErr, f.Close()
}

// removeBundle removes the files of an unfinished bundle, and its
// directory when certify made it.
// abandonIfInterrupted removes what this run wrote once it has been
// interrupted: half a bundle certifies nothing, and a new run wants an
// empty directory. It returns the interrupted run's exit status, or nil.
func abandonIfInterrupted(dir string, created bool) error {
	sig, _ := cleanup.Interrupted()
	if sig == 0 {
		return nil
	}
	removeBundle(dir, created)
	return &exitStatus{code: cleanup.ExitCode(sig), err: fmt.Errorf("interrupted by %s: no bundle written (%s removed)", cleanup.Name(sig), dir)}
}

func removeBundle(dir string, created bool) {
	if created {
		os.RemoveAll(dir)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// openAndDescribe opens a plugin with its host and gathers plugin.json's
// facts about both.
func openAndDescribe(plugin string, opts loader.Options) (*loader.Target, *bundle.PluginInfo, error) {
	t, err := loader.Open(plugin, opts)
	if err != nil {
		return nil, nil, err
	}
	info, err := bundle.DescribePlugin(t)
	return t, info, err
}

// emptyOrAbsent accepts a bundle directory that does not exist yet or is
// empty.
func emptyOrAbsent(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &usageError{fmt.Sprintf("--out %s exists and is not a directory", dir)}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return &usageError{fmt.Sprintf("--out %s is not empty: certify writes a new bundle into a new or empty directory", dir)}
	}
	return nil
}

// runLogged runs the suite in a child process, copying its stdout to the
// terminal and both its streams to console.log. It returns the child's
// exit status and its "plugincheck: …" error line, if any.
func runLogged(dir string, started time.Time, args, childArgs []string, info *bundle.PluginInfo, stdout io.Writer) (int, string, error) {
	f, err := os.OpenFile(filepath.Join(dir, bundle.ConsoleLog), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	log := &lockedWriter{w: f}
	fmt.Fprintf(log, "# plugincheck %s certify, %s\n# command: %s\n# plugin: %s sha256 %s build-id %s\n# run: plugincheck %s\n\n",
		bundle.ToolVersion(), started.Format(time.RFC3339), shellJoin(append([]string{"plugincheck", "certify"}, args...)),
		info.Path, info.SHA256, orDash(info.BuildID), shellJoin(childArgs))
	code, childErr, err := runChildLogged(log, childArgs, stdout)
	if err != nil {
		return 0, "", err
	}
	fmt.Fprintf(log, "\n# exit status %d\n", code)
	if err := f.Close(); err != nil {
		return 0, "", err
	}
	return code, childErr, nil
}

// runChildLogged runs this binary with childArgs, its stdout to the
// terminal and log, its stderr to log; it returns the exit status and the
// child's last "plugincheck: …" line.
func runChildLogged(log io.Writer, childArgs []string, stdout io.Writer) (int, string, error) {
	var errBuf bytes.Buffer
	cmd := selfCommand(childArgs...)
	cmd.Stdin = nil
	cmd.Stdout = io.MultiWriter(log, stdout)
	cmd.Stderr = io.MultiWriter(log, &errBuf)
	cmd.WaitDelay = 10 * time.Second
	err := runChild(cmd)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		return 0, "", fmt.Errorf("cannot run plugincheck %s: %w", childArgs[0], err)
	}
	childErr := ""
	for _, line := range strings.Split(errBuf.String(), "\n") {
		if m, ok := strings.CutPrefix(line, "plugincheck: "); ok {
			childErr = m
		}
	}
	return code, childErr, nil
}

// runChild runs a child plugincheck (certify's run, verify --rerun) as a
// process group of its own, which the parent owns: a terminal's ^C reaches
// the parent only, which passes it on once; the child gets SIGTERM if the
// parent dies without doing so.
func runChild(cmd *exec.Cmd) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	forget := cleanup.Add(func() { cleanup.PassOn(cmd.Process.Pid, childGrace) })
	err := cmd.Wait()
	forget()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // whatever of its group outlived it
	return err
}

// childGrace is less than interruptGrace: the parent outlives its child.
const childGrace = 15 * time.Second

// lockedWriter serialises writes from the child's two streams.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// shellJoin quotes args for a shell, for the console log.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./:,+@%") == "" {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
