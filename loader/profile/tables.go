package profile

// The tables below transcribe the syms[] arrays of the auth and cred
// frameworks (shared/research/slurm-abi.md §1.2–§1.4, §2, §3). A generation
// starts where an upstream release changed the array or a signature in it.

func fn(op Op, sym string, ret CType, proto string, params ...CType) Func {
	return Func{Op: op, Symbol: sym, Ret: ret, Params: params, Proto: proto}
}

// lifecycle is what Slurm's plugin loader (src/common/plugin.c) itself looks
// up in every plugin: init and fini where present, and the identifying data.
var lifecycle = []Func{
	{Op: OpInit, Symbol: "init", Ret: Int, Proto: "int init(void)", Optional: true},
	{Op: OpFini, Symbol: "fini", Ret: Int, Proto: "int fini(void) (void from 25.11)", Optional: true},
}

var loaderData = []Data{
	{Symbol: "plugin_name"},
	{Symbol: "plugin_type"},
	{Symbol: "plugin_version", Size: 4},
}

var authData = append([]Data{{Symbol: "plugin_id", Size: 4}}, loaderData...)
var authHashData = append([]Data{{Symbol: "hash_enable", Size: 1}}, authData...)

// Auth functions by form. The slurm_auth_* names were used up to 20.11,
// auth_p_* from 21.08.0.
func authFuncs(prefix string, create1 bool, destroyVoid bool) []Func {
	create := fn(OpCreate, prefix+"create", Ptr, "void *create(char *auth_info, uid_t r_uid, void *data, int dlen)", Ptr, Uint32, Ptr, Int)
	if create1 {
		create = fn(OpCreate, prefix+"create", Ptr, "void *create(char *auth_info)", Ptr)
	}
	destroy := fn(OpDestroy, prefix+"destroy", Int, "int destroy(void *cred)", Ptr)
	if destroyVoid {
		destroy = fn(OpDestroy, prefix+"destroy", Void, "void destroy(void *cred)", Ptr)
	}
	return []Func{
		create,
		destroy,
		fn(OpVerify, prefix+"verify", Int, "int verify(void *cred, char *auth_info)", Ptr, Ptr),
		fn(OpGetHost, prefix+"get_host", Ptr, "char *get_host(void *cred)", Ptr),
		fn(OpPack, prefix+"pack", Int, "int pack(void *cred, buf_t *buf, uint16_t protocol_version)", Ptr, Ptr, Uint16),
		fn(OpUnpack, prefix+"unpack", Ptr, "void *unpack(buf_t *buf, uint16_t protocol_version)", Ptr, Uint16),
	}
}

func getUIDGID(prefix string) []Func {
	return []Func{
		fn(OpGetUID, prefix+"get_uid", Uint32, "uid_t get_uid(void *cred)", Ptr),
		fn(OpGetGID, prefix+"get_gid", Uint32, "gid_t get_gid(void *cred)", Ptr),
	}
}

func threadFuncs(prefix string) []Func {
	return []Func{
		fn(OpThreadConfig, prefix+"thread_config", Int, "int thread_config(const char *token, const char *username)", Ptr, Ptr),
		fn(OpThreadClear, prefix+"thread_clear", Void, "void thread_clear(void)"),
		fn(OpTokenGenerate, prefix+"token_generate", Ptr, "char *token_generate(const char *username, int lifespan)", Ptr, Int),
	}
}

var getData = fn(OpGetData, "auth_p_get_data", Int, "int auth_p_get_data(void *cred, char **data, uint32_t *len)", Ptr, Ptr, Ptr)

var (
	getIDs         = fn(OpGetIDs, "auth_p_get_ids", Void, "void auth_p_get_ids(void *cred, uid_t *uid, gid_t *gid)", Ptr, Ptr, Ptr)
	getIdentity    = fn(OpGetIdentity, "auth_p_get_identity", Ptr, "void *auth_p_get_identity(void *cred)", Ptr)
	getReconfigFD  = fn(OpGetReconfigFD, "auth_p_get_reconfig_fd", Int, "int auth_p_get_reconfig_fd(void)")
	prepReconfigFD = fn(OpPrepareReconfigFD, "auth_p_prepare_reconfig_fd", Int, "int auth_p_prepare_reconfig_fd(char ***env)", Ptr)
	getTime        = fn(OpGetTime, "auth_p_get_time", Time, "time_t auth_p_get_time(void *cred)", Ptr)
)

func cat(parts ...[]Func) []Func {
	var out []Func
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func one(f Func) []Func { return []Func{f} }

const (
	authFramework1905 = "src/common/slurm_auth.c"
	authFramework2302 = "src/interfaces/auth.c"
)

// Auth generations.
var (
	Gen1905 = &Profile{
		Name: "19.05", Kind: Auth, Framework: authFramework1905,
		Releases: []Range{{v(19, 5, 0), v(19, 5, last)}},
		Funcs:    cat(lifecycle, authFuncs("slurm_auth_", true, false), getUIDGID("slurm_auth_")),
		Data:     authData,
	}
	Gen2002 = &Profile{
		Name: "20.02", Kind: Auth, Framework: authFramework1905,
		Releases: []Range{{v(20, 2, 0), v(20, 2, last)}, {v(20, 11, 0), v(20, 11, 8)}},
		Funcs:    cat(lifecycle, authFuncs("slurm_auth_", true, false), getUIDGID("slurm_auth_"), threadFuncs("slurm_auth_")),
		Data:     authData,
	}
	Gen2011 = &Profile{
		Name: "20.11.9", Kind: Auth, Framework: authFramework1905,
		Releases: []Range{{v(20, 11, 9), v(20, 11, last)}},
		Funcs:    cat(lifecycle, authFuncs("slurm_auth_", false, false), getUIDGID("slurm_auth_"), one(getData), threadFuncs("slurm_auth_")),
		Data:     authHashData,
	}
	Gen2108 = &Profile{
		Name: "21.08", Kind: Auth, Framework: authFramework1905,
		Releases: []Range{{v(21, 8, 0), v(21, 8, 7)}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", true, false), getUIDGID("auth_p_"), threadFuncs("auth_p_")),
		Data:     authData,
	}
	Gen2205 = &Profile{
		Name: "22.05", Kind: Auth, Framework: authFramework1905,
		Releases: []Range{{v(21, 8, 8), v(21, 8, last)}, {v(22, 5, 0), v(22, 5, last)}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", false, false), getUIDGID("auth_p_"), one(getData), threadFuncs("auth_p_")),
		Data:     authHashData,
	}
	Gen2302 = &Profile{
		Name: "23.02", Kind: Auth, Framework: authFramework2302,
		Releases: []Range{{v(23, 2, 0), v(23, 2, last)}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", false, true), getUIDGID("auth_p_"), one(getData), threadFuncs("auth_p_")),
		Data:     authHashData,
	}
	Gen2311 = &Profile{
		Name: "23.11", Kind: Auth, Framework: authFramework2302,
		Releases: []Range{{v(23, 11, 0), v(23, 11, last)}, {v(24, 5, 0), v(24, 5, last)}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", false, true), []Func{getIDs, getData, getIdentity}, threadFuncs("auth_p_")),
		Data:     authHashData,
	}
	Gen2411 = &Profile{
		Name: "24.11", Kind: Auth, Framework: authFramework2302,
		Releases: []Range{{v(24, 11, 0), v(24, 11, last)}, {v(25, 5, 0), v(25, 5, last)}, {v(25, 11, 0), v(25, 11, last)}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", false, true), []Func{getIDs, getData, getIdentity}, threadFuncs("auth_p_"), one(getReconfigFD)),
		Data:     authHashData,
	}
	Gen2605 = &Profile{
		Name: "26.05", Kind: Auth, Framework: authFramework2302,
		Releases: []Range{{v(26, 5, 0), Version{}}},
		Funcs:    cat(lifecycle, authFuncs("auth_p_", false, true), []Func{getIDs, getData, getTime, getIdentity}, threadFuncs("auth_p_"), one(prepReconfigFD)),
		Data:     authHashData,
	}
	// GenSeedAuth is the form of the seed "Slurm Authentication Plugin API"
	// document: slurm_auth_* names, one-argument create, and an unpack that
	// fills a credential the caller allocated.
	GenSeedAuth = &Profile{
		Name: "seed-auth", Kind: Auth, Seed: true, Framework: "seed document",
		Funcs: cat(lifecycle, []Func{
			fn(OpCreate, "slurm_auth_create", Ptr, "void *slurm_auth_create(char *auth_info)", Ptr),
			fn(OpDestroy, "slurm_auth_destroy", Int, "int slurm_auth_destroy(void *cr)", Ptr),
			fn(OpVerify, "slurm_auth_verify", Int, "int slurm_auth_verify(void *cr, char *auth_info)", Ptr, Ptr),
			fn(OpPack, "slurm_auth_pack", Int, "int slurm_auth_pack(void *cr, Buf buf)", Ptr, Ptr),
			fn(OpUnpack, "slurm_auth_unpack", Int, "int slurm_auth_unpack(void *cr, Buf buf)", Ptr, Ptr),
		}, getUIDGID("slurm_auth_")),
		Data: loaderData,
	}
)

var authProfiles = []*Profile{Gen1905, Gen2002, Gen2011, Gen2108, Gen2205, Gen2302, Gen2311, Gen2411, Gen2605, GenSeedAuth}

const (
	credFramework1905 = "src/common/slurm_cred.c"
	credFramework2302 = "src/interfaces/cred.c"
)

func keyFuncs(verify Func, strError Func) []Func {
	return []Func{
		fn(OpReadPrivateKey, "cred_p_read_private_key", Ptr, "void *cred_p_read_private_key(const char *path)", Ptr),
		fn(OpReadPublicKey, "cred_p_read_public_key", Ptr, "void *cred_p_read_public_key(const char *path)", Ptr),
		fn(OpDestroyKey, "cred_p_destroy_key", Void, "void cred_p_destroy_key(void *key)", Ptr),
		fn(OpSign, "cred_p_sign", Int, "int cred_p_sign(void *key, char *buffer, int buf_size, char **sig_pp, uint32_t *sig_size_p)", Ptr, Ptr, Int, Ptr, Ptr),
		verify,
		strError,
	}
}

var (
	verifySign5 = fn(OpVerifySign, "cred_p_verify_sign", Int,
		"int cred_p_verify_sign(void *key, char *buffer, uint32_t buf_size, char *signature, uint32_t sig_size)",
		Ptr, Ptr, Uint32, Ptr, Uint32)
	verifySign6 = fn(OpVerifySign, "cred_p_verify_sign", Int,
		"int cred_p_verify_sign(void *key, char *buffer, uint32_t buf_size, char *signature, uint32_t sig_size, bool replay_okay)",
		Ptr, Ptr, Uint32, Ptr, Uint32, Bool)
	strErrorInt  = fn(OpStrError, "cred_p_str_error", Ptr, "const char *cred_p_str_error(int errnum)", Int)
	strErrorVoid = fn(OpStrError, "cred_p_str_error", Ptr, "char *cred_p_str_error(void)")
)

// cred2Funcs is the 23.11+ API with the given sbcast_p_unpack.
func cred2Funcs(sbcastUnpack Func) []Func {
	return []Func{
		fn(OpCredCreate, "cred_p_create", Ptr, "slurm_cred_t *cred_p_create(slurm_cred_arg_t *cred_arg, bool sign_it, uint16_t protocol_version)", Ptr, Bool, Uint16),
		fn(OpCredUnpack, "cred_p_unpack", Ptr, "slurm_cred_t *cred_p_unpack(buf_t *buf, uint16_t protocol_version)", Ptr, Uint16),
		fn(OpCreateNetCred, "cred_p_create_net_cred", Ptr, "char *cred_p_create_net_cred(void *addrs, uint16_t protocol_version)", Ptr, Uint16),
		fn(OpExtractNetCred, "cred_p_extract_net_cred", Ptr, "void *cred_p_extract_net_cred(char *net_cred, uint16_t protocol_version)", Ptr, Uint16),
		fn(OpSbcastCreate, "sbcast_p_create", Ptr, "sbcast_cred_t *sbcast_p_create(sbcast_cred_arg_t *cred_arg, uint16_t protocol_version)", Ptr, Uint16),
		sbcastUnpack,
	}
}

var (
	sbcastUnpack3 = fn(OpSbcastUnpack, "sbcast_p_unpack", Ptr,
		"sbcast_cred_t *sbcast_p_unpack(buf_t *buf, bool verify, uint16_t protocol_version)", Ptr, Bool, Uint16)
	// sbcastUnpack4 is read from Debian's 26.05.5 (and 24.11.5-4+deb13u1)
	// binaries, not from a source release: libslurmfull's unpack_sbcast_cred passes verify
	// (block 1), then whether block 1 is a shared object (FILE_BCAST_SO),
	// then the protocol version; cred_none and cred_munge read the
	// protocol version from the fourth argument. The 26.05.3 tag and
	// master (August 2026) still have three.
	sbcastUnpack4 = fn(OpSbcastUnpack, "sbcast_p_unpack", Ptr,
		"sbcast_cred_t *sbcast_p_unpack(buf_t *buf, bool verify, bool shared_object, uint16_t protocol_version)", Ptr, Bool, Bool, Uint16)
)

// Cred generations.
var (
	GenCredKey = &Profile{
		Name: "cred-key", Kind: Cred, Framework: credFramework1905,
		Releases: []Range{{v(19, 5, 0), v(22, 5, 10)}, {v(23, 2, 0), v(23, 2, 6)}},
		Funcs:    cat(lifecycle, keyFuncs(verifySign5, strErrorInt)),
		Data:     loaderData,
	}
	GenCredKeyReplay = &Profile{
		Name: "cred-key-replay", Kind: Cred, Framework: credFramework1905,
		Releases: []Range{{v(22, 5, 11), v(22, 5, last)}, {v(23, 2, 7), v(23, 2, last)}},
		Funcs:    cat(lifecycle, keyFuncs(verifySign6, strErrorInt)),
		Data:     loaderData,
	}
	GenCred2311 = &Profile{
		Name: "cred-23.11", Kind: Cred, Framework: credFramework2302,
		// 26.05.4 is unchecked: no binary or source of it was at hand.
		Releases: []Range{{v(23, 11, 0), v(26, 5, 4)}},
		Funcs:    cat(lifecycle, cred2Funcs(sbcastUnpack3)),
		Data:     loaderData,
	}
	// GenCred2311SO is the 23.11 API with the four-argument sbcast_p_unpack
	// (shared_object before the protocol version): Debian's 26.05.5 by
	// release, and any host whose code passes four (HostForms), such as
	// Debian's 24.11.5-4+deb13u1 with its backported security fix.
	GenCred2311SO = &Profile{
		Name: "cred-23.11-so", Kind: Cred, Framework: credFramework2302,
		Releases: []Range{{v(26, 5, 5), v(26, 5, last)}},
		Funcs:    cat(lifecycle, cred2Funcs(sbcastUnpack4)),
		Data:     loaderData,
	}
	GenCred2611 = &Profile{
		Name: "cred-26.11", Kind: Cred, Framework: credFramework2302,
		Releases: []Range{{v(26, 11, 0), Version{}}},
		Funcs: cat(lifecycle, cred2Funcs(sbcastUnpack3), one(fn(OpGetSignatureKey, "cred_p_get_signature_key", Ptr,
			"char *cred_p_get_signature_key(char *signature)", Ptr))),
		Data: loaderData,
	}
	// GenSeedCred is the seed "Credential Plugin Programmer Guide" form:
	// char *cred_p_str_error(void) and a five-argument verify_sign.
	GenSeedCred = &Profile{
		Name: "seed-cred", Kind: Cred, Seed: true, Framework: "seed document",
		Funcs: cat(lifecycle, keyFuncs(verifySign5, strErrorVoid)),
		Data:  loaderData,
	}
)

var credProfiles = []*Profile{GenCredKey, GenCredKeyReplay, GenCred2311, GenCred2311SO, GenCred2611, GenSeedCred}
