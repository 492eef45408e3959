package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/plugincheck/plugincheck/internal/fileinfo"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// Object is what the ELF file of a shared object says, read without running
// any of its code.
type Object struct {
	Path    string
	Class   elf.Class
	Machine elf.Machine
	SONAME  string
	// Needed lists DT_NEEDED in order.
	Needed []string
	// Defined maps every defined dynamic symbol to its entry.
	Defined map[string]elf.Symbol
	// Undefined lists the dynamic symbols the object imports.
	Undefined []elf.Symbol
	// GlibcNeeded is the newest GLIBC_x.y version the object requires, "" if
	// none.
	GlibcNeeded string

	file *elf.File
}

// Plugin is a Slurm plugin as its file describes it.
type Plugin struct {
	*Object
	Type string // plugin_type, e.g. "auth/munge"
	Name string // plugin_name
	// Version is plugin_version decoded; nil when the symbol is absent.
	Version    *profile.Version
	VersionRaw uint32
	// ID is plugin_id (auth plugins); nil when absent.
	ID *uint32
	// HashEnable is hash_enable; nil when absent.
	HashEnable *bool
}

// Kind is the plugin's major type ("auth", "cred", or something else).
func (p *Plugin) Kind() profile.Kind {
	major, _, _ := strings.Cut(p.Type, "/")
	return profile.Kind(major)
}

// Minor is the part of plugin_type after the slash.
func (p *Plugin) Minor() string {
	_, minor, _ := strings.Cut(p.Type, "/")
	return minor
}

// Symbols returns the set of defined dynamic symbol names.
func (o *Object) Symbols() map[string]bool {
	m := make(map[string]bool, len(o.Defined))
	for name := range o.Defined {
		m[name] = true
	}
	return m
}

// InputError is a problem with what the user asked plugincheck to test: the
// file, the host library or the configuration. The CLI prints it as one line
// and exits with status 2.
type InputError struct {
	Path string
	Msg  string
	Hint string
	Err  error
}

func (e *InputError) Error() string {
	msg := e.Msg
	if e.Path != "" {
		msg = e.Path + ": " + msg
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

func inputErr(path, hint, format string, args ...any) *InputError {
	return &InputError{Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// OpenObject reads a 64-bit x86-64 ELF shared object: its headers and the
// sections it needs, never the whole file.
func OpenObject(path string) (*Object, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, inputErr(path, "", "no such file")
	case err != nil:
		return nil, &InputError{Path: path, Msg: err.Error(), Err: err}
	case st.IsDir():
		return nil, inputErr(path, "give the path of a .so file", "is a directory, not a shared object")
	case !st.Mode().IsRegular():
		return nil, notRegular(path, st.Mode())
	case st.Size() == 0:
		return nil, inputErr(path, "", "is an empty file, not an ELF shared object")
	}
	// The file stays open while the Object lives: sections are read when
	// asked for (an *os.File no longer referenced is closed by the runtime).
	f, st, err := fileinfo.OpenRegular(path)
	var nr *fileinfo.NotRegular
	switch {
	case errors.As(err, &nr):
		return nil, notRegular(path, nr.Mode) // replaced since the Stat
	case err != nil:
		return nil, &InputError{Path: path, Msg: err.Error(), Err: err}
	}
	o, err := objectAt(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	return o, nil
}

// notRegular names a file that is not a regular one for what it is.
func notRegular(path string, m os.FileMode) error {
	if m&os.ModeNamedPipe != 0 {
		return inputErr(path, "copy what the pipe carries into a file first", "is a FIFO or pipe, not a shared object")
	}
	return inputErr(path, "plugincheck reads plugins from regular files", "is %s, not a shared object", fileinfo.Kind(m))
}

// Limits on what the ELF reader takes from a file: a section of read-only
// data or of dynamic symbols larger than this is not a Slurm plugin's or
// host library's, and reading it would cost the memory it claims.
const (
	maxSymbolSection = 64 << 20
	maxDataSection   = 256 << 20
	maxSymbolData    = 1 << 20
)

// objectAt reads the ELF object in r (size bytes), recovering any panic of
// debug/elf on a malformed file as an error.
func objectAt(path string, r io.ReaderAt, size int64) (o *Object, err error) {
	defer func() {
		if p := recover(); p != nil {
			o, err = nil, &InputError{Path: path, Msg: fmt.Sprintf("is a corrupt ELF file (the ELF reader failed: %v)", p)}
		}
	}()
	var ident [elf.EI_NIDENT]byte
	if n, _ := r.ReadAt(ident[:], 0); n < 4 || string(ident[:4]) != elf.ELFMAG {
		return nil, inputErr(path, "", "is not an ELF file")
	}
	if elf.Class(ident[elf.EI_CLASS]) == elf.ELFCLASS32 {
		return nil, inputErr(path, "Slurm plugins on this machine are 64-bit x86-64 objects", "is a 32-bit ELF file")
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return nil, &InputError{Path: path, Msg: "is a truncated or corrupt ELF file: " + err.Error(), Err: err}
	}
	if ef.Machine != elf.EM_X86_64 {
		return nil, inputErr(path, "this machine runs x86-64", "is built for %s", strings.TrimPrefix(ef.Machine.String(), "EM_"))
	}
	for _, sec := range ef.Sections {
		if (sec.Type == elf.SHT_DYNSYM || sec.Type == elf.SHT_DYNAMIC || sec.Name == ".dynstr") && sec.Size > maxSymbolSection {
			return nil, inputErr(path, "", "is a corrupt ELF file: section %s claims %d bytes", sec.Name, sec.Size)
		}
		if sec.Type != elf.SHT_NOBITS && sec.Size > 0 && (sec.Size > uint64(size) || sec.Offset > uint64(size)-sec.Size) {
			return nil, inputErr(path, "", "is a truncated or corrupt ELF file: section %s ends past the end of the file", sec.Name)
		}
	}
	if ef.Type == elf.ET_EXEC || isPIE(ef) {
		return nil, inputErr(path, "Slurm loads plugins with dlopen", "is an executable, not a shared object")
	}
	if ef.Type != elf.ET_DYN {
		return nil, inputErr(path, "", "is an ELF %s, not a shared object", strings.TrimPrefix(ef.Type.String(), "ET_"))
	}
	o = &Object{Path: path, Class: ef.Class, Machine: ef.Machine, Defined: map[string]elf.Symbol{}, file: ef}
	if err := o.readDynamic(); err != nil {
		return nil, &InputError{Path: path, Msg: "is a truncated or corrupt ELF file: " + err.Error(), Err: err}
	}
	return o, nil
}

// isPIE reports a position-independent executable: ET_DYN with DF_1_PIE.
func isPIE(f *elf.File) bool {
	flags, err := f.DynValue(elf.DT_FLAGS_1)
	if err != nil {
		return false
	}
	for _, v := range flags {
		if v&uint64(elf.DF_1_PIE) != 0 {
			return true
		}
	}
	return false
}

func (o *Object) readDynamic() error {
	var err error
	if o.Needed, err = o.file.DynString(elf.DT_NEEDED); err != nil {
		return fmt.Errorf("dynamic section: %w", err)
	}
	if names, _ := o.file.DynString(elf.DT_SONAME); len(names) > 0 {
		o.SONAME = names[0]
	}
	syms, err := o.file.DynamicSymbols()
	if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		return fmt.Errorf("dynamic symbols: %w", err)
	}
	for _, s := range syms {
		if s.Name == "" {
			continue
		}
		if s.Section == elf.SHN_UNDEF {
			o.Undefined = append(o.Undefined, s)
			continue
		}
		if bind := elf.ST_BIND(s.Info); bind == elf.STB_GLOBAL || bind == elf.STB_WEAK || bind == stbGNUUnique {
			o.Defined[s.Name] = s
		}
	}
	if needs, err := o.file.DynamicVersionNeeds(); err == nil {
		for _, n := range needs {
			for _, v := range n.Needs {
				if strings.HasPrefix(v.Dep, "GLIBC_2.") && glibcLess(o.GlibcNeeded, v.Dep) {
					o.GlibcNeeded = v.Dep
				}
			}
		}
	}
	return nil
}

// glibcLess orders "GLIBC_2.34" < "GLIBC_2.38"; "" is the least.
func glibcLess(a, b string) bool {
	if a == "" {
		return b != ""
	}
	var am, an, bm, bn int
	fmt.Sscanf(strings.TrimPrefix(a, "GLIBC_"), "%d.%d", &am, &an)
	fmt.Sscanf(strings.TrimPrefix(b, "GLIBC_"), "%d.%d", &bm, &bn)
	return am < bm || am == bm && an < bn
}

// Data returns the bytes of a defined data symbol, read from its section
// (zeros for .bss). n caps the length when the symbol has no size.
func (o *Object) Data(name string, n int) (data []byte, ok bool) {
	defer func() {
		if recover() != nil {
			data, ok = nil, false
		}
	}()
	s, ok := o.Defined[name]
	if !ok || int(s.Section) >= len(o.file.Sections) || s.Section >= elf.SHN_LORESERVE || s.Size > maxSymbolData {
		return nil, false
	}
	size := int(s.Size)
	if size == 0 {
		size = n
	}
	sec := o.file.Sections[s.Section]
	if s.Value < sec.Addr || s.Value-sec.Addr+uint64(size) > sec.Size {
		return nil, false
	}
	if sec.Type == elf.SHT_NOBITS {
		return make([]byte, size), true
	}
	buf := make([]byte, size)
	if _, err := sec.ReadAt(buf, int64(s.Value-sec.Addr)); err != nil {
		return nil, false
	}
	return buf, true
}

func (o *Object) cString(name string) (string, bool) {
	b, ok := o.Data(name, 256)
	if !ok {
		return "", false
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b), true
}

func (o *Object) uint32Data(name string) (uint32, bool) {
	b, ok := o.Data(name, 4)
	if !ok || len(b) < 4 {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

// InspectPlugin reads a Slurm auth or cred plugin's file. It fails with an
// *InputError when the file is not one.
func InspectPlugin(path string) (*Plugin, error) {
	o, err := OpenObject(path)
	if err != nil {
		return nil, err
	}
	return pluginOf(o)
}

// pluginOf reads what a Slurm plugin's object says about the plugin.
func pluginOf(o *Object) (*Plugin, error) {
	path := o.Path
	p := &Plugin{Object: o}
	typ, ok := o.cString("plugin_type")
	if !ok {
		return nil, inputErr(path, "a Slurm plugin exports plugin_type", "is a shared object but not a Slurm plugin")
	}
	p.Type = typ
	switch p.Kind() {
	case profile.Auth, profile.Cred:
	default:
		return nil, inputErr(path, "plugincheck tests auth and cred plugins",
			"is a Slurm %q plugin (plugin_type %q), not an auth or cred plugin", p.Kind(), typ)
	}
	p.Name, _ = o.cString("plugin_name")
	if raw, ok := o.uint32Data("plugin_version"); ok {
		ver := profile.VersionFromNumber(raw)
		p.Version, p.VersionRaw = &ver, raw
	}
	if id, ok := o.uint32Data("plugin_id"); ok {
		p.ID = &id
	}
	if b, ok := o.Data("hash_enable", 1); ok && len(b) > 0 {
		h := b[0] != 0
		p.HashEnable = &h
	}
	return p, nil
}

var releaseString = regexp.MustCompile(`^([0-9]{2})\.([0-9]{2})\.([0-9]{1,3})$`)

// releaseStrings returns every NUL-terminated string of read-only data that
// looks like a Slurm release ("22.05.8").
func (o *Object) releaseStrings() []string {
	return o.rodataStrings(releaseString.Match)
}

// rodataStrings returns every NUL-terminated string of read-only data that
// keep accepts.
func (o *Object) rodataStrings(keep func([]byte) bool) []string {
	var out []string
	defer func() { recover() }() // a malformed section: no strings
	sec := o.file.Section(".rodata")
	if sec == nil || sec.Type == elf.SHT_NOBITS || sec.Size > maxDataSection {
		return nil
	}
	data, err := sec.Data()
	if err != nil {
		return nil
	}
	for _, s := range bytes.Split(data, []byte{0}) {
		if keep(s) {
			out = append(out, string(s))
		}
	}
	return out
}

// stbGNUUnique is STB_GNU_UNIQUE, which debug/elf does not name.
const stbGNUUnique = elf.SymBind(10)
