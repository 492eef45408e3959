package main

import (
	"bytes"
	"crypto/ed25519"
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
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *configFile != "" {
		if err := applyConfig(fs, *configFile, append(selectionFlags, "out", "product", "sign-key", "gen-key")...); err != nil {
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
	childArgs := []string{"run", info.Path}
	fs.Visit(func(f *flag.Flag) {
		for _, name := range runFlags {
			switch {
			case f.Name != name:
			case name == "conf-line":
				for _, l := range sf.confLines {
					childArgs = append(childArgs, "--conf-line="+l)
				}
			case name == "env":
				for _, kv := range sf.env {
					childArgs = append(childArgs, "--env="+kv)
				}
			default:
				childArgs = append(childArgs, "--"+name+"="+f.Value.String())
			}
		}
	})
	runArgs := append([]string(nil), childArgs[2:]...)
	childArgs = append(childArgs, "-v", "--no-color",
		"--junit-report", filepath.Join(dir, bundle.JUnit),
		"--json-report", filepath.Join(dir, bundle.GinkgoJSON),
		"--summary-json", filepath.Join(dir, bundle.SummaryJSON),
		"--html-report", filepath.Join(dir, bundle.ReportHTML))
	code, childErr, err := runLogged(dir, started, args, childArgs, info, stdout)
	if sig, _ := cleanup.Interrupted(); sig != 0 {
		// Half a bundle certifies nothing, and a new run wants an empty
		// directory: remove what this run wrote.
		removeBundle(dir, created)
		return &exitStatus{code: cleanup.ExitCode(sig), err: fmt.Errorf("interrupted by %s: no bundle written (%s removed)", cleanup.Name(sig), dir)}
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
		if err := cc.run(dir, info.Path, stdout); err != nil {
			if sig, _ := cleanup.Interrupted(); sig != 0 {
				removeBundle(dir, created)
				return &exitStatus{code: cleanup.ExitCode(sig), err: fmt.Errorf("interrupted by %s: no bundle written (%s removed)", cleanup.Name(sig), dir)}
			}
			return err
		}
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
	fmt.Fprintf(stdout, "\nbundle: %s (%d files in MANIFEST, %s)\n", dir, rep.Files, signed)
	if !rep.Conformant() {
		return &exitStatus{code: 1, err: fmt.Errorf("bundle written to %s; plugin not conformant: %s", dir, rep.Why())}
	}
	fmt.Fprintf(stdout, "certified: %s\n", rep.Summary.Verdict)
	return nil
}

// removeBundle removes the files of an unfinished bundle, and its
// directory when certify made it.
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
	var errBuf bytes.Buffer
	cmd := selfCommand(childArgs...)
	cmd.Stdin = nil
	cmd.Stdout = io.MultiWriter(log, stdout)
	cmd.Stderr = io.MultiWriter(log, &errBuf)
	cmd.WaitDelay = 10 * time.Second
	err = runChild(cmd)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		return 0, "", fmt.Errorf("cannot run the suite: %w", err)
	}
	fmt.Fprintf(log, "\n# exit status %d\n", code)
	if err := f.Close(); err != nil {
		return 0, "", err
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
