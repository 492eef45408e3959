package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/plugincheck/plugincheck/loader"
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

// parse parses GNU-style flags that may follow positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
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

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ")), " ")
}
