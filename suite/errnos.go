package suite

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/plugincheck/plugincheck/loader"
)

// slurmErrno is a name of slurm_errno.h for the releases that have it (a
// number can change name: 6001 was ESLURM_AUTH_FOPEN_ERROR up to 22.05
// and is ESLURM_AUTH_EXPIRED from 24.11).
type slurmErrno struct {
	value    int
	name     string
	from, to string // release series, inclusive; "" is open
}

// slurmErrnos are the values auth and cred plugins produce, printed from
// each tag's slurm/slurm_errno.h; ESIG_* are cred/munge's and cred/none's
// own (cred_munge.c, cred_none.c).
var slurmErrnos = []slurmErrno{
	{1005, "SLURM_PROTOCOL_VERSION_ERROR", "", ""},
	{1007, "SLURM_PROTOCOL_AUTHENTICATION_ERROR", "", ""},
	{2010, "ESLURM_USER_ID_MISSING", "", ""},
	{2026, "ESLURM_INVALID_JOB_CREDENTIAL", "", ""},
	{4004, "ESLURMD_INVALID_JOB_CREDENTIAL", "", ""},
	{4007, "ESLURMD_CREDENTIAL_EXPIRED", "", ""},
	{4008, "ESLURMD_CREDENTIAL_REVOKED", "", ""},
	{4009, "ESLURMD_CREDENTIAL_REPLAYED", "", ""},
	{5000, "ESIG_BUF_DATA_MISMATCH", "", ""},
	{5001, "ESIG_BUF_SIZE_MISMATCH", "", ""},
	{5002, "ESIG_BAD_USERID", "", ""},
	{5003, "ESIG_CRED_REPLAYED", "", ""},
	{6000, "ESLURM_AUTH_CRED_INVALID", "", ""},
	{6001, "ESLURM_AUTH_FOPEN_ERROR", "", "22.05"},
	{6001, "ESLURM_AUTH_EXPIRED", "24.11", ""},
	{6002, "ESLURM_AUTH_NET_ERROR", "", "22.05"},
	{6003, "ESLURM_AUTH_UNABLE_TO_SIGN", "", "22.05"},
	{6004, "ESLURM_AUTH_BADARG", "", ""},
	{6005, "ESLURM_AUTH_MEMORY", "", "22.05"},
	{6006, "ESLURM_AUTH_INVALID", "", "22.05"},
	{6007, "ESLURM_AUTH_UNPACK", "", ""},
	{6008, "ESLURM_AUTH_SKIP", "20.11", ""},
	{6009, "ESLURM_AUTH_UNABLE_TO_GENERATE_TOKEN", "23.02", ""},
	{6010, "ESLURM_AUTH_NOBODY", "25.11", ""},
	{6011, "ESLURM_AUTH_SOCKET_INVALID_PEER", "25.11", ""},
}

// errnoName is the symbolic name of errno value n on a host of the given
// release series ("" when unknown): libc's below 1000, Slurm's above.
func errnoName(n int, series string) string {
	if n > 0 && n < 1000 {
		return unix.ErrnoName(unix.Errno(n))
	}
	for _, e := range slurmErrnos {
		if e.value == n && (e.from == "" || series >= e.from) && (e.to == "" || series <= e.to) {
			return e.name
		}
	}
	return ""
}

var errnoInText = regexp.MustCompile(`errno (-?\d+)\b`)

// describeErrnos rewrites every "errno N" in the summary's reasons as
// "errno N NAME (description)": the name from slurm_errno.h or libc, the
// description from the host's own slurm_strerror, asked in a worker. A
// bare number sends a plugin author to the headers; this does not.
func describeErrnos(rs *runState, s *Summary) {
	seen := map[int]bool{}
	var texts []*string
	for i := range s.Clauses {
		c := &s.Clauses[i]
		texts = append(texts, &c.Reason)
		for j := range c.Specs {
			texts = append(texts, &c.Specs[j].Reason)
		}
	}
	for _, t := range texts {
		for _, m := range errnoInText.FindAllStringSubmatch(*t, -1) {
			if n, err := strconv.Atoi(m[1]); err == nil && n != 0 {
				seen[n] = true
			}
		}
	}
	if len(seen) == 0 {
		return
	}
	series := ""
	if v := rs.target.Host.Version; v != nil {
		series = v.Series()
	}
	described := map[int]string{}
	w, err := rs.sandbox.Start(context.Background())
	if err != nil {
		w = nil // names only
	} else {
		defer w.Close()
	}
	for n := range seen {
		var parts []string
		if name := errnoName(n, series); name != "" {
			parts = append(parts, name)
		}
		if w != nil {
			if r, err := w.Call("slurm_strerror", loader.Int(int64(n))); err == nil && r.Ptr() != 0 {
				if text, ok, _ := w.CStringAt(r.Ptr(), 256); ok && text != "" && text != "Unknown error "+strconv.Itoa(n) {
					parts = append(parts, fmt.Sprintf("%q", text))
				}
			}
		}
		if len(parts) > 0 {
			described[n] = fmt.Sprintf("errno %d %s", n, strings.Join(parts, " "))
		}
	}
	for _, t := range texts {
		*t = errnoInText.ReplaceAllStringFunc(*t, func(m string) string {
			n, _ := strconv.Atoi(errnoInText.FindStringSubmatch(m)[1])
			if d, ok := described[n]; ok {
				return d
			}
			return m
		})
	}
}
