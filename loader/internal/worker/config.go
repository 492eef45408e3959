// Package worker is the process that runs plugin code. The parent executes
// its own binary, or the dedicated worker binary built from the same source
// (cmd/plugincheck-worker), with EnvConfig set; Serve then loads the host
// library and the plugin and answers requests on dedicated descriptors
// until told to exit.
//
// Everything that can crash, hang or corrupt a process happens here, never in
// the parent.
package worker

import (
	"encoding/json"
	"os"
)

// EnvConfig names the environment variable that carries a worker's Config.
const EnvConfig = "PLUGINCHECK_WORKER"

// Descriptors the parent passes as ExtraFiles.
const (
	RequestFD  = 3
	ResponseFD = 4
)

// Config is what the parent tells a worker to load.
type Config struct {
	// Fingerprint is the parent's (see Fingerprint): a worker built from
	// other source refuses to serve.
	Fingerprint string   `json:"fingerprint"`
	HostLib     string   `json:"host_lib"`
	Plugin      string   `json:"plugin"`
	SlurmConf   string   `json:"slurm_conf,omitempty"`
	Symbols     []string `json:"symbols"`
	// HostSymbols are looked up in the host library and follow Symbols in
	// the worker's symbol table.
	HostSymbols []string `json:"host_symbols,omitempty"`
	// Daemon makes the host believe it runs inside this Slurm daemon
	// ("slurmctld", "slurmd", "sackd", …), before the configuration and the
	// plugin load. Empty: a client process, like any Slurm command.
	Daemon string `json:"daemon,omitempty"`
	// AddressSpace bounds RLIMIT_AS in bytes (0: unlimited); CPUSeconds
	// bounds RLIMIT_CPU (0: unlimited). Core dumps are always off.
	AddressSpace uint64 `json:"address_space,omitempty"`
	CPUSeconds   uint64 `json:"cpu_seconds,omitempty"`
}

// Requested reports whether this process was started as a worker.
func Requested() bool { return os.Getenv(EnvConfig) != "" }

func readConfig() (*Config, error) {
	var c Config
	err := json.Unmarshal([]byte(os.Getenv(EnvConfig)), &c)
	return &c, err
}
