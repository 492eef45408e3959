package profile

import (
	"fmt"
	"sort"
	"strings"
)

// Kind is the plugin's major type.
type Kind string

const (
	Auth Kind = "auth"
	Cred Kind = "cred"
)

// CType is the C type of a parameter or return value, as far as the x86-64
// calling convention and the facades need to know it.
type CType uint8

const (
	Void   CType = iota
	Int          // int, sign-extended from 32 bits
	Uint16       // uint16_t
	Uint32       // uint32_t, uid_t, gid_t
	Bool         // bool, low byte
	Time         // time_t, 64 bits
	Ptr          // any pointer
)

// Op is what a function does, independent of its symbol name in a generation.
type Op string

// Operations of both kinds.
const (
	OpInit Op = "init"
	OpFini Op = "fini"
)

// Auth operations.
const (
	OpCreate            Op = "create"
	OpDestroy           Op = "destroy"
	OpVerify            Op = "verify"
	OpGetUID            Op = "get_uid"
	OpGetGID            Op = "get_gid"
	OpGetIDs            Op = "get_ids"
	OpGetHost           Op = "get_host"
	OpGetData           Op = "get_data"
	OpGetTime           Op = "get_time"
	OpGetIdentity       Op = "get_identity"
	OpPack              Op = "pack"
	OpUnpack            Op = "unpack"
	OpThreadConfig      Op = "thread_config"
	OpThreadClear       Op = "thread_clear"
	OpTokenGenerate     Op = "token_generate"
	OpGetReconfigFD     Op = "get_reconfig_fd"
	OpPrepareReconfigFD Op = "prepare_reconfig_fd"
	OpCredGenerate      Op = "cred_generate"
)

// Cred operations.
const (
	OpReadPrivateKey  Op = "read_private_key"
	OpReadPublicKey   Op = "read_public_key"
	OpDestroyKey      Op = "destroy_key"
	OpSign            Op = "sign"
	OpVerifySign      Op = "verify_sign"
	OpStrError        Op = "str_error"
	OpCredCreate      Op = "cred_create"
	OpCredUnpack      Op = "cred_unpack"
	OpCreateNetCred   Op = "create_net_cred"
	OpExtractNetCred  Op = "extract_net_cred"
	OpSbcastCreate    Op = "sbcast_create"
	OpSbcastUnpack    Op = "sbcast_unpack"
	OpGetSignatureKey Op = "get_signature_key"
)

// Func is one function of a plugin API.
type Func struct {
	Op     Op
	Symbol string
	Ret    CType
	Params []CType
	// Proto is the C prototype, for reports.
	Proto string
	// Optional functions may be absent: the loader calls init and fini only
	// when the plugin exports them.
	Optional bool
}

// Data is a data symbol the framework or the loader looks up.
type Data struct {
	Symbol string
	Size   int // bytes; 0 for a string
	// Optional data may be absent (plugin_version before 22.05).
	Optional bool
}

// Profile is one API generation of one plugin kind.
type Profile struct {
	// Name identifies the generation, e.g. "22.05" or "cred-key".
	Name string
	Kind Kind
	// Releases are the upstream releases that ship this API.
	Releases []Range
	// Framework is the source file whose syms[] the table follows.
	Framework string
	Funcs     []Func
	Data      []Data
	// Seed marks the form described by the seed documents rather than by a
	// real framework (not auto-detected).
	Seed bool
}

func (p *Profile) String() string { return p.Name }

// Describe is the profile's name with the releases it covers.
func (p *Profile) Describe() string {
	rs := make([]string, len(p.Releases))
	for i, r := range p.Releases {
		rs[i] = r.String()
	}
	return fmt.Sprintf("%s (%s %s)", p.Name, p.Kind, strings.Join(rs, ", "))
}

// Func returns the function that performs op, or nil if the generation has
// none.
func (p *Profile) Func(op Op) *Func {
	for i := range p.Funcs {
		if p.Funcs[i].Op == op {
			return &p.Funcs[i]
		}
	}
	return nil
}

// Has reports whether the generation has op.
func (p *Profile) Has(op Op) bool { return p.Func(op) != nil }

// Covers reports whether release v ships this API.
func (p *Profile) Covers(ver Version) bool {
	for _, r := range p.Releases {
		if r.Contains(ver) {
			return true
		}
	}
	return false
}

// Symbols returns the names of every symbol of the generation, required and
// optional, sorted.
func (p *Profile) Symbols() []string {
	var out []string
	for _, f := range p.Funcs {
		out = append(out, f.Symbol)
	}
	for _, d := range p.Data {
		out = append(out, d.Symbol)
	}
	sort.Strings(out)
	return out
}

// Required returns the names of the symbols that must be exported.
func (p *Profile) Required() []string {
	var out []string
	for _, f := range p.Funcs {
		if !f.Optional {
			out = append(out, f.Symbol)
		}
	}
	for _, d := range p.Data {
		if !d.Optional {
			out = append(out, d.Symbol)
		}
	}
	sort.Strings(out)
	return out
}

// ByName finds a profile of kind by name.
func ByName(kind Kind, name string) *Profile {
	for _, p := range All(kind) {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// All returns every profile of kind, oldest first, seed forms included.
func All(kind Kind) []*Profile {
	switch kind {
	case Auth:
		return authProfiles
	case Cred:
		return credProfiles
	}
	return nil
}
