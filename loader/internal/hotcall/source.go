package hotcall

import "embed"

// Source is this package's source, part of the worker's fingerprint
// (worker.Fingerprint).
//
//go:embed *.go *.s *.h
var Source embed.FS
