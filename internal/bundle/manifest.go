package bundle

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Entry is one MANIFEST line.
type Entry struct {
	SHA256 string
	Path   string // relative to the bundle, slash separated
}

// listFiles returns every file of dir, relative and sorted, except MANIFEST
// and MANIFEST.sig at the top. Anything but a regular file or a directory
// (a symbolic link, a device) is an error: a bundle holds plain files.
func listFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case rel == ".":
			return nil
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return invalid(rel, "not a regular file (a bundle holds plain files only)")
		case rel == Manifest || rel == Signature:
			return nil
		}
		files = append(files, rel)
		return nil
	})
	sort.Strings(files)
	return files, err
}

// WriteManifest writes dir/MANIFEST: one "<sha256>  <path>" line per file,
// sorted by path, the format sha256sum -c reads. It returns the bytes
// written.
func WriteManifest(dir string) ([]byte, error) {
	files, err := listFiles(dir)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, f := range files {
		if strings.ContainsAny(f, "\n\\") {
			return nil, invalid(f, "file name not allowed in a bundle")
		}
		sum, _, err := FileSHA256(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, f)
	}
	if err := os.WriteFile(filepath.Join(dir, Manifest), b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

var manifestLine = regexp.MustCompile(`^([0-9a-f]{64}) [ *](.+)$`)

// ParseManifest reads MANIFEST's lines. A malformed line, an unsafe path
// or a path listed twice is an *InvalidError naming MANIFEST.
func ParseManifest(data []byte) ([]Entry, error) {
	if len(data) == 0 {
		return nil, invalid(Manifest, "empty")
	}
	if data[len(data)-1] != '\n' {
		return nil, invalid(Manifest, "does not end with a newline (truncated?)")
	}
	var entries []Entry
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		m := manifestLine.FindStringSubmatch(line)
		if m == nil {
			return nil, invalid(Manifest, "line %d is not \"<sha256>  <file>\": %.60q", i+1, line)
		}
		p := m[2]
		if path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
			return nil, invalid(Manifest, "line %d names a file outside the bundle: %q", i+1, p)
		}
		if p == Manifest || p == Signature {
			return nil, invalid(Manifest, "line %d lists %s, which the manifest cannot cover", i+1, p)
		}
		if seen[p] {
			return nil, invalid(Manifest, "line %d lists %s a second time", i+1, p)
		}
		seen[p] = true
		entries = append(entries, Entry{SHA256: m[1], Path: p})
	}
	return entries, nil
}

// checkManifest checks that the files of dir are exactly those MANIFEST
// lists, with those SHA-256 sums, and that every required file is there.
// It returns every problem found, the first being the one to report.
func checkManifest(dir string, data []byte) ([]Entry, []error) {
	entries, err := ParseManifest(data)
	if err != nil {
		return nil, []error{err}
	}
	var problems []error
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.Path] = true
		full := filepath.Join(dir, filepath.FromSlash(e.Path))
		fi, err := os.Lstat(full)
		switch {
		case os.IsNotExist(err):
			problems = append(problems, invalid(e.Path, "listed in MANIFEST but missing"))
			continue
		case err != nil:
			problems = append(problems, invalid(e.Path, "cannot read: %v", err))
			continue
		case !fi.Mode().IsRegular():
			problems = append(problems, invalid(e.Path, "not a regular file"))
			continue
		}
		sum, _, err := FileSHA256(full)
		if err != nil {
			problems = append(problems, invalid(e.Path, "cannot read: %v", err))
			continue
		}
		if sum != e.SHA256 {
			problems = append(problems, invalid(e.Path, "SHA-256 differs from MANIFEST (the file was changed after the bundle was made)"))
		}
	}
	files, err := listFiles(dir)
	if err != nil {
		problems = append(problems, err)
	}
	for _, f := range files {
		if !listed[f] {
			problems = append(problems, invalid(f, "not listed in MANIFEST (added after the bundle was made)"))
		}
	}
	for _, f := range Required {
		if !listed[f] {
			if _, err := os.Lstat(filepath.Join(dir, f)); os.IsNotExist(err) {
				problems = append(problems, invalid(f, "missing: every bundle holds %s", strings.Join(Required, ", ")))
			}
		}
	}
	return entries, problems
}
