package suite

import "testing"

func TestErrnoName(t *testing.T) {
	for _, c := range []struct {
		n      int
		series string
		want   string
	}{
		{6001, "22.05", "ESLURM_AUTH_FOPEN_ERROR"},
		{6001, "24.11", "ESLURM_AUTH_EXPIRED"},
		{6001, "23.02", ""},
		{6010, "24.11", ""},
		{6010, "25.11", "ESLURM_AUTH_NOBODY"},
		{5003, "20.11", "ESIG_CRED_REPLAYED"},
		{2, "", "ENOENT"},
		{99999, "26.05", ""},
	} {
		if got := errnoName(c.n, c.series); got != c.want {
			t.Errorf("errnoName(%d, %q) = %q, want %q", c.n, c.series, got, c.want)
		}
	}
}

func TestClipWords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"short", "short"},
		{"changing byte 4 of 93 gives a credential that verifies", "changing byte 4 of 93 …"},
		{"nospacesatallinthisverylongword", "nospacesatallinthisveryl …"},
		{"ééééééééééééééééééééééééé", "éééééééééééé …"},
	} {
		if got := clipWords(c.in, 28); got != c.want || len(got) > 28 {
			t.Errorf("clipWords(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
