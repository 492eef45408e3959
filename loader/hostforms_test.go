package loader

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/internal/testenv"
	"github.com/plugincheck/plugincheck/loader/profile"
)

func TestProtocolArgPosition(t *testing.T) {
	jmpRIP := []byte{0xff, 0x25, 0, 0, 0, 0} // jmp *0(%rip)
	for _, c := range []struct {
		name string
		code []byte
		want int
	}{
		{"movzwl %dx,%edx; jmp *", append([]byte{0x0f, 0xb7, 0xd2}, jmpRIP...), 3},
		{"endbr64; movzwl %cx,%ecx; jmp *", append([]byte{0xf3, 0x0f, 0x1e, 0xfa, 0x0f, 0xb7, 0xc9}, jmpRIP...), 4},
		{"movzwl %dx,%ecx; call *", append([]byte{0x0f, 0xb7, 0xca}, 0xff, 0x15, 0, 0, 0, 0), 4},
		{"direct call only", []byte{0x0f, 0xb7, 0xca, 0xe8, 0, 0, 0, 0, 0xc3}, 0},
		{"no extension", jmpRIP, 0},
		{"garbage", []byte{0x0f, 0xff}, 0},
	} {
		if got := protocolArgPosition(c.code); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// TestHostFormsDebian: Debian's 24.11.5-4+deb13u1 (a backported security
// fix) and 26.05.5 pass sbcast_p_unpack four arguments, and the cred
// plugins are called that way.
func TestHostFormsDebian(t *testing.T) {
	for _, c := range []struct{ release, gen string }{{"24.11.5", "cred-23.11-so"}, {"26.05.5", "cred-23.11-so"}} {
		r := testenv.Pinned(t, c.release)
		target, err := Open(testenv.Need(t, "plugin", filepath.Join(testenv.PluginDir(t, c.release), "cred_none.so")), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if target.Forms.SbcastUnpackArgs != 4 || target.Profile.Name != c.gen {
			r.Errorf("%s: host passes %d arguments to sbcast_p_unpack, generation %s; want 4 and %s",
				c.release, target.Forms.SbcastUnpackArgs, target.Profile.Name, c.gen)
		}
	}
}

// TestFrameworkLookupsDebian: Debian's 20.11.4 framework looks up the
// backported auth_p_get_data beside the slurm_auth_* functions, so the
// upstream 20.11.0–.8 API (auth_good_2011.so) misses it there, as
// slurmctld says at start ("missing symbols"); Debian's own plugins miss
// nothing on their hosts.
func TestFrameworkLookupsDebian(t *testing.T) {
	r := testenv.Pinned(t, "20.11.4")
	dir := testenv.PluginDir(t, "20.11.4")
	lib := filepath.Join(dir, "libslurmfull.so")
	munge, err := Open(testenv.Need(t, "plugin", filepath.Join(dir, "auth_munge.so")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(munge.Host.FrameworkLookups(profile.Auth), " ")
	for _, want := range []string{"auth_p_get_data", "slurm_auth_create", "slurm_auth_verify"} {
		if !strings.Contains(" "+got+" ", " "+want+" ") {
			r.Errorf("20.11.4 framework lookups %q lack %s", got, want)
		}
	}
	if len(munge.Detection.Missing) > 0 {
		r.Errorf("Debian's auth_munge.so misses %v on its own host", munge.Detection.Missing)
	}
	old, err := Open(testenv.Fixture(t, "auth_good_2011.so"), Options{HostOptions: HostOptions{SlurmLib: lib}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(old.Detection.Missing, " ") != "auth_p_get_data" {
		r.Errorf("auth_good_2011.so on 20.11.4 misses %v, want [auth_p_get_data]", old.Detection.Missing)
	}
	if ok, _ := old.LoadVerdict(); ok {
		r.Errorf("auth_good_2011.so loads on Debian's 20.11.4, which refuses it")
	}
}
