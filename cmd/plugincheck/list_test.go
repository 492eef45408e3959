package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

// docs/clauses.md is generated from the registry; this fails when it was
// not regenerated after a spec changed (go run ./cmd/plugincheck list
// --markdown > docs/clauses.md).
func TestClausesDocIsCurrent(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(t), "docs", "clauses.md")
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != clausesMarkdown() {
		t.Errorf("%s is stale: regenerate it with `go run ./cmd/plugincheck list --markdown > docs/clauses.md`", path)
	}
}
