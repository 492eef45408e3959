package loader

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/plugincheck/plugincheck/loader/profile"
)

// HostLibName is the library whose symbols a plugin resolves at load time.
const HostLibName = "libslurmfull.so"

// hostDirs are where distributions and `make install` put libslurmfull.so.
var hostDirs = []string{
	"/usr/lib/x86_64-linux-gnu/slurm-wlm",
	"/usr/lib/x86_64-linux-gnu/slurm",
	"/usr/lib64/slurm",
	"/usr/lib/slurm",
	"/usr/local/lib/slurm",
	"/usr/local/lib64/slurm",
	"/opt/slurm/lib/slurm",
	"/opt/slurm/lib64/slurm",
}

// systemLibDirs are the machine's own library directories.
var systemLibDirs = []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// Host is a Slurm build able to load a plugin: its libslurmfull.so, its
// release, and the C library the worker runs on.
type Host struct {
	Lib *Object
	// Version is the host's release, read from its read-only data; nil when
	// it could not be read.
	Version *profile.Version
	// Sysroot is set when the plugin needs a newer C library than the
	// machine's.
	Sysroot *Sysroot
	// LibraryPath is searched for DT_NEEDED libraries, in order.
	LibraryPath []string
}

// Sysroot is a directory tree with its own C library and dynamic loader.
type Sysroot struct {
	Root    string
	Loader  string   // ld-linux-x86-64.so.2 inside Root
	LibDirs []string // its library directories
	Glibc   string   // newest GLIBC_ version its libc defines
}

// HostOptions say where to look for the host; zero values mean "find it".
type HostOptions struct {
	SlurmLib    string   // path of libslurmfull.so, or a directory holding it
	Sysroot     string   // root of a newer C library
	LibraryPath []string // extra directories for DT_NEEDED libraries
}

// FindHost locates the host library for p and the C library to run it on.
func FindHost(p *Plugin, opts HostOptions) (*Host, error) {
	lib, err := findHostLib(p, opts.SlurmLib)
	if err != nil {
		return nil, err
	}
	obj, err := OpenObject(lib)
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			ie.Msg = "host library " + ie.Msg
		}
		return nil, err
	}
	if _, ok := obj.Defined["slurm_xcalloc"]; !ok {
		return nil, inputErr(lib, "give --slurm-lib the libslurmfull.so of the Slurm the plugin was built for",
			"is not a Slurm host library (it does not export slurm_xcalloc)")
	}
	h := &Host{Lib: obj}
	if rs := obj.releaseStrings(); len(rs) > 0 {
		if ver, err := profile.ParseVersion(rs[0]); err == nil {
			h.Version = &ver
		}
	}
	if h.Sysroot, err = chooseSysroot(p, obj, opts.Sysroot); err != nil {
		return nil, err
	}
	h.LibraryPath = h.searchPath(p, opts.LibraryPath)
	return h, nil
}

func findHostLib(p *Plugin, explicit string) (string, error) {
	if explicit != "" {
		if st, err := os.Stat(explicit); err == nil && st.IsDir() {
			explicit = filepath.Join(explicit, HostLibName)
		}
		if _, err := os.Stat(explicit); err != nil {
			return "", inputErr(explicit, "", "host library not found")
		}
		return filepath.Abs(explicit)
	}
	dirs := append([]string{filepath.Dir(p.Path)}, hostDirs...)
	for _, d := range dirs {
		cand := filepath.Join(d, HostLibName)
		if _, err := os.Stat(cand); err == nil {
			return filepath.Abs(cand)
		}
	}
	return "", inputErr(p.Path, "give its path with --slurm-lib",
		"no host library: %s is neither next to the plugin nor in %s", HostLibName, strings.Join(hostDirs, ", "))
}

// searchPath lists where the dynamic linker should find the plugin's and
// the host's DT_NEEDED libraries: beside each, the library directory above
// each (a plugin in <root>/usr/lib/<triplet>/slurm-wlm finds its libraries in
// <root>/usr/lib/<triplet>), the user's directories, then the C library's.
func (h *Host) searchPath(p *Plugin, extra []string) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(ds ...string) {
		for _, d := range ds {
			if abs, err := filepath.Abs(d); err == nil && !seen[abs] {
				if st, err := os.Stat(abs); err == nil && st.IsDir() {
					seen[abs] = true
					dirs = append(dirs, abs)
				}
			}
		}
	}
	add(filepath.Dir(p.Path), filepath.Dir(filepath.Dir(p.Path)))
	add(filepath.Dir(h.Lib.Path), filepath.Dir(filepath.Dir(h.Lib.Path)))
	add(extra...)
	if h.Sysroot != nil {
		add(h.Sysroot.LibDirs...)
	} else {
		add(systemLibDirs...)
	}
	return dirs
}

// systemGlibc is the newest GLIBC_ version the machine's C library defines.
func systemGlibc() string {
	for _, d := range systemLibDirs {
		if v := glibcProvided(filepath.Join(d, "libc.so.6")); v != "" {
			return v
		}
	}
	return ""
}

// GlibcVersion is the newest GLIBC_2.x version the C library at path
// defines ("GLIBC_2.36"), "" when it is not one.
func GlibcVersion(path string) string { return glibcProvided(path) }

func glibcProvided(libc string) string {
	f, err := elf.Open(libc)
	if err != nil {
		return ""
	}
	defer f.Close()
	vers, err := f.DynamicVersions()
	if err != nil {
		return ""
	}
	newest := ""
	for _, v := range vers {
		if strings.HasPrefix(v.Name, "GLIBC_2.") && glibcLess(newest, v.Name) {
			newest = v.Name
		}
	}
	return newest
}

// chooseSysroot decides whether the worker needs another C library: when
// the plugin or host requires a newer GLIBC_ version than the machine has,
// it uses the explicit sysroot or finds one in a directory above the host
// library (a Debian package tree unpacked with its libc6).
func chooseSysroot(p *Plugin, hostLib *Object, explicit string) (*Sysroot, error) {
	need := p.GlibcNeeded
	if glibcLess(need, hostLib.GlibcNeeded) {
		need = hostLib.GlibcNeeded
	}
	if explicit != "" {
		sr, err := openSysroot(explicit)
		if err != nil {
			return nil, err
		}
		if need != "" && glibcLess(sr.Glibc, need) {
			return nil, inputErr(explicit, "", "sysroot C library provides up to %s but the plugin needs %s", sr.Glibc, need)
		}
		return sr, nil
	}
	have := systemGlibc()
	if need == "" || !glibcLess(have, need) {
		return nil, nil
	}
	for dir := filepath.Dir(hostLib.Path); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if sr, err := openSysroot(dir); err == nil && !glibcLess(sr.Glibc, need) {
			// <root>/usr looks like a root too (usr/lib/<triplet>); name the
			// tree itself.
			if filepath.Base(dir) == "usr" {
				if up, err := openSysroot(filepath.Dir(dir)); err == nil && up.Glibc == sr.Glibc {
					return up, nil
				}
			}
			return sr, nil
		}
	}
	return nil, inputErr(p.Path, "give --sysroot DIR with a newer C library, e.g. one unpacked from the distribution that built the plugin",
		"needs %s but this machine's C library provides up to %s", need, have)
}

func openSysroot(root string) (*Sysroot, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	sr := &Sysroot{Root: root}
	for _, d := range []string{"usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib64", "lib64"} {
		dir := filepath.Join(root, d)
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			sr.LibDirs = append(sr.LibDirs, dir)
		}
		if sr.Loader == "" {
			if ld := filepath.Join(dir, "ld-linux-x86-64.so.2"); fileExists(ld) {
				sr.Loader = ld
			}
		}
		if sr.Glibc == "" {
			sr.Glibc = glibcProvided(filepath.Join(dir, "libc.so.6"))
		}
	}
	if sr.Loader == "" || sr.Glibc == "" {
		return nil, inputErr(root, "a sysroot holds lib/x86_64-linux-gnu/libc.so.6 and ld-linux-x86-64.so.2", "is not a usable sysroot")
	}
	return sr, nil
}

func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir()
}

// Linkage is how the plugin's dynamic dependencies resolve on this host.
type Linkage struct {
	// Needed maps each DT_NEEDED name (the plugin's and, transitively, its
	// libraries') to the file that provides it, "" when none does.
	Needed map[string]string
	// MissingLibs lists the plugin's DT_NEEDED libraries that were not found.
	MissingLibs []string
	// Unresolved lists undefined, non-weak symbols of the plugin that no
	// object in the load scope defines ("name" or "name@VERSION").
	Unresolved []string
}

// Link resolves, without loading anything, the plugin's DT_NEEDED
// libraries and its undefined symbols against the scope Slurm gives it: the
// host library and its dependencies, then the plugin's own dependencies.
func (h *Host) Link(p *Plugin) *Linkage {
	l := &Linkage{Needed: map[string]string{}}
	var scope []*Object
	var visit func(o *Object, top bool)
	visit = func(o *Object, top bool) {
		scope = append(scope, o)
		for _, name := range o.Needed {
			if _, done := l.Needed[name]; done {
				continue
			}
			path := h.findLib(name)
			l.Needed[name] = path
			if path == "" {
				if top {
					l.MissingLibs = append(l.MissingLibs, name)
				}
				continue
			}
			if dep, err := OpenObject(path); err == nil {
				visit(dep, false)
			}
		}
	}
	visit(h.Lib, false)
	visit(p.Object, true)
	for _, u := range p.Undefined {
		if elf.ST_BIND(u.Info) == elf.STB_WEAK || defines(scope, u) {
			continue
		}
		name := u.Name
		if u.Version != "" {
			name += "@" + u.Version
		}
		l.Unresolved = append(l.Unresolved, name)
	}
	sort.Strings(l.Unresolved)
	return l
}

func defines(scope []*Object, u elf.Symbol) bool {
	for _, o := range scope {
		if d, ok := o.Defined[u.Name]; ok && (u.Version == "" || d.Version == "" || d.Version == u.Version) {
			return true
		}
	}
	return false
}

func (h *Host) findLib(name string) string {
	if strings.Contains(name, "/") {
		if fileExists(name) {
			return name
		}
		return ""
	}
	for _, d := range h.LibraryPath {
		if p := filepath.Join(d, name); fileExists(p) {
			return p
		}
	}
	return ""
}

// Describe is "22.05.8 (/path/libslurmfull.so)".
func (h *Host) Describe() string {
	ver := "unknown release"
	if h.Version != nil {
		ver = h.Version.String()
	}
	s := fmt.Sprintf("%s (%s)", ver, h.Lib.Path)
	if h.Sysroot != nil {
		s += fmt.Sprintf(", sysroot %s with %s", h.Sysroot.Root, h.Sysroot.Glibc)
	}
	return s
}
