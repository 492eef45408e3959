package suite_test

import (
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/suite"
)

// TestRootOnlyKeys: key files only root may read (owner root, mode 0600),
// given as --private-key/--public-key, as AuthInfo key= and as a path in
// the plugin's environment, work as they do for a daemon running as root,
// while the identity clauses still see the unprivileged worker uid.
func TestRootOnlyKeys(t *testing.T) {
	t.Parallel()
	key := testenv.RootOnlyKey(t)
	host := loader.HostOptions{SlurmLib: testenv.Plugin(t, "22.05", "libslurmfull.so")}
	run := func(t *testing.T, cfg suite.Config, filter string) {
		cfg.Loader.HostOptions = host
		s, err := suite.Run(cfg, suite.RunOptions{NoColor: true, Quiet: true, LabelFilter: filter})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range s.Clauses {
			if c.Result != suite.Passed && c.Result != suite.NotTested {
				t.Errorf("%s %s: %s", c.ID, c.Result, c.Reason)
			}
			if c.Result != suite.NotTested {
				t.Logf("%s %s (%d specs)", c.ID, c.Result, len(c.Specs))
			}
		}
		if s.Counts.Passed == 0 {
			t.Error("nothing passed")
		}
	}
	authSpecs := "AUTH-VERIFY || AUTH-IDS"
	t.Run("AuthInfo key=", func(t *testing.T) {
		run(t, suite.Config{Plugin: testenv.Fixture(t, "auth_good_2205.so"), AuthInfo: "key=" + key}, authSpecs)
	})
	t.Run("environment", func(t *testing.T) {
		run(t, suite.Config{Plugin: testenv.Fixture(t, "auth_good_2205.so"), Env: []string{"SLURM_AUTH_GOOD_KEY=" + key}}, authSpecs)
	})
	t.Run("--private-key", func(t *testing.T) {
		run(t, suite.Config{Plugin: testenv.Fixture(t, "cred_good_key.so"), PrivateKey: key, PublicKey: key,
			Loader: loader.Options{Generation: keyFormGeneration}}, "CRED-KEY || CRED-VERIFY")
	})
}
