package suite_test

import (
	"os"
	"testing"

	"github.com/plugincheck/plugincheck/suite"
)

func TestMain(m *testing.M) {
	suite.ServeWorkerIfRequested()
	os.Exit(m.Run())
}
