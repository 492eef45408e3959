package suite

import (
	"fmt"
	"strings"
	"testing"

	"github.com/plugincheck/plugincheck/loader"
)

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

// TestDiagnose: when most findings share one reason, one line says so and
// what the plugin was given; scattered findings get no diagnosis.
func TestDiagnose(t *testing.T) {
	rs := &runState{cfg: &Config{Env: []string{"BLIND_KEY=/etc/blind.key"}, Daemon: "slurmd"},
		sandbox: &loader.Sandbox{UID: 65534, GID: 65533}, authInfo: "socket=/run/m.sock"}
	same := "create returned NULL, errno 6001"
	s := &Summary{}
	for i, r := range []string{same, same, same, same, same, "other", ""} {
		res := Failed
		if r == "" {
			res = Passed
		}
		s.Clauses = append(s.Clauses, ClauseResult{ID: fmt.Sprint("C", i), Result: res, Reason: r})
	}
	diagnose(rs, s)
	for _, want := range []string{"5 of 6 clauses that did not pass fail the same way: " + same, "uid 65534 gid 65533", "as slurmd",
		`AuthInfo "socket=/run/m.sock"`, "--env BLIND_KEY"} {
		if !strings.Contains(s.Diagnosis, want) {
			t.Errorf("diagnosis %q lacks %q", s.Diagnosis, want)
		}
	}
	s.Clauses[0].Reason, s.Clauses[1].Reason = "a", "b"
	s.Diagnosis = ""
	if diagnose(rs, s); s.Diagnosis != "" {
		t.Errorf("3 of 6 alike gave a diagnosis: %s", s.Diagnosis)
	}
}

func TestReasonOf(t *testing.T) {
	for _, c := range []struct{ msg, want string }{
		{"plain failure", "plain failure"},
		{"Unexpected error:\n    <*errors.errorString | 0xc0001>: \n    no such file\noccurred", "no such file"},
		{"create\nExpected success, but got an error:\n    <*loader.CrashError | 0xc0002>: crashed with SIGSEGV in auth_p_create\n", "create: crashed with SIGSEGV in auth_p_create"},
		{"Expected success, but got an error:", "Expected success, but got an error (no error text)"},
	} {
		if got := reasonOf(c.msg); got != c.want {
			t.Errorf("reasonOf(%q) = %q, want %q", c.msg, got, c.want)
		}
	}
}
