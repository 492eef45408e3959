package suite

// ClauseText is a clause of the contract in full: what it requires, why,
// and where the requirement comes from.
type ClauseText struct {
	// Text is the whole clause, rationale included.
	Text string
	// Source is where it comes from: seed:auth and seed:cred are Slurm's
	// Authentication Plugin API document and Credential Plugin Programmer
	// Guide, slurm:X what Slurm's own framework does (file X at the
	// release's tag).
	Source string
}

// Contract holds the full text of every clause, by ID, including the
// clauses of modes that are not in the registry yet. docs/clauses.md is
// generated from it and the registry.
var Contract = map[string]ClauseText{
	"PLG-TYPE":         {"`plugin_type` is exported, a NUL-terminated printable string; major type is `auth` or `cred` and matches the kind under test; minor type is non-empty. SHOULD: file name is `<major>_<minor>.so` (Slurm finds plugins by file name).", "seed:auth, seed:cred"},
	"PLG-NAME":         {"`plugin_name` is exported, non-empty, printable.", "seed:auth, seed:cred"},
	"PLG-VERSION":      {"`plugin_version` is exported and equals the host Slurm's `SLURM_VERSION_NUMBER` exactly (major.minor.micro), since Slurm's loader refuses any other value. When no host version is known, major.minor must match the detected API generation.", "seed:*, slurm:plugin.c"},
	"PLG-SYMBOLS":      {"Every function and data symbol that the framework of the detected generation looks up is exported (Slurm calls `fatal()` on a missing one). Auth plugins export `plugin_id` (built-ins: none 100, munge 101, jwt 102, slurm 103); a third-party plugin must not reuse a built-in id.", "slurm:slurm_auth.c / auth.c, cred.c"},
	"PLG-LINK":         {"Every undefined symbol of the plugin resolves against the host library plus the plugin's own DT_NEEDED libraries (Slurm loads lazily, so an unresolved one crashes a daemon mid-run instead of at start). Each unresolved symbol is named in the report.", "slurm:plugin.c"},
	"PLG-GENERATION":   {"The symbol set is exactly that of one known API generation of the plugin's release series (`plugin_version` major.minor). Distributions backport security fixes that change the API inside a series (Debian's 20.11.4+deb11u1 carries the 20.11.9 auth API: 4-argument `create`, `hash_enable`, `auth_p_get_data`): a generation that differs from what the micro version alone suggests, within the same series, is noted in the report, not failed.", "slurm-abi.md §1"},
	"LIFE-INIT":        {"`init()` is called once after loading and before any other function, and returns `SLURM_SUCCESS` (0) in a correctly configured host; its return value is only ever 0 or `SLURM_ERROR` (-1).", "seed:* \"int init (void)\""},
	"LIFE-ERRNO0":      {"After a successful `init()`, before any error arises, the plugin's errno is `SLURM_SUCCESS`.", "seed:cred \"Data Objects\""},
	"LIFE-FINI":        {"Where exported, `fini()` succeeds after `init()` alone and after normal use, and releases what the plugin allocated: after fini and unload, heap in use returns to within a small bound of the baseline taken before loading.", "seed:* \"void fini (void)\""},
	"LIFE-RELOAD":      {"load → init → use → fini → unload, repeated (Slurm reloads plugins on reconfigure), works every time with state fully reset and bounded memory growth. A plugin that frees in a C destructor what `fini` already freed fails here.", "seed:* note on `_init`/`_fini`"},
	"LIFE-REINIT":      {"`init()` after `fini()` on the same loaded image restores a working plugin: `dlclose` is not guaranteed to unload an object (another handle, `RTLD_NODELETE`, GNU unique symbols), so Slurm's reload may find the old globals still there. State that `fini` tears down must be rebuilt by `init`.", "dlclose(3), slurm:plugin.c"},
	"LIFE-BADCONF":     {"With a broken environment (unreachable daemon socket, missing or unreadable key file), `init()` or the first call fails with `SLURM_ERROR` and an errno; the process is not terminated (no `exit()`, `abort()`, or `fatal()`).", "seed:* Returns"},
	"ERR-RETURN":       {"Integer-valued functions return `SLURM_SUCCESS` or `SLURM_ERROR`, never an errno value. (Exception in the real framework: cred `verify_sign` may return an error code; see doc/code differences.)", "seed:cred \"Data Objects\", seed:auth Returns"},
	"ERR-SET":          {"Every failing call leaves a non-zero errno that says why (Slurm's errno up to 24.05 via `slurm_get_errno`, libc `errno` from 24.11).", "seed:* Returns"},
	"ERR-FAMILY":       {"Auth failures use the `ESLURM_AUTH_*` family (6000 invalid credential, 6004 bad argument, 6007 unpack, …); every errno the plugin produces has a non-empty description (`slurm_strerror`, or `str_error` for cred).", "slurm:slurm_errno.h"},
	"AUTH-CREATE":      {"`create` returns a non-NULL credential for valid arguments (its form depends on the generation: `auth_info` only, or `auth_info, r_uid, data, dlen`).", "seed:auth create"},
	"AUTH-DATA":        {"Where the generation has `get_data`: the bytes given to `create` come back byte-exact from `get_data` after pack → unpack → verify, for empty, small and large (≥ 64 KiB) payloads.", "slurm:auth_p_get_data"},
	"AUTH-DESTROY":     {"`destroy` succeeds on every credential from `create` or `unpack`: verified, unverified, or failed.", "seed:auth destroy"},
	"AUTH-VERIFY":      {"A credential created in the process verifies after pack → unpack.", "seed:auth verify"},
	"AUTH-IDS":         {"After a successful verify, uid and gid equal the creating process's real uid and gid. Run with a non-root uid, so that 0 cannot pass by accident.", "seed:auth get_uid/get_gid"},
	"AUTH-NOBODY":      {"Before verify, and after a failed verify, uid and gid are `SLURM_AUTH_NOBODY` (99).", "seed:auth get_uid/get_gid"},
	"AUTH-HOST":        {"`get_host` names the creating host (returned string freeable with `xfree`).", "slurm:auth_p_get_host"},
	"AUTH-OWN":         {"Memory that `get_host` and `get_data` (and 23.11+ `get_identity`, where present) hand out belongs to the caller: each call returns a fresh `xmalloc` block (two calls give two distinct pointers); the caller can `xfree` it and then go on using the credential (get_host again, pack, verify) and destroy it without a double free, use after free or heap corruption. Slurm's framework frees these results itself, so an aliased pointer crashes slurmctld on its first RPC (seen in real daemons).", "slurm:auth_g_get_host callers, slurm_auth.c"},
	"AUTH-PACK":        {"`pack` succeeds for any live credential (created or unpacked, verified or not), into empty, non-empty, and too-small buffers that must grow.", "seed:auth pack"},
	"AUTH-RECIPROCAL":  {"`unpack(pack(c))` is functionally equivalent: it verifies and reports the same uid, gid, host, data. `unpack` consumes exactly the bytes `pack` wrote (the next field of a message must parse). Re-packing the unpacked credential gives the same bytes (SHOULD).", "seed:auth pack/unpack"},
	"AUTH-WIRE":        {"The packed bytes follow the generation's wire format; for the built-in plugins (none, munge, jwt) they match the reference implementation in `reference/` field by field.", "seed:auth pack, slurm"},
	"AUTH-PROTO":       {"Pack/unpack round-trips at every protocol version the generation accepts; `unpack` below `SLURM_MIN_PROTOCOL_VERSION` returns NULL with errno set.", "slurm:slurm_protocol_common.h"},
	"AUTH-UNPACK-BAD":  {"`unpack` of every truncation of a valid credential, of corrupted length fields, and of a seeded corpus of random inputs returns NULL (or a credential that then fails verify) with errno set, and never crashes, hangs, reads outside the buffer, or allocates without bound.", "seed:auth unpack"},
	"AUTH-EXPIRY":      {"A credential verified after its validity term fails with errno set, even if it is otherwise valid; one verified within its term passes. Needs a short TTL in the setup; without one the clause is *not tested*.", "seed:auth verify"},
	"AUTH-TAMPER":      {"Changing any single byte of the packed credential makes unpack fail, or verify fail, or leaves uid, gid, host and data unchanged: it never yields a different verified identity. (`auth/none` fails this by design: it is not for production.)", "seed:auth verify"},
	"AUTH-REPLAY":      {"Verifying the same credential a second time (a second unpack of the same bytes) fails. Build-dependent in Slurm (Debian builds `MULTIPLE_SLURMD`, which accepts replays): reported, not fatal.", "slurm:auth_munge"},
	"AUTH-RUID":        {"Where `create` takes `r_uid`: a credential restricted to one uid does not verify in a process running as another.", "slurm:auth_p_create"},
	"AUTH-NULL":        {"NULL credential or buffer arguments to destroy, verify, get_*, pack and unpack return the error value (SLURM_ERROR, NULL, or SLURM_AUTH_NOBODY) with errno set, and never crash.", "seed:auth \"Cannot be NULL\""},
	"AUTH-THREAD":      {"`thread_config`, `thread_clear`, `token_generate` (where present) return an error value or work; never crash.", "slurm"},
	"AUTH-CONCURRENT":  {"Several threads creating, packing, unpacking, verifying and destroying at once all succeed (Slurm plugins must be re-entrant). MUST here, where the specification has SHOULD: slurmctld verifies the credentials of concurrent RPCs in concurrent threads, and a plugin that fails this breaks it (make agreement: E2E-STABLE fails).", "slurm:plugins.shtml, E2E-STABLE"},
	"AUTH-LEAK":        {"10,000 full create/pack/unpack/verify/destroy cycles grow heap in use by less than 1 MiB.", "seed:auth destroy"},
	"CRED-KEY":         {"`read_private_key` and `read_public_key` return non-NULL for valid key files; `destroy_key` releases each.", "seed:cred"},
	"CRED-KEY-BAD":     {"A missing, unreadable, empty or corrupt key file gives NULL with errno, no crash. A plugin that ignores the path (cred/munge does) is reported as such.", "seed:cred Returns"},
	"CRED-VERIFY":      {"`verify_sign` accepts the signature just made for the same buffer.", "seed:cred verify_sign"},
	"CRED-TAMPER":      {"`verify_sign` rejects: any single-byte change to the buffer, a truncated or extended buffer, any single-byte change to the signature, a truncated or empty signature, and a signature of another buffer. (`cred/none` fails this by design.)", "seed:cred"},
	"CRED-STRERROR":    {"`str_error` returns a non-NULL, non-empty string for every error code the plugin produced in the run **and for every value `sign`/`verify_sign` returned on failure, `SLURM_ERROR` (-1) included**: Slurm's framework logs a failed verification as `str_error(rc)` with the return value, so that is the call that must work.", "seed:cred str_error, slurm:slurm_cred.c"},
	"CRED-REPLAY":      {"Where `verify_sign` has `replay_okay` (22.05.11+, 23.02.7+): a second verification of the same signature with `replay_okay=false` fails.", "slurm"},
	"CRED-NULL":        {"NULL key, buffer or signature arguments give an error value, no crash.", "seed:cred"},
	"CRED-CONCURRENT":  {"Concurrent sign and verify from several threads succeed.", "slurm:plugins.shtml"},
	"CRED-LEAK":        {"10,000 sign/verify cycles (signatures freed with `xfree`) grow heap in use by less than 1 MiB.", "seed:cred"},
	"CRED2-CREATE":     {"`cred_p_create` with a valid argument set returns a credential whose buffer holds the packed arguments and, with `sign_it`, a non-empty signature (without `sign_it`, none).", "slurm:cred.c, cred_munge.c"},
	"CRED2-ROUNDTRIP":  {"create → the credential's packed bytes → `cred_p_unpack` as slurmd gives a verified credential carrying the same arguments (job/step id, uid, gid, user and group names, node list, expiration, core bitmaps …) and consumes exactly those bytes; likewise `sbcast_p_create` → `sbcast_p_unpack(verify=true)`, and `cred_p_create_net_cred` → `cred_p_extract_net_cred` where the plugin implements net credentials (a plugin whose net functions return NULL is reported *not applicable* for that part). An unsigned credential (`sign_it` false, as slurmctld sends with REQUEST_TERMINATE_JOB) unpacks as slurmd to the same arguments, not NULL: slurmd needs them to end the job (whether it counts as verified is CRED2-TAMPER's business).", "slurm:cred.c"},
	"CRED2-TAMPER":     {"As slurmd: any single-byte change to the signed part or to the signature, a signature made with another key, a signature moved from another credential, and a forged or missing signature give NULL or an unverified credential from `cred_p_unpack`, are refused by `sbcast_p_unpack(verify=true)` and by `cred_p_extract_net_cred`. (cred/none fails this by design.)", "seed:cred (the purpose of signing), slurm"},
	"CRED2-EXPIRY":     {"Where the signature has a lifetime (cred/munge: the MUNGE TTL), a credential unpacked after it is not verified; one within it is. Needs a short TTL in the setup; without one, *not tested*.", "slurm:cred_munge.c"},
	"CRED2-REPLAY":     {"As slurmd, a second unpack of the same credential bytes is refused (build-dependent: Debian's `MULTIPLE_SLURMD` accepts replays; reported, not fatal).", "slurm:cred_munge.c"},
	"CRED2-UNPACK-BAD": {"`cred_p_unpack` and `sbcast_p_unpack` reject truncated, corrupted, random and *internally inconsistent* buffers (counts that disagree with each other, e.g. group names vs gids, lengths past the end) with NULL, and never crash, hang, over-read or free what they did not allocate. The spec's corpus includes every minimized reproducer the fuzzer has found, so a verdict never says \"conformant\" about a defect `plugincheck fuzz` finds in seconds.", "slurm:cred.c, identity.c"},
	"CRED2-NULL":       {"NULL arguments and buffers give NULL or an error value, never a crash.", "seed:cred"},
	"CRED2-CONCURRENT": {"Several threads creating and unpacking at once succeed.", "slurm:plugins.shtml"},
	"CRED2-LEAK":       {"10,000 create/unpack/destroy cycles grow heap in use by less than 1 MiB.", "seed:cred"},
	"E2E-START":        {"slurmctld and slurmd start with the plugin configured, the nodes register and go idle, `scontrol ping` and `sinfo` answer.", "slurm"},
	"E2E-JOB":          {"`srun -N<all> id` and `sbatch --wait` succeed for a non-root submitter, and the job sees that submitter's uid and gid.", "slurm"},
	"E2E-SBCAST":       {"(cred plugins, and auth plugins paired with the host's cred plugin) `sbcast` of a file to every node succeeds and the copies are identical.", "slurm"},
	"E2E-REFUSE":       {"A client whose credentials come from another key (or another plugin) is refused with an authentication error, and the daemons stay up. (auth/none fails this by design.)", "slurm"},
	"E2E-STABLE":       {"Over a few hundred RPCs and jobs neither daemon dies, aborts, or logs an error from the plugin, and their memory stays bounded.", "slurm"},
	"E2E-TAMPER":       {"A byte changed inside the credential of an RPC in flight (a relay between client and slurmctld that knows the message layout) is refused.", "slurm"},
	"CLUSTER-SAME":     {"Every node has the same plugin file (SHA-256) and a host library of the same Slurm release.", "slurm:plugin.c"},
	"CLUSTER-UNIT":     {"The unit suite passes on every node (per-node reports, one aggregate verdict).", "—"},
	"CLUSTER-INTEROP":  {"A credential created on node *i* verifies on every node *j ≠ i* with the right identity and data, for every ordered pair (shared key, clocks within the TTL).", "slurm"},
	"CLUSTER-REFUSE":   {"A credential created on a node configured with another key is refused on every other node.", "slurm"},
	"ORACLE-MODEL":     {"Seeded random sequences of create / pack / unpack / tamper / verify / get / destroy give the same observable outcomes on the plugin as on the Go reference model of the contract; a failing sequence is shrunk to a minimal one and printed with its seed.", "—"},
	"ORACLE-MUNGE":     {"For plugins whose credentials are MUNGE credentials (auth/munge, cred/munge): given the munge key, the Go MUNGE codec decodes what the plugin produced and finds the right uid, gid, TTL and payload; credentials made by the Go codec are accepted or rejected by the plugin exactly as the model predicts.", "—"},
	"CRED-SIGN":        {"MUST: `sign` returns success, a non-NULL signature and a size > 0, for buffers of 0, 1, 100 bytes and 64 KiB (the sizes of real job-step credentials); the signature is allocated with `xmalloc` (the caller frees it with `xfree`). SHOULD: a 1 MiB buffer signs too (munged refuses payloads near its 1 MiB request limit, so Debian's cred/munge gets a warning here, not a failure).", "seed:cred sign"},
	"CRED-FAILVAL":     {"A rejection is a non-zero return (MUST, what the framework acts on); per the seed it SHOULD be `SLURM_ERROR` with errno set.", "seed:cred, slurm:slurm_cred.c"},
}
