package worker

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"sync"

	"github.com/plugincheck/plugincheck/loader/internal/hotcall"
	"github.com/plugincheck/plugincheck/loader/internal/spin"
	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

//go:embed *.go
var source embed.FS

// Fingerprint identifies the worker's side of the protocol: the SHA-256 of
// the source of this package and of the packages that carry the worker's
// half (wire, hotcall, spin), and of the layout constants it compiles in.
//
// The parent sends its own in Config and a worker serves only a parent
// with the same: a worker may be a binary of its own
// (cmd/plugincheck-worker, which starts in a third of the time of the
// whole program), and one built from other source would answer a protocol
// it does not speak, or speak it with other layouts, without a word.
var Fingerprint = sync.OnceValue(func() string {
	h := sha256.New()
	for _, src := range []struct {
		name string
		fsys embed.FS
	}{{"worker", source}, {"wire", wire.Source}, {"hotcall", hotcall.Source}, {"spin", spin.Source}} {
		hashTree(h, src.name, src.fsys)
	}
	fmt.Fprintln(h, profile.BufSize, profile.BufOffMagic, profile.BufOffHead, profile.BufOffProcessed,
		profile.BufOffSize, profile.BufOffMmaped, profile.BufMagic, uint64(profile.SlurmAuthUIDAny))
	return hex.EncodeToString(h.Sum(nil))
})

// hashTree adds every file of fsys to h, by name and content, in the
// lexical order fs.WalkDir gives.
func hashTree(h hash.Hash, pkg string, fsys fs.FS) {
	fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s/%s %d\n", pkg, path, len(data))
		h.Write(data)
		return nil
	})
}
