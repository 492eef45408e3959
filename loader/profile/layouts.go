package profile

import "fmt"

// The 23.11+ cred API passes whole C structures: cred_p_create takes a
// slurm_cred_arg_t, sbcast_p_create a sbcast_cred_arg_t, and both return
// structures whose fields (buffer, signature, verified, arg …) the
// framework reads. Their layouts change between releases, so they are data
// here: each Layout lists a structure's members in declaration order, as
// in the tagged source named by Source, and the offsets follow from the
// x86-64 System V rules (natural alignment, a structure aligned and padded
// to its widest member). Specs and facades look fields up by name.

// FieldType is the C type of a structure member.
type FieldType uint8

const (
	FU16    FieldType = iota + 1 // uint16_t
	FU32                         // uint32_t, uid_t, gid_t, int
	FU64                         // uint64_t, sluid_t
	FTime                        // time_t
	FBool                        // bool
	FPtr                         // any pointer
	FRWLock                      // pthread_rwlock_t (glibc x86-64: 56 bytes)
	FStruct                      // a nested structure (Field.Sub)
)

// Field is one member of a structure.
type Field struct {
	Name string
	Type FieldType
	Sub  *Layout // for FStruct
}

// Layout is a C structure.
type Layout struct {
	Name   string
	Source string // tag:path it is transcribed from
	Fields []Field

	offsets     map[string]int
	size, align int
}

func (t FieldType) sizeAlign(sub *Layout) (int, int) {
	switch t {
	case FU16:
		return 2, 2
	case FU32:
		return 4, 4
	case FU64, FTime, FPtr:
		return 8, 8
	case FBool:
		return 1, 1
	case FRWLock:
		return 56, 8
	case FStruct:
		sub.compute()
		return sub.size, sub.align
	}
	panic(fmt.Sprintf("profile: unknown field type %d", t))
}

func (l *Layout) compute() {
	if l.offsets != nil {
		return
	}
	l.offsets = map[string]int{}
	off, align := 0, 1
	for _, f := range l.Fields {
		sz, al := f.Type.sizeAlign(f.Sub)
		off = (off + al - 1) / al * al
		l.offsets[f.Name] = off
		if f.Sub != nil {
			for name, o := range f.Sub.offsets {
				l.offsets[f.Name+"."+name] = off + o
			}
		}
		off += sz
		align = max(align, al)
	}
	l.size, l.align = (off+align-1)/align*align, align
}

// Offset is the byte offset of a member ("step_id.job_id" for a member of
// a nested structure); ok is false when the release has no such member.
func (l *Layout) Offset(name string) (off int, ok bool) {
	l.compute()
	off, ok = l.offsets[name]
	return off, ok
}

// MustOffset is Offset for members every layout of the table has.
func (l *Layout) MustOffset(name string) int {
	off, ok := l.Offset(name)
	if !ok {
		panic(fmt.Sprintf("profile: %s has no member %s", l.Name, name))
	}
	return off
}

// Size is sizeof the structure.
func (l *Layout) Size() int {
	l.compute()
	return l.size
}

// Has reports whether the structure has the member.
func (l *Layout) Has(name string) bool {
	_, ok := l.Offset(name)
	return ok
}

// CredABI holds the 23.11+ cred structures of a range of releases.
type CredABI struct {
	Releases []Range
	// Arg is slurm_cred_arg_t, Cred slurm_cred_t, SbcastArg
	// sbcast_cred_arg_t, Sbcast sbcast_cred_t, Identity identity_t,
	// NodeAliasAddrs slurm_node_alias_addrs_t (the net credential's).
	Arg, Cred, SbcastArg, Sbcast, Identity, NodeAliasAddrs *Layout
	// Note says what was read from where, for the report.
	Note string
}

func f(name string, t FieldType) Field       { return Field{Name: name, Type: t} }
func sub(name string, l *Layout) Field       { return Field{Name: name, Type: FStruct, Sub: l} }
func fields(fs ...Field) []Field             { return fs }
func with(base []Field, fs ...Field) []Field { return append(append([]Field(nil), base...), fs...) }

var (
	// identity_t, unchanged 23.11 – 26.05 (src/common/identity.h).
	identity2311 = &Layout{Name: "identity_t", Source: "slurm-23-11-0-1…slurm-26-05-3-1:src/common/identity.h",
		Fields: fields(f("uid", FU32), f("gid", FU32), f("pw_name", FPtr), f("pw_gecos", FPtr), f("pw_dir", FPtr),
			f("pw_shell", FPtr), f("ngids", FU32), f("gids", FPtr), f("gr_names", FPtr), f("fake", FBool))}

	// slurm_step_id_t: job_id, step_het_comp, step_id up to 24.05; a
	// sluid_t first from 24.11 (slurm/slurm.h).
	stepID2311 = &Layout{Name: "slurm_step_id_t", Source: "slurm-23-11-11-1:slurm/slurm.h",
		Fields: fields(f("job_id", FU32), f("step_het_comp", FU32), f("step_id", FU32))}
	// slurm_node_alias_addrs_t, unchanged 23.11 – 26.05 (slurm/slurm.h);
	// node_addrs points to node_cnt slurm_addr_t (struct
	// sockaddr_storage, 128 bytes).
	nodeAliasAddrs2311 = &Layout{Name: "slurm_node_alias_addrs_t", Source: "slurm-23-11-11-1…slurm-26-05-3-1:slurm/slurm.h",
		Fields: fields(f("expiration", FTime), f("net_cred", FPtr), f("node_addrs", FPtr), f("node_cnt", FU32), f("node_list", FPtr))}

	stepID2411 = &Layout{Name: "slurm_step_id_t", Source: "slurm-24-11-0-1…slurm-26-05-3-1:slurm/slurm.h",
		Fields: fields(f("sluid", FU64), f("job_id", FU32), f("step_het_comp", FU32), f("step_id", FU32))}
)

// credArgFields is slurm_cred_arg_t of 23.11 – 25.11 after step_id
// (src/interfaces/cred.h). 23.11.9+ and 24.05.2+ end with void
// *switch_step, which 23.11.0 – 23.11.8 and 24.05.0 – 24.05.1 lack; being
// last, it moves no other member, and the suite leaves it NULL.
func credArgFields(stepID *Layout, v2605 bool) []Field {
	fs := fields(sub("step_id", stepID), f("uid", FU32), f("gid", FU32), f("id", FPtr),
		f("core_array_size", FU16), f("cores_per_socket", FPtr), f("sockets_per_node", FPtr), f("sock_core_rep_count", FPtr),
		f("cpu_array_count", FU32), f("cpu_array", FPtr), f("cpu_array_reps", FPtr),
		f("job_account", FPtr), f("job_alias_list", FPtr), f("job_comment", FPtr), f("job_constraints", FPtr),
		f("job_core_bitmap", FPtr), f("job_core_spec", FU16), f("job_end_time", FTime))
	if v2605 {
		fs = with(fs, f("job_exclusive", FU16))
	}
	fs = with(fs, f("job_extra", FPtr), f("job_hostlist", FPtr), f("job_licenses", FPtr),
		f("job_mem_alloc", FPtr), f("job_mem_alloc_rep_count", FPtr), f("job_mem_alloc_size", FU32),
		f("job_nhosts", FU32), f("job_node_addrs", FPtr), f("job_ntasks", FU32), f("job_oversubscribe", FU16),
		f("job_gres_list", FPtr), f("job_partition", FPtr))
	if v2605 {
		fs = with(fs, f("job_qos", FPtr))
	}
	return with(fs, f("job_reservation", FPtr), f("job_restart_cnt", FU16), f("job_selinux_context", FPtr),
		f("job_start_time", FTime), f("job_std_err", FPtr), f("job_std_in", FPtr), f("job_std_out", FPtr), f("job_x11", FU16),
		f("step_core_bitmap", FPtr), f("step_hostlist", FPtr), f("step_mem_alloc", FPtr), f("step_mem_alloc_rep_count", FPtr),
		f("step_mem_alloc_size", FU32), f("step_gres_list", FPtr), f("switch_step", FPtr))
}

func credLayout(arg *Layout, src string) *Layout {
	return &Layout{Name: "slurm_cred_t", Source: src,
		Fields: fields(f("magic", FU32), f("mutex", FRWLock), f("buffer", FPtr), f("sig_offset", FU32), f("buf_version", FU16),
			f("arg", FPtr), f("ctime", FTime), f("signature", FPtr), f("verified", FBool))}
}

func sbcastLayout(arg *Layout, src string) *Layout {
	return &Layout{Name: "sbcast_cred_t", Source: src,
		Fields: fields(f("ctime", FTime), sub("arg", arg), f("buffer", FPtr), f("signature", FPtr), f("verified", FBool))}
}

func credABI(releases []Range, stepID *Layout, src string, v2511, v2605 bool, note string) *CredABI {
	arg := &Layout{Name: "slurm_cred_arg_t", Source: src, Fields: credArgFields(stepID, v2605)}
	// sbcast_cred_arg_t: job_id, het_job_id, step_id up to 25.05; a
	// slurm_step_id_t step_id from 25.11.
	sarg := &Layout{Name: "sbcast_cred_arg_t", Source: src,
		Fields: fields(f("job_id", FU32), f("het_job_id", FU32), f("step_id", FU32), f("id", FPtr), f("expiration", FTime), f("nodes", FPtr))}
	if v2511 {
		sarg.Fields = fields(sub("step_id", stepID), f("het_job_id", FU32), f("id", FPtr), f("expiration", FTime), f("nodes", FPtr))
	}
	return &CredABI{Releases: releases, Arg: arg, Cred: credLayout(arg, src), SbcastArg: sarg,
		Sbcast: sbcastLayout(sarg, src), Identity: identity2311, NodeAliasAddrs: nodeAliasAddrs2311, Note: note}
}

// CredABIs are the 23.11+ cred structures, newest last. Each was
// transcribed from src/interfaces/cred.h, slurm/slurm.h and
// src/common/identity.h of the tags named, and checked to be unchanged
// (hashing the typedefs) at every tag of its range.
var CredABIs = []*CredABI{
	credABI([]Range{{v(23, 11, 0), v(24, 5, last)}}, stepID2311,
		"slurm-23-11-11-1, slurm-24-05-8-1:src/interfaces/cred.h", false, false,
		"23.11 – 24.05: three-member slurm_step_id_t"),
	credABI([]Range{{v(24, 11, 0), v(25, 5, last)}}, stepID2411,
		"slurm-24-11-5-1, slurm-25-05-8-1:src/interfaces/cred.h", false, false,
		"24.11 – 25.05: slurm_step_id_t starts with sluid"),
	credABI([]Range{{v(25, 11, 0), v(25, 11, last)}}, stepID2411,
		"slurm-25-11-7-1:src/interfaces/cred.h", true, false,
		"25.11: sbcast_cred_arg_t carries a slurm_step_id_t"),
	// 26.05.4 and 26.05.5 (Debian) have no tag at hand: the layout is
	// 26.05.3's, and CRED2-ROUNDTRIP would show a difference.
	credABI([]Range{{v(26, 5, 0), v(26, 5, last)}}, stepID2411,
		"slurm-26-05-3-1:src/interfaces/cred.h", true, true,
		"26.05: slurm_cred_arg_t gains job_exclusive and job_qos"),
}

// CredABIFor returns the cred structures of release ver, or nil when the
// suite has no table for it.
func CredABIFor(ver Version) *CredABI {
	for _, a := range CredABIs {
		for _, r := range a.Releases {
			if r.Contains(ver) {
				return a
			}
		}
	}
	return nil
}
