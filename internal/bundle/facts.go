package bundle

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/loader"
)

// PluginInfo is plugin.json: which file was certified, and with what host.
type PluginInfo struct {
	Path    string `json:"path"`
	File    string `json:"file"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	BuildID string `json:"build_id"`
	Kind    string `json:"kind"`
	Type    string `json:"plugin_type"`
	Name    string `json:"plugin_name"`
	Version string `json:"plugin_version,omitempty"`
	// Generation is the API generation the run used; DetectedGeneration
	// the one detected from the file (they differ only with --generation).
	Generation         string       `json:"generation"`
	DetectedGeneration string       `json:"detected_generation"`
	Host               HostInfo     `json:"host"`
	Sysroot            *SysrootInfo `json:"sysroot,omitempty"`
}

// HostInfo is the Slurm build that loaded the plugin.
type HostInfo struct {
	Library      string `json:"library"`
	SHA256       string `json:"sha256"`
	SlurmVersion string `json:"slurm_version,omitempty"`
}

// SysrootInfo is the C library the plugin ran on when not the machine's.
type SysrootInfo struct {
	Root  string `json:"root"`
	Glibc string `json:"glibc"`
}

// DescribePlugin gathers plugin.json's facts about an opened target.
func DescribePlugin(t *loader.Target) (*PluginInfo, error) {
	p := t.Plugin
	abs, err := filepath.Abs(p.Path)
	if err != nil {
		return nil, err
	}
	info := &PluginInfo{Path: abs, File: filepath.Base(abs), Kind: string(p.Kind()), Type: p.Type, Name: p.Name}
	if info.SHA256, info.Size, err = FileSHA256(abs); err != nil {
		return nil, err
	}
	if info.BuildID, err = BuildID(abs); err != nil {
		return nil, err
	}
	if p.Version != nil {
		info.Version = p.Version.String()
	}
	if t.Profile != nil {
		info.Generation = t.Profile.Name
	}
	if t.Detection != nil && t.Detection.Profile != nil {
		info.DetectedGeneration = t.Detection.Profile.Name
	}
	if h := t.Host; h != nil {
		if h.Lib != nil {
			if info.Host.Library, err = filepath.Abs(h.Lib.Path); err != nil {
				return nil, err
			}
			if info.Host.SHA256, _, err = FileSHA256(info.Host.Library); err != nil {
				return nil, err
			}
		}
		if h.Version != nil {
			info.Host.SlurmVersion = h.Version.String()
		}
		if h.Sysroot != nil {
			info.Sysroot = &SysrootInfo{Root: h.Sysroot.Root, Glibc: h.Sysroot.Glibc}
		}
	}
	return info, nil
}

// BuildID is the hex NT_GNU_BUILD_ID of an ELF file, "" when it has none.
func BuildID(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var notes [][]byte
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			if data, err := s.Data(); err == nil {
				notes = append(notes, data)
			}
		}
	}
	if len(notes) == 0 { // stripped of section headers: use the segments
		for _, p := range f.Progs {
			if p.Type == elf.PT_NOTE {
				data := make([]byte, p.Filesz)
				if _, err := p.ReadAt(data, 0); err == nil {
					notes = append(notes, data)
				}
			}
		}
	}
	for _, data := range notes {
		if id := findBuildID(data, f.ByteOrder); id != "" {
			return id, nil
		}
	}
	return "", nil
}

// findBuildID walks the notes of one note section or segment.
func findBuildID(data []byte, bo interface{ Uint32([]byte) uint32 }) string {
	const ntGNUBuildID = 3
	align := func(n uint32) uint32 { return (n + 3) &^ 3 }
	for len(data) >= 12 {
		namesz, descsz, typ := bo.Uint32(data[0:]), bo.Uint32(data[4:]), bo.Uint32(data[8:])
		data = data[12:]
		if uint64(align(namesz))+uint64(align(descsz)) > uint64(len(data)) {
			return ""
		}
		name := data[:namesz]
		desc := data[align(namesz) : align(namesz)+descsz]
		if typ == ntGNUBuildID && string(bytes.TrimRight(name, "\x00")) == "GNU" {
			return hex.EncodeToString(desc)
		}
		data = data[align(namesz)+align(descsz):]
	}
	return ""
}

// Environment is environment.json: what made the bundle and where.
type Environment struct {
	BundleFormat  int      `json:"bundle_format"`
	Plugincheck   string   `json:"plugincheck_version"`
	VCSRevision   string   `json:"vcs_revision,omitempty"`
	VCSTime       string   `json:"vcs_time,omitempty"`
	VCSModified   bool     `json:"vcs_modified,omitempty"`
	SummarySchema int      `json:"summary_schema"`
	GoVersion     string   `json:"go_version"`
	OS            string   `json:"os"`
	Kernel        string   `json:"kernel"`
	Arch          string   `json:"arch"`
	Libc          string   `json:"libc"`
	Munge         string   `json:"munge,omitempty"`
	Uid           int      `json:"uid"`
	Command       []string `json:"command"`
	// RunArgs are the settings the certified run was made with: the
	// arguments of `plugincheck run` after the plugin, without the report
	// paths. verify --rerun runs them again.
	RunArgs    []string `json:"run_args,omitempty"`
	Started    string   `json:"started"`
	Finished   string   `json:"finished"`
	SigningKey string   `json:"signing_key,omitempty"`
}

// CollectEnvironment gathers the machine facts of environment.json. The
// caller fills in Command, Started, Finished and SigningKey.
func CollectEnvironment(summarySchema int, withMunge bool, mungedPath string) *Environment {
	e := &Environment{
		BundleFormat: Format, Plugincheck: ToolVersion(), SummarySchema: summarySchema,
		VCSRevision: buildSetting("vcs.revision"), VCSTime: buildSetting("vcs.time"),
		VCSModified: buildSetting("vcs.modified") == "true",
		GoVersion:   runtime.Version(), Arch: runtime.GOOS + "/" + runtime.GOARCH,
		OS: osRelease("/etc/os-release"), Kernel: kernel(), Libc: libcVersion(), Uid: os.Getuid(),
	}
	if withMunge {
		e.Munge = commandLine(mungedPath, "--version")
		if e.Munge == "" {
			e.Munge = "unknown (" + mungedPath + " --version failed)"
		}
	}
	return e
}

// osRelease is PRETTY_NAME of os-release(5).
func osRelease(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return runtime.GOOS
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"'`)
		}
	}
	return runtime.GOOS
}

func kernel() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	str := func(b [65]int8) string {
		var s []byte
		for _, c := range b {
			if c == 0 {
				break
			}
			s = append(s, byte(c))
		}
		return string(s)
	}
	return strings.Join([]string{str(u.Sysname), str(u.Release), str(u.Version), str(u.Machine)}, " ")
}

var lddLine = regexp.MustCompile(`^ldd \((.*)\) (\S+)$`)

// libcVersion is the machine's C library: ldd --version's first line
// (gnu_get_libc_version cannot be called without cgo), else the newest
// GLIBC_ version libc.so.6 defines.
func libcVersion() string {
	if line := commandLine("ldd", "--version"); line != "" {
		if m := lddLine.FindStringSubmatch(line); m != nil {
			return "glibc " + m[2] + " (" + m[1] + ")"
		}
		return line
	}
	for _, dir := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"} {
		if v := loader.GlibcVersion(filepath.Join(dir, "libc.so.6")); v != "" {
			return "glibc " + strings.TrimPrefix(v, "GLIBC_") + " (from libc.so.6's version definitions)"
		}
	}
	return "unknown"
}

// semverOf turns "GLIBC_2.36" into "v2.36.0" for comparison.
func semverOf(glibc string) string {
	v := strings.TrimPrefix(glibc, "GLIBC_")
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return "v" + v
}

// commandLine runs a command briefly and returns the first non-empty line
// of its output, "" when it fails.
func commandLine(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return ""
	}
	if err != nil && len(out) == 0 {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}
