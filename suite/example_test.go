package suite_test

import (
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// TestLibraryMode is what a plugin author writes in their own repository:
// the whole suite, as Ginkgo specs, from `go test`. (Their TestMain must call
// suite.ServeWorkerIfRequested first, as main_test.go here does.)
func TestLibraryMode(t *testing.T) {
	t.Parallel()
	sum := suite.Test(t, suite.Config{
		Plugin:  testenv.Fixture(t, "auth_good_2205.so"),
		Loader:  loader.Options{HostOptions: loader.HostOptions{SlurmLib: testenv.Plugin(t, "22.05", "libslurmfull.so")}},
		AuthTTL: 1,
	})
	if !sum.Conformant {
		t.Errorf("the good fixture is not conformant: %s", sum.Verdict)
	}
}
