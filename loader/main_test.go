package loader_test

import (
	"os"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
)

func TestMain(m *testing.M) {
	loader.ServeWorkerIfRequested()
	os.Exit(m.Run())
}

var (
	generations = testenv.Releases
	pluginDir   = testenv.PluginDir
	realPlugin  = testenv.Plugin
	fixture     = func(t testing.TB, name string) string { return testenv.Fixture(t, name) }
)
