package profile

// HostForms are argument forms read from a host library's code: how it
// really calls a plugin, which a distribution's backport can change within
// a release. The zero value means "as the release's source says".
type HostForms struct {
	// SbcastUnpackArgs is how many arguments the host passes to
	// sbcast_p_unpack: 3, or 4 with shared_object; 0 when unknown.
	SbcastUnpackArgs int
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
	f := p.Func(OpSbcastUnpack)
	return forms.SbcastUnpackArgs == 0 || f == nil || len(f.Params) == forms.SbcastUnpackArgs
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
