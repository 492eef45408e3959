package profile

import (
	"fmt"
	"strings"
)

// HostForms are argument forms read from a host library's code: how it
// really calls a plugin, which a distribution's backport can change within
// a release. The zero value means "as the release's source says".
type HostForms struct {
	// SbcastUnpackArgs is how many arguments the host passes to
	// sbcast_p_unpack: 3, or 4 with shared_object; 0 when unknown.
	SbcastUnpackArgs int
	// VerifySignArgs is how many arguments the host passes to a key-API
	// cred plugin's cred_p_verify_sign: 5, or 6 with replay_okay; 0 when
	// unknown.
	VerifySignArgs int
}

// String says which forms the host's code showed.
func (f HostForms) String() string {
	var parts []string
	if f.SbcastUnpackArgs != 0 {
		parts = append(parts, fmt.Sprintf("sbcast_p_unpack with %d arguments", f.SbcastUnpackArgs))
	}
	if f.VerifySignArgs != 0 {
		parts = append(parts, fmt.Sprintf("cred_p_verify_sign with %d arguments", f.VerifySignArgs))
	}
	if len(parts) == 0 {
		return "nothing the release's source does not say"
	}
	return strings.Join(parts, ", ")
}

// ForHost returns the generation to call p's plugin with on a host whose
// code passes forms: p itself when its signatures already match, else the
// generation of the same kind and framework that exports the same symbols
// with the host's signatures. It returns p when there is none.
func ForHost(p *Profile, forms HostForms) *Profile {
	if p.matches(forms) {
		return p
	}
	for _, q := range All(p.Kind) {
		if q != p && !q.Seed && q.Framework == p.Framework && sameSymbols(p, q) && q.matches(forms) {
			return q
		}
	}
	return p
}

func (p *Profile) matches(forms HostForms) bool {
	return p.takes(OpSbcastUnpack, forms.SbcastUnpackArgs) && p.takes(OpVerifySign, forms.VerifySignArgs)
}

// takes reports whether p's op takes n arguments, or n is unknown, or p
// has no such op.
func (p *Profile) takes(op Op, n int) bool {
	f := p.Func(op)
	return n == 0 || f == nil || len(f.Params) == n
}

func sameSymbols(p, q *Profile) bool {
	if len(p.Funcs) != len(q.Funcs) {
		return false
	}
	for _, f := range p.Funcs {
		if g := q.Func(f.Op); g == nil || g.Symbol != f.Symbol {
			return false
		}
	}
	return true
}
