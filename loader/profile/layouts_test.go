package profile

import "testing"

// Offsets worked out by hand from the x86-64 rules for the tags' typedefs.
func TestCredLayouts(t *testing.T) {
	a := CredABIFor(v(24, 11, 5))
	if a == nil {
		t.Fatal("no cred layout for 24.11.5")
	}
	for _, c := range []struct {
		l    *Layout
		name string
		off  int
	}{
		{a.Cred, "buffer", 64}, {a.Cred, "sig_offset", 72}, {a.Cred, "arg", 80}, {a.Cred, "signature", 96}, {a.Cred, "verified", 104},
		{a.Arg, "step_id.job_id", 8}, {a.Arg, "uid", 24}, {a.Arg, "id", 32}, {a.Arg, "core_array_size", 40},
		{a.Identity, "ngids", 40}, {a.Identity, "gids", 48}, {a.Identity, "fake", 64},
		{a.SbcastArg, "id", 16}, {a.Sbcast, "arg.nodes", 40}, {a.Sbcast, "buffer", 48},
		{CredABIFor(v(23, 11, 11)).Arg, "uid", 12}, {CredABIFor(v(23, 11, 11)).Arg, "id", 24},
		{CredABIFor(v(25, 11, 7)).SbcastArg, "het_job_id", 24}, {CredABIFor(v(25, 11, 7)).Sbcast, "arg.nodes", 56},
	} {
		if got, ok := c.l.Offset(c.name); !ok || got != c.off {
			t.Errorf("%s.%s at %d (%v), want %d", c.l.Name, c.name, got, ok, c.off)
		}
	}
	if a.Cred.Size() != 112 || a.Identity.Size() != 72 {
		t.Errorf("sizeof slurm_cred_t %d, identity_t %d", a.Cred.Size(), a.Identity.Size())
	}
	old, new := CredABIFor(v(25, 11, 7)).Arg, CredABIFor(v(26, 5, 5)).Arg
	if d := new.MustOffset("job_std_out") - old.MustOffset("job_std_out"); d != 16 || new.Has("job_qos") == old.Has("job_qos") {
		t.Errorf("26.05 adds job_exclusive and job_qos: job_std_out moved by %d", d)
	}
	if CredABIFor(v(23, 2, 8)) != nil {
		t.Error("23.02 has the key API, no cred structures")
	}
}
