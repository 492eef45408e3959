package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// hostFlags are the flags of every command that opens a plugin.
type hostFlags struct {
	slurmLib, slurmConf, sysroot, libPath, generation string
}

func (h *hostFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&h.slurmLib, "slurm-lib", "", "libslurmfull.so of the host")
	fs.StringVar(&h.slurmConf, "slurm-conf", "", "slurm.conf for the host")
	fs.StringVar(&h.sysroot, "sysroot", "", "root of a newer C library")
	fs.StringVar(&h.libPath, "lib-path", "", "extra library directories, colon separated")
	fs.StringVar(&h.generation, "generation", "", "API generation to use instead of the detected one")
}

func (h *hostFlags) options() loader.Options {
	var dirs []string
	if h.libPath != "" {
		dirs = filepath.SplitList(h.libPath)
	}
	return loader.Options{
		HostOptions: loader.HostOptions{SlurmLib: h.slurmLib, Sysroot: h.sysroot, LibraryPath: dirs},
		Generation:  h.generation,
	}
}

// suiteFlags are the flags that configure a run's host and plugin setup,
// shared by run and certify (which passes them on to its own run).
type suiteFlags struct {
	cfg       suite.Config
	confLines multiFlag
	env       multiFlag
}

// suiteFlagNames are the flags suiteFlags registers, for commands that
// pass them on.
var suiteFlagNames = func() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	new(suiteFlags).register(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}()

func (s *suiteFlags) register(fs *flag.FlagSet) {
	c := &s.cfg
	fs.StringVar(&c.Munged, "munged", "", "auto: start a private munged; or the socket of a running one")
	fs.StringVar(&c.AuthInfo, "auth-info", "", "AuthInfo for the plugin (create/verify auth_info)")
	fs.Var(&rangeFlag{p: &c.AuthTTL, min: 0, max: 3600, unit: "seconds (0: AUTH-EXPIRY not tested)"}, "auth-ttl", "credential lifetime in seconds, 1 to 3600 (configured as ttl=N in AuthInfo); 0: AUTH-EXPIRY not tested")
	fs.StringVar(&c.PrivateKey, "private-key", "", "cred private key file")
	fs.StringVar(&c.PublicKey, "public-key", "", "cred public key file")
	fs.Var(&choiceFlag{p: &c.Daemon, choices: loader.Daemons()}, "as-daemon", "run the plugin as inside this Slurm daemon ("+strings.Join(loader.Daemons(), ", ")+")")
	fs.Var(&s.confLines, "conf-line", "a line to add to the generated slurm.conf (repeatable)")
	fs.Var(&s.env, "env", "NAME=VALUE the plugin sees on top of the caller's environment (repeatable)")
	fs.StringVar(&c.CredCorpus, "cred-corpus", "", "directory of valid packed 23.11+ credentials for CRED2-UNPACK-BAD to mutate")
	fs.Int64Var(&c.Seed, "seed", 0, "random seed (0: pick one)")
	c.CallTimeout = loader.DefaultCallTimeout
	fs.Var(&durationFlag{p: &c.CallTimeout, min: 100 * time.Millisecond, max: time.Hour}, "call-timeout", "deadline of one plugin call, 100ms to 1h")
}

// registerProcs registers --procs, how many specs of a run go at once.
func registerProcs(fs *flag.FlagSet, procs *int) {
	fs.IntVar(procs, "procs", suite.DefaultProcs(), "how many specs run at once, each in a process of its own (1: one after another in this process)")
}

// rangeFlag is an int flag whose value must lie in [min, max].
type rangeFlag struct {
	p        *int
	min, max int
	unit     string
}

func (f *rangeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f *rangeFlag) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		return fmt.Errorf("must be a whole number from %d to %d %s", f.min, f.max, f.unit)
	}
	*f.p = v
	return nil
}

// durationFlag is a duration flag whose value must lie in [min, max].
type durationFlag struct {
	p        *time.Duration
	min, max time.Duration
}

func (f *durationFlag) String() string {
	if f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (e.g. 10s, 500ms)")
	}
	if v < f.min || v > f.max {
		return fmt.Errorf("must be from %v to %v", f.min, f.max)
	}
	*f.p = v
	return nil
}

// choiceFlag is a string flag with a fixed set of values.
type choiceFlag struct {
	p       *string
	choices []string
}

func (f *choiceFlag) String() string {
	if f.p == nil {
		return ""
	}
	return *f.p
}

func (f *choiceFlag) Set(s string) error {
	if !slices.Contains(f.choices, s) {
		return fmt.Errorf("must be one of %s", strings.Join(f.choices, ", "))
	}
	*f.p = s
	return nil
}

// config is the suite configuration the flags describe.
func (s *suiteFlags) config(hf *hostFlags) (suite.Config, error) {
	c := s.cfg
	c.ConfLines = s.confLines
	if err := loader.CheckEnv(s.env); err != nil {
		return c, &usageError{err.Error()}
	}
	c.Env = s.env
	c.Loader, c.SlurmConf = hf.options(), hf.slurmConf
	return c, nil
}

// parse parses GNU-style flags that may follow positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err == flag.ErrHelp {
			return nil, &helpRequest{fs}
		} else if err != nil {
			msg := strings.Replace(err.Error(), "for flag -", "for --", 1)
			return nil, &usageError{fmt.Sprintf("%s: %s", fs.Name(), msg)}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// helpRequest is -h/--help on a command: its flags go to stdout, exit 0.
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string { return "help requested" }

func (h *helpRequest) write(w io.Writer) {
	fmt.Fprintf(w, "plugincheck %s: flags (GNU style: --flag value or --flag=value, anywhere on the line)\n", h.fs.Name())
	h.fs.SetOutput(w)
	h.fs.PrintDefaults()
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}
