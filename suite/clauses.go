package suite

// Clause is one clause of the contract: its ID, level and one-line title
// (its full text is in Contract).
type Clause struct {
	ID    string
	Level Level
	Title string
}

// Clauses lists the contract in its own order. Every clause has at least one
// spec (a test in this package checks that).
var Clauses = []Clause{
	{"PLG-TYPE", Must, "plugin_type is a printable auth/<minor> or cred/<minor> matching the kind"},
	{"PLG-NAME", Must, "plugin_name is exported, non-empty and printable"},
	{"PLG-VERSION", Must, "plugin_version equals the host's SLURM_VERSION_NUMBER"},
	{"PLG-SYMBOLS", Must, "every symbol the generation's framework looks up is exported"},
	{"PLG-LINK", Must, "every undefined symbol resolves against the host and DT_NEEDED libraries"},
	{"PLG-GENERATION", Must, "the symbol set is exactly one known generation of the release series"},
	{"LIFE-INIT", Must, "init() returns SLURM_SUCCESS in a correctly configured host"},
	{"LIFE-ERRNO0", Should, "errno is SLURM_SUCCESS after a successful init()"},
	{"LIFE-FINI", Must, "fini() succeeds and releases what the plugin allocated"},
	{"LIFE-RELOAD", Must, "load, init, use, fini, unload works repeatedly"},
	{"LIFE-REINIT", Should, "init() after fini() on the same image restores a working plugin"},
	{"LIFE-BADCONF", Should, "a broken environment fails with SLURM_ERROR and errno, never ends the process"},
	{"ERR-RETURN", Must, "integer functions return SLURM_SUCCESS or SLURM_ERROR, never an errno value"},
	{"ERR-SET", Must, "every failing call leaves a non-zero errno"},
	{"ERR-FAMILY", Should, "auth failures use ESLURM_AUTH_* and every errno has a description"},
	{"AUTH-CREATE", Must, "create returns a credential for valid arguments"},
	{"AUTH-DATA", Must, "get_data returns create's bytes after pack, unpack and verify"},
	{"AUTH-DESTROY", Must, "destroy succeeds on every credential"},
	{"AUTH-VERIFY", Must, "a credential verifies after pack and unpack"},
	{"AUTH-IDS", Must, "verified uid and gid are the creator's real ids"},
	{"AUTH-NOBODY", Must, "uid and gid are SLURM_AUTH_NOBODY before and after a failed verify"},
	{"AUTH-HOST", Should, "get_host names the creating host"},
	{"AUTH-OWN", Must, "get_host, get_data and get_identity hand out fresh blocks the caller frees"},
	{"AUTH-PACK", Must, "pack succeeds for any live credential into any buffer"},
	{"AUTH-RECIPROCAL", Must, "unpack(pack(c)) is equivalent and consumes exactly what pack wrote"},
	{"AUTH-WIRE", Must, "packed bytes follow the generation's wire format"},
	{"AUTH-PROTO", Must, "pack and unpack round-trip at every accepted protocol version"},
	{"AUTH-UNPACK-BAD", Must, "unpack rejects malformed input without crashing, hanging or over-reading"},
	{"AUTH-EXPIRY", Must, "a credential verified after its term fails"},
	{"AUTH-TAMPER", Must, "no single-byte change yields a different verified identity"},
	{"AUTH-REPLAY", Should, "a second unpacked copy of the same bytes does not verify"},
	{"AUTH-RUID", Should, "a credential restricted to one uid does not verify as another"},
	{"AUTH-NULL", Should, "NULL arguments give the error value with errno, no crash"},
	{"AUTH-THREAD", May, "thread_config, thread_clear and token_generate never crash"},
	{"AUTH-CONCURRENT", Must, "several threads can use the plugin at once"},
	{"AUTH-LEAK", Should, "10,000 cycles in the steady state grow the heap by less than 1 MiB"},
	{"CRED-KEY", Must, "read_private_key and read_public_key return keys for valid files"},
	{"CRED-KEY-BAD", Should, "bad key files give NULL with errno, no crash"},
	{"CRED-SIGN", Must, "sign returns an xmalloc'd signature for 0 B to 64 KiB buffers (MUST), 1 MiB (SHOULD)"},
	{"CRED-VERIFY", Must, "verify_sign accepts the signature just made"},
	{"CRED-TAMPER", Must, "verify_sign rejects every changed buffer or signature"},
	{"CRED-FAILVAL", Must, "a rejection is non-zero (MUST), SLURM_ERROR with errno (SHOULD)"},
	{"CRED-STRERROR", Must, "str_error describes every error code produced"},
	{"CRED-REPLAY", Should, "replay_okay=false rejects a second verification"},
	{"CRED-NULL", Should, "NULL key, buffer or signature give an error value"},
	{"CRED-CONCURRENT", Should, "concurrent sign and verify succeed"},
	{"CRED-LEAK", Should, "10,000 sign/verify cycles in the steady state grow the heap by less than 1 MiB"},
	{"CRED2-UNPACK-BAD", Must, "cred_p_unpack and sbcast_p_unpack reject hostile bytes safely"},
	{"CRED2-CREATE", Must, "cred_p_create packs the arguments and, with sign_it, a signature"},
	{"CRED2-ROUNDTRIP", Must, "create then unpack as slurmd gives a verified credential with the same arguments"},
	{"CRED2-TAMPER", Must, "as slurmd, no changed, moved, forged or missing signature verifies"},
	{"CRED2-EXPIRY", Must, "as slurmd, a credential past its lifetime is not verified"},
	{"CRED2-REPLAY", Should, "as slurmd, a second unpack of the same bytes is refused"},
	{"CRED2-NULL", Should, "NULL arguments and buffers give NULL, never a crash"},
	{"CRED2-CONCURRENT", Should, "several threads creating and unpacking at once succeed"},
	{"CRED2-LEAK", Should, "10,000 create/unpack/destroy cycles grow the heap by less than 1 MiB"},
	{"ORACLE-MODEL", Must, "random operation sequences give the outcomes the contract model predicts"},
	{"ORACLE-MUNGE", Must, "MUNGE credentials decode and verify as the reference models say"},
}
