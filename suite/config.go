package suite

import (
	"io"
	"time"

	"github.com/plugincheck/plugincheck/loader"
)

// Config says which plugin to check and how to set up its host. It is what
// plugincheck's flags fill in, and what a plugin author's test passes to
// Test.
type Config struct {
	// Plugin is the path of the auth_*.so or cred_*.so under test.
	Plugin string
	// Loader finds the host library, sysroot and libraries, and may force
	// a generation.
	Loader loader.Options
	// SlurmConf is a slurm.conf to use instead of the generated one.
	SlurmConf string
	// Munged is "auto" to start a private munged for the run, a socket path
	// to use a running one, or "" for none (auth/munge and cred/munge
	// plugins get "auto" when it is empty).
	Munged string
	// AuthInfo is the AuthInfo value the plugin is configured with and the
	// auth_info argument of create and verify. The munged socket and AuthTTL
	// are added to it.
	AuthInfo string
	// AuthTTL is the credential lifetime in effect, in seconds. For
	// auth/munge (and plugins that read "ttl=" from AuthInfo) the suite
	// configures it; for others the user states it. Zero: AUTH-EXPIRY is not
	// tested.
	AuthTTL int
	// PrivateKey and PublicKey are cred key files to use instead of the
	// generated ones.
	PrivateKey, PublicKey string
	// Daemon runs the plugin as inside this Slurm daemon ("slurmctld",
	// "slurmd", "sackd", …) rather than in a client command: some plugins
	// load keys only there (auth/jwt in slurmctld, auth/slurm in daemons).
	Daemon string
	// ConfLines are added to the generated slurm.conf.
	ConfLines []string
	// CredCorpus is a directory of valid packed credentials (23.11+ cred
	// plugins, whose wire the suite cannot build without the release's
	// struct layouts): CRED2-UNPACK-BAD mutates each one.
	CredCorpus string
	// CallTimeout bounds each plugin call (default 10s).
	CallTimeout time.Duration
	// Env are NAME=VALUE settings the plugin sees on top of the caller's
	// environment, which it inherits as a daemon does (minus the variables
	// that would change how the worker runs: loader.ReservedEnv).
	Env []string
	// Seed makes randomised specs (fuzz corpora, model sequences)
	// reproducible; zero picks one and the report prints it.
	Seed int64
}

// RunOptions select and report specs, as Ginkgo users expect.
type RunOptions struct {
	LabelFilter string
	Focus, Skip []string
	JUnitReport string
	JSONReport  string
	Verbose     bool
	NoColor     bool
	// Quiet reports only failures as they happen (Ginkgo's succinct mode).
	Quiet bool
	// Progress, when set, gets a live line per spec on a terminal, or a
	// plain line per spec otherwise.
	Progress io.Writer
	// Procs is how many specs run at once, each batch in a child process
	// of its own; 0 is DefaultProcs, 1 runs them one after another in this
	// process.
	Procs int
	// Output gets Ginkgo's report of a run in several processes (default:
	// standard output); a run in one process writes to standard output.
	Output io.Writer
}

// SessionOptions are the loader's options for this configuration: how the
// plugin is opened, its munged, its sandbox (the call timeout among them)
// and its key files.
func (c *Config) SessionOptions() loader.SessionOptions {
	return loader.SessionOptions{
		Loader: c.Loader,
		Sandbox: loader.SandboxOptions{SlurmConf: c.SlurmConf, CallTimeout: c.CallTimeout, Daemon: c.Daemon,
			ExtraConf: c.ConfLines, Env: c.Env},
		Munge:      loader.MungeOptions{Munged: c.Munged, AuthInfo: c.AuthInfo, AuthTTL: c.AuthTTL},
		PrivateKey: c.PrivateKey, PublicKey: c.PublicKey,
	}
}
