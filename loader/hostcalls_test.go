package loader

import (
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
)

// TestReadVerifySignForm reads the Debian host libraries: 22.05.8-4+deb12u3
// carries the replay_okay backport (%r9d set before each of its calls of
// cred_verify_sign), 20.11.4 does not, and 24.11 has no key API at all.
func TestReadVerifySignForm(t *testing.T) {
	for _, tc := range []struct {
		series string
		want   *bool
	}{{"20.11", ptrTo(false)}, {"22.05", ptrTo(true)}, {"24.11", nil}, {"26.05", nil}} {
		t.Run(tc.series, func(t *testing.T) {
			lib := testenv.Plugin(t, tc.series, "libslurmfull.so")
			f, err := ReadVerifySignForm(lib)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if f != nil {
					t.Fatalf("a host without the key API: got %v", f)
				}
				return
			}
			if f == nil {
				t.Fatal("no verify_sign call found")
			}
			t.Log(f)
			if f.Sites < 2 || f.ReplayOkay != *tc.want {
				t.Errorf("replay_okay %v over %d sites (%d set %%r9d), want %v", f.ReplayOkay, f.Sites, f.WithArg6, *tc.want)
			}
		})
	}
}

// TestOpenCallsVerifySignAsTheHost: Debian's 22.05.8 cred/munge has the
// symbols and version of the 5-argument generation, but its host passes
// replay_okay, so Open picks the replay form; 20.11's stays 5-argument.
func TestOpenCallsVerifySignAsTheHost(t *testing.T) {
	for series, want := range map[string]string{"22.05": "cred-key-replay", "20.11": "cred-key"} {
		tg, err := Open(testenv.Plugin(t, series, "cred_munge.so"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tg.Profile.Name != want || tg.VerifySignForm == nil {
			t.Errorf("%s: generation %s (form %v), want %s", series, tg.Profile.Name, tg.VerifySignForm, want)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
