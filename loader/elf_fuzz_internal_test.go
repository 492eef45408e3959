package loader

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzInspect feeds the ELF reader mutations of the real plugins: whatever
// the bytes, it returns an object or an *InputError, and never panics or
// reads past what the file holds. Seeds: every auth and cred plugin of the
// Slurm cache and the fixtures, when they are there.
func FuzzInspect(f *testing.F) {
	for _, pattern := range seedPatterns() {
		paths, _ := filepath.Glob(pattern)
		for _, p := range paths {
			if data, err := os.ReadFile(p); err == nil && len(data) < 4<<20 {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := objectAt("fuzz.so", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error of type %T, want *InputError: %v", err, err)
			}
			return
		}
		p, err := pluginOf(o)
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error of type %T, want *InputError: %v", err, err)
			}
		} else if p.Type == "" {
			t.Fatal("a plugin without plugin_type")
		}
		o.releaseStrings()
		for name := range o.Defined {
			o.Data(name, 8)
		}
	})
}

// seedPatterns are where real plugins may be: the Slurm cache and the
// fixtures, as the other tests find them.
func seedPatterns() []string {
	cache := os.Getenv("PLUGINCHECK_SLURM_CACHE")
	if cache == "" {
		cache = filepath.Join("..", ".cache", "slurm")
	}
	fixtures := os.Getenv("PLUGINCHECK_FIXTURES")
	if fixtures == "" {
		fixtures = filepath.Join("..", "fixtures", "build")
	}
	var out []string
	for _, kind := range []string{"auth_*.so", "cred_*.so"} {
		out = append(out, filepath.Join(cache, "*", "usr", "lib", "*", "slurm-wlm", kind), filepath.Join(fixtures, kind))
	}
	return out
}
