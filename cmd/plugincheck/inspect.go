package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
)

// inspection is what `plugincheck inspect` reports.
type inspection struct {
	Path          string            `json:"path"`
	Kind          string            `json:"kind"`
	Type          string            `json:"plugin_type"`
	Name          string            `json:"plugin_name"`
	Version       string            `json:"plugin_version,omitempty"`
	VersionNumber string            `json:"plugin_version_number,omitempty"`
	ID            *uint32           `json:"plugin_id,omitempty"`
	HashEnable    *bool             `json:"hash_enable,omitempty"`
	Generation    string            `json:"generation"`
	Releases      string            `json:"generation_releases"`
	BySymbols     []string          `json:"generations_by_symbols"`
	ByVersion     string            `json:"generation_by_version,omitempty"`
	Note          string            `json:"detection_note,omitempty"`
	Host          string            `json:"host_library"`
	HostVersion   string            `json:"host_version,omitempty"`
	HostCalls     string            `json:"host_calls,omitempty"`
	Sysroot       string            `json:"sysroot,omitempty"`
	GlibcNeeded   string            `json:"glibc_needed,omitempty"`
	Needed        map[string]string `json:"needed"`
	Missing       []string          `json:"required_symbols_missing"`
	Extra         []string          `json:"symbols_of_other_generations"`
	Unresolved    []string          `json:"unresolved_symbols"`
	WouldLoad     bool              `json:"would_load_in_slurm"`
	Reasons       []string          `json:"reasons,omitempty"`
	Load          *loadResult       `json:"load,omitempty"`
}

type loadResult struct {
	Init   *int32 `json:"init_return,omitempty"`
	Errno  int32  `json:"init_errno"`
	Error  string `json:"error,omitempty"`
	Stderr string `json:"stderr,omitempty"`
}

func inspectCmd(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("inspect", flag.ContinueOnError)
	var hf hostFlags
	hf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	load := fs.Bool("load", false, "also load host and plugin in a worker and call init")
	paths, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return &usageError{"inspect takes one plugin path"}
	}
	t, err := loader.Open(paths[0], hf.options())
	if err != nil {
		return err
	}
	in := describe(t)
	if *load {
		if in.Load, err = tryLoad(t, hf.slurmConf); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	printInspection(stdout, in)
	return nil
}

func describe(t *loader.Target) *inspection {
	p, d := t.Plugin, t.Detection
	in := &inspection{
		Path: p.Path, Kind: string(p.Kind()), Type: p.Type, Name: p.Name, ID: p.ID, HashEnable: p.HashEnable,
		Generation: t.Profile.Name, Releases: strings.TrimPrefix(t.Profile.Describe(), t.Profile.Name+" "),
		Note: d.Note, Host: t.Host.Lib.Path, GlibcNeeded: p.GlibcNeeded, Needed: t.Linkage.Needed,
		Missing: d.Missing, Extra: d.Extra, Unresolved: t.Linkage.Unresolved,
	}
	if p.Version != nil {
		in.Version, in.VersionNumber = p.Version.String(), fmt.Sprintf("%#06x", p.VersionRaw)
	}
	for _, g := range d.BySymbols {
		in.BySymbols = append(in.BySymbols, g.Name)
	}
	if d.ByVersion != nil {
		in.ByVersion = d.ByVersion.Name
	}
	if f := t.VerifySignForm; f != nil {
		in.HostCalls = f.String()
	}
	if t.Host.Version != nil {
		in.HostVersion = t.Host.Version.String()
	}
	if t.Host.Sysroot != nil {
		in.Sysroot = t.Host.Sysroot.Root + " (" + t.Host.Sysroot.Glibc + ")"
	}
	in.WouldLoad, in.Reasons = t.LoadVerdict()
	return in
}

// tryLoad starts a worker, which loads the host, its slurm.conf and the
// plugin, and calls init. A plugin that crashes or hangs there is a finding,
// not an error; a configuration the host rejects is a setup error.
func tryLoad(t *loader.Target, slurmConf string) (*loadResult, error) {
	sb, err := t.NewSandbox(loader.SandboxOptions{SlurmConf: slurmConf})
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	w, err := sb.Start(cleanup.Context())
	if err != nil {
		return nil, err
	}
	defer w.Close()
	res := &loadResult{}
	if !w.Has("init") {
		return res, nil
	}
	r, err := w.Call("init")
	if err != nil {
		res.Error = err.Error()
	} else {
		rc := r.Int()
		res.Init, res.Errno = &rc, r.Errno
	}
	res.Stderr = strings.TrimSpace(w.Stderr())
	return res, nil
}

func printInspection(w io.Writer, in *inspection) {
	line := func(k, format string, args ...any) { fmt.Fprintf(w, "%-22s %s\n", k+":", fmt.Sprintf(format, args...)) }
	line("plugin", "%s", in.Path)
	line("kind", "%s", in.Kind)
	line("plugin_type", "%q", in.Type)
	line("plugin_name", "%q", in.Name)
	if in.Version != "" {
		line("plugin_version", "%s (%s)", in.Version, in.VersionNumber)
	} else {
		line("plugin_version", "absent")
	}
	if in.ID != nil {
		line("plugin_id", "%d", *in.ID)
	}
	if in.HashEnable != nil {
		line("hash_enable", "%v", *in.HashEnable)
	}
	line("generation", "%s %s", in.Generation, in.Releases)
	if in.Note != "" {
		line("detection", "%s", in.Note)
	}
	host := in.Host
	if in.HostVersion != "" {
		host = in.HostVersion + " " + host
	}
	line("host library", "%s", host)
	if in.HostCalls != "" {
		line("host calls", "%s", in.HostCalls)
	}
	if in.Sysroot != "" {
		line("sysroot", "%s", in.Sysroot)
	}
	names := make([]string, 0, len(in.Needed))
	for n := range in.Needed {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		where := in.Needed[n]
		if where == "" {
			where = "NOT FOUND"
		}
		line("needs", "%s => %s", n, where)
	}
	line("missing symbols", "%s", orNone(in.Missing))
	if len(in.Extra) > 0 {
		line("foreign symbols", "%s", strings.Join(in.Extra, ", "))
	}
	line("unresolved symbols", "%s", orNone(in.Unresolved))
	if in.WouldLoad {
		line("loads in Slurm", "yes")
	} else {
		line("loads in Slurm", "no")
		for _, r := range in.Reasons {
			fmt.Fprintf(w, "%-22s - %s\n", "", r)
		}
	}
	if l := in.Load; l != nil {
		switch {
		case l.Error != "":
			line("load and init", "FAILED: %s", l.Error)
		case l.Init != nil:
			line("load and init", "init() = %d, errno %d", *l.Init, l.Errno)
		default:
			line("load and init", "loaded (no init)")
		}
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
