package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
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
var suiteFlagNames = []string{"munged", "auth-info", "auth-ttl", "private-key", "public-key", "as-daemon", "conf-line", "cred-corpus", "seed", "call-timeout", "env"}

func (s *suiteFlags) register(fs *flag.FlagSet) {
	c := &s.cfg
	fs.StringVar(&c.Munged, "munged", "", "auto: start a private munged; or the socket of a running one")
	fs.StringVar(&c.AuthInfo, "auth-info", "", "AuthInfo for the plugin (create/verify auth_info)")
	fs.IntVar(&c.AuthTTL, "auth-ttl", 0, "credential lifetime in seconds (configured as ttl=N in AuthInfo)")
	fs.StringVar(&c.PrivateKey, "private-key", "", "cred private key file")
	fs.StringVar(&c.PublicKey, "public-key", "", "cred public key file")
	fs.StringVar(&c.Daemon, "as-daemon", "", "run the plugin as inside this Slurm daemon (slurmctld, slurmd, sackd, …)")
	fs.Var(&s.confLines, "conf-line", "a line to add to the generated slurm.conf (repeatable)")
	fs.Var(&s.env, "env", "NAME=VALUE the plugin sees on top of the caller's environment (repeatable)")
	fs.StringVar(&c.CredCorpus, "cred-corpus", "", "directory of valid packed 23.11+ credentials for CRED2-UNPACK-BAD to mutate")
	fs.Int64Var(&c.Seed, "seed", 0, "random seed (0: pick one)")
	fs.DurationVar(&c.CallTimeout, "call-timeout", 10*time.Second, "deadline of one plugin call")
}

// config is the suite configuration the flags describe.
func (s *suiteFlags) config(hf *hostFlags) (suite.Config, error) {
	c := s.cfg
	if c.AuthTTL < 0 {
		return c, &usageError{"--auth-ttl must not be negative"}
	}
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
			return nil, &usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
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
