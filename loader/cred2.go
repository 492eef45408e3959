package loader

import (
	"encoding/binary"
	"fmt"

	"github.com/plugincheck/plugincheck/loader/internal/wire"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// The 23.11+ cred API passes whole structures (slurm_cred_arg_t,
// sbcast_cred_arg_t) and returns others (slurm_cred_t, sbcast_cred_t). The
// facade builds and reads them in the worker's memory from the release's
// layouts in profile.CredABIs; every block it builds comes from the host's
// xmalloc, as slurmctld's would.

// Identity is identity_t.
type Identity struct {
	UID, GID                uint32
	Name, Gecos, Dir, Shell string
	GIDs                    []uint32
	GroupNames              []string // nil, or one per GID
}

// Bitmap is a bitstr_t: Bits bits, those of Set set.
type Bitmap struct {
	Bits int64
	Set  []int64
}

// bitstrMagic is word 0 of every bitstr_t (src/common/bitstring.c).
const bitstrMagic = 0x42434445

// CredArg is the part of slurm_cred_arg_t the suite fills and compares:
// every member cred_create packs except the GRES lists, node addresses and
// switch data (NULL here), which need host objects.
type CredArg struct {
	Sluid                         uint64 // 24.11+
	JobID, StepID, StepHetComp    uint32
	UID, GID                      uint32
	ID                            *Identity
	CoresPerSocket                []uint16 // core_array_size entries each
	SocketsPerNode                []uint16
	SockCoreRepCount              []uint32
	CPUArray                      []uint16 // cpu_array_count entries each
	CPUArrayReps                  []uint32
	JobMemAlloc                   []uint64 // job_mem_alloc_size entries each
	JobMemAllocRepCount           []uint32
	StepMemAlloc                  []uint64
	StepMemAllocRepCount          []uint32
	JobCoreSpec, JobOversubscribe uint16
	JobRestartCnt, JobX11         uint16
	JobExclusive                  uint16 // 26.05+
	JobEndTime, JobStartTime      int64
	JobNhosts, JobNtasks          uint32
	// Strings; "" is NULL.
	JobAccount, JobAliasList, JobComment, JobConstraints, JobExtra, JobHostlist, JobLicenses string
	JobPartition, JobQos, JobReservation, JobSelinuxContext, JobStdErr, JobStdIn, JobStdOut  string
	StepHostlist                                                                             string
	// The job's and the step's core bitmaps: slurmd tests them when it
	// launches a step (a NULL one crashes it).
	JobCoreBitmap, StepCoreBitmap *Bitmap
}

// SbcastArg is sbcast_cred_arg_t.
type SbcastArg struct {
	Sluid                   uint64 // 25.11+ (inside step_id)
	JobID, HetJobID, StepID uint32
	StepHetComp             uint32 // 25.11+
	ID                      *Identity
	Expiration              int64
	Nodes                   string
}

// CredView is what the framework reads from a slurm_cred_t or sbcast_cred_t.
type CredView struct {
	Ptr      uintptr
	Verified bool
	// Signature is the signature string (ok false: NULL).
	Signature string
	HasSig    bool
	SigOffset uint32 // slurm_cred_t only
	Ctime     int64
	Buffer    []byte // the packed credential, when it holds one
	HasBuffer bool
	Arg       *CredArg   // slurm_cred_t
	Sbcast    *SbcastArg // sbcast_cred_t
}

// mem builds one structure image.
type mem struct {
	l *profile.Layout
	b []byte
}

func newMem(l *profile.Layout) *mem { return &mem{l: l, b: make([]byte, l.Size())} }

func (m *mem) put(name string, size int, v uint64) {
	off, ok := m.l.Offset(name)
	if !ok {
		return // a member this release does not have
	}
	switch size {
	case 1:
		m.b[off] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(m.b[off:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(m.b[off:], uint32(v))
	default:
		binary.LittleEndian.PutUint64(m.b[off:], v)
	}
}

func (m *mem) get(name string, size int) uint64 {
	off, ok := m.l.Offset(name)
	if !ok || off+size > len(m.b) {
		return 0
	}
	switch size {
	case 1:
		return uint64(m.b[off])
	case 2:
		return uint64(binary.LittleEndian.Uint16(m.b[off:]))
	case 4:
		return uint64(binary.LittleEndian.Uint32(m.b[off:]))
	}
	return binary.LittleEndian.Uint64(m.b[off:])
}

// builder allocates blocks in the worker.
type builder struct {
	w   *Worker
	err error
}

func (b *builder) alloc(data []byte) uint64 {
	if b.err != nil || data == nil {
		return 0
	}
	p, err := b.w.Alloc(data, true)
	if err == nil && p == 0 {
		err = fmt.Errorf("xmalloc of %d bytes failed in the worker", len(data))
	}
	b.err = err
	return uint64(p)
}

func (b *builder) str(s string) uint64 {
	if s == "" {
		return 0
	}
	return b.alloc(append([]byte(s), 0))
}

// array copies an array of integers into an xmalloc'd block (NULL when
// empty), in the host's byte order.
func array[T uint16 | uint32 | uint64](b *builder, v []T) uint64 {
	if len(v) == 0 {
		return 0
	}
	out, err := binary.Append(nil, binary.LittleEndian, v)
	if err != nil {
		b.err = err
		return 0
	}
	return b.alloc(out)
}

// bitmap writes a bitstr_t as bit_alloc makes one: int64 words, the magic
// and the number of bits, then the bits.
func (b *builder) bitmap(bm *Bitmap) uint64 {
	if bm == nil {
		return 0
	}
	words := make([]uint64, 2+(bm.Bits+63)/64)
	words[0], words[1] = bitstrMagic, uint64(bm.Bits)
	for _, i := range bm.Set {
		words[2+i/64] |= 1 << (i % 64)
	}
	out, err := binary.Append(nil, binary.LittleEndian, words)
	if err != nil {
		b.err = err
		return 0
	}
	return b.alloc(out)
}

func (b *builder) identity(l *profile.Layout, id *Identity) uint64 {
	if id == nil {
		return 0
	}
	m := newMem(l)
	m.put("uid", 4, uint64(id.UID))
	m.put("gid", 4, uint64(id.GID))
	m.put("pw_name", 8, b.str(id.Name))
	m.put("pw_gecos", 8, b.str(id.Gecos))
	m.put("pw_dir", 8, b.str(id.Dir))
	m.put("pw_shell", 8, b.str(id.Shell))
	m.put("ngids", 4, uint64(len(id.GIDs)))
	m.put("gids", 8, array(b, id.GIDs))
	if id.GroupNames != nil {
		ptrs := make([]byte, 8*len(id.GroupNames))
		for i, n := range id.GroupNames {
			binary.LittleEndian.PutUint64(ptrs[8*i:], b.str(n))
		}
		m.put("gr_names", 8, b.alloc(ptrs))
	}
	return b.alloc(m.b)
}

// BuildCredArg writes a slurm_cred_arg_t into the worker (xmalloc'd, as
// are all the blocks it points to) and returns its address.
func (c *Cred) BuildCredArg(abi *profile.CredABI, a *CredArg) (uintptr, error) {
	b := &builder{w: c.W}
	m := newMem(abi.Arg)
	m.put("step_id.sluid", 8, a.Sluid)
	m.put("step_id.job_id", 4, uint64(a.JobID))
	m.put("step_id.step_het_comp", 4, uint64(a.StepHetComp))
	m.put("step_id.step_id", 4, uint64(a.StepID))
	m.put("uid", 4, uint64(a.UID))
	m.put("gid", 4, uint64(a.GID))
	m.put("id", 8, b.identity(abi.Identity, a.ID))
	m.put("core_array_size", 2, uint64(len(a.CoresPerSocket)))
	m.put("cores_per_socket", 8, array(b, a.CoresPerSocket))
	m.put("sockets_per_node", 8, array(b, a.SocketsPerNode))
	m.put("sock_core_rep_count", 8, array(b, a.SockCoreRepCount))
	m.put("cpu_array_count", 4, uint64(len(a.CPUArray)))
	m.put("cpu_array", 8, array(b, a.CPUArray))
	m.put("cpu_array_reps", 8, array(b, a.CPUArrayReps))
	m.put("job_mem_alloc_size", 4, uint64(len(a.JobMemAlloc)))
	m.put("job_mem_alloc", 8, array(b, a.JobMemAlloc))
	m.put("job_mem_alloc_rep_count", 8, array(b, a.JobMemAllocRepCount))
	m.put("step_mem_alloc_size", 4, uint64(len(a.StepMemAlloc)))
	m.put("step_mem_alloc", 8, array(b, a.StepMemAlloc))
	m.put("step_mem_alloc_rep_count", 8, array(b, a.StepMemAllocRepCount))
	m.put("job_core_spec", 2, uint64(a.JobCoreSpec))
	m.put("job_oversubscribe", 2, uint64(a.JobOversubscribe))
	m.put("job_restart_cnt", 2, uint64(a.JobRestartCnt))
	m.put("job_x11", 2, uint64(a.JobX11))
	m.put("job_exclusive", 2, uint64(a.JobExclusive))
	m.put("job_end_time", 8, uint64(a.JobEndTime))
	m.put("job_start_time", 8, uint64(a.JobStartTime))
	m.put("job_nhosts", 4, uint64(a.JobNhosts))
	m.put("job_ntasks", 4, uint64(a.JobNtasks))
	for name, s := range a.strings() {
		m.put(name, 8, b.str(*s))
	}
	m.put("job_core_bitmap", 8, b.bitmap(a.JobCoreBitmap))
	m.put("step_core_bitmap", 8, b.bitmap(a.StepCoreBitmap))
	p := b.alloc(m.b)
	return uintptr(p), b.err
}

// strings maps the string members to their fields.
func (a *CredArg) strings() map[string]*string {
	return map[string]*string{
		"job_account": &a.JobAccount, "job_alias_list": &a.JobAliasList, "job_comment": &a.JobComment,
		"job_constraints": &a.JobConstraints, "job_extra": &a.JobExtra, "job_hostlist": &a.JobHostlist,
		"job_licenses": &a.JobLicenses, "job_partition": &a.JobPartition, "job_qos": &a.JobQos,
		"job_reservation": &a.JobReservation, "job_selinux_context": &a.JobSelinuxContext,
		"job_std_err": &a.JobStdErr, "job_std_in": &a.JobStdIn, "job_std_out": &a.JobStdOut,
		"step_hostlist": &a.StepHostlist,
	}
}

// BuildSbcastArg writes a sbcast_cred_arg_t into the worker.
func (c *Cred) BuildSbcastArg(abi *profile.CredABI, a *SbcastArg) (uintptr, error) {
	b := &builder{w: c.W}
	m := newMem(abi.SbcastArg)
	m.put("job_id", 4, uint64(a.JobID))
	m.put("step_id", 4, uint64(a.StepID)) // up to 25.05 (a plain uint32_t)
	m.put("step_id.sluid", 8, a.Sluid)    // 25.11+
	m.put("step_id.job_id", 4, uint64(a.JobID))
	m.put("step_id.step_het_comp", 4, uint64(a.StepHetComp))
	m.put("step_id.step_id", 4, uint64(a.StepID))
	m.put("het_job_id", 4, uint64(a.HetJobID))
	m.put("id", 8, b.identity(abi.Identity, a.ID))
	m.put("expiration", 8, uint64(a.Expiration))
	m.put("nodes", 8, b.str(a.Nodes))
	p := b.alloc(m.b)
	return uintptr(p), b.err
}

// Create calls cred_p_create with a slurm_cred_arg_t built from a.
func (c *Cred) Create(abi *profile.CredABI, a *CredArg, signIt bool, pv uint16) (uintptr, Result, error) {
	arg, err := c.BuildCredArg(abi, a)
	if err != nil {
		return 0, Result{}, err
	}
	return c.CreateWith(Ptr(arg), signIt, pv)
}

// CreateWith passes cred_p_create's argument as given (NULL, say).
func (c *Cred) CreateWith(arg Arg, signIt bool, pv uint16) (uintptr, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpCredCreate, arg, Int(b2i(signIt)), Int(int64(pv)))
	return r.Ptr(), r, err
}

// SbcastCreate calls sbcast_p_create with a sbcast_cred_arg_t built from a.
func (c *Cred) SbcastCreate(abi *profile.CredABI, a *SbcastArg, pv uint16) (uintptr, Result, error) {
	arg, err := c.BuildSbcastArg(abi, a)
	if err != nil {
		return 0, Result{}, err
	}
	return c.SbcastCreateWith(Ptr(arg), pv)
}

// SbcastCreateWith passes sbcast_p_create's argument as given.
func (c *Cred) SbcastCreateWith(arg Arg, pv uint16) (uintptr, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpSbcastCreate, arg, Int(int64(pv)))
	return r.Ptr(), r, err
}

// CredBuffer reads only the packed bytes of a slurm_cred_t or
// sbcast_cred_t (l is its layout).
func (c *Cred) CredBuffer(l *profile.Layout, p uintptr) ([]byte, error) {
	r := &reader{w: c.W}
	m := r.mem(l, uint64(p))
	b, ok := r.buffer(m.get("buffer", 8))
	if r.err == nil && !ok {
		r.err = fmt.Errorf("the credential at %#x has no buffer", p)
	}
	return b, r.err
}

// reader reads structures out of the worker.
type reader struct {
	w   *Worker
	err error
}

func (r *reader) read(p uint64, n int) []byte {
	if r.err != nil || p == 0 || n <= 0 {
		return nil
	}
	b, ok, err := r.w.Read(uintptr(p), n)
	if err == nil && !ok {
		err = fmt.Errorf("%d bytes at %#x are not readable", n, p)
	}
	r.err = err
	return b
}

func (r *reader) mem(l *profile.Layout, p uint64) *mem {
	b := r.read(p, l.Size())
	if b == nil {
		return newMem(l)
	}
	return &mem{l: l, b: b}
}

func (r *reader) str(p uint64) string {
	if r.err != nil || p == 0 {
		return ""
	}
	s, ok, err := r.w.CStringAt(uintptr(p), 1<<20)
	if err == nil && !ok {
		err = fmt.Errorf("string at %#x is not readable", p)
	}
	r.err = err
	return s
}

// readArray reads n integers at p; nil when n is 0 or p is NULL.
func readArray[T uint16 | uint32 | uint64](r *reader, p uint64, n int) []T {
	if n <= 0 {
		return nil
	}
	if n > 1<<20 {
		r.err = fmt.Errorf("an array of %d elements at %#x: not a count the suite gave", n, p)
		return nil
	}
	out := make([]T, n)
	b := r.read(p, n*binary.Size(out[0]))
	if _, err := binary.Decode(b, binary.LittleEndian, out); err != nil {
		return nil
	}
	return out
}

// bitmap reads a bitstr_t; nil for NULL.
func (r *reader) bitmap(p uint64) *Bitmap {
	if p == 0 {
		return nil
	}
	head := readArray[uint64](r, p, 2)
	if len(head) < 2 {
		return nil
	}
	if head[0] != bitstrMagic || head[1] > 1<<24 {
		r.err = fmt.Errorf("the bitmap at %#x is no bitstr_t (magic %#x, %d bits)", p, head[0], head[1])
		return nil
	}
	bm := &Bitmap{Bits: int64(head[1])}
	words := readArray[uint64](r, p, 2+int((bm.Bits+63)/64))
	for i := int64(0); i < bm.Bits && len(words) > 0; i++ {
		if words[2+i/64]&(1<<(i%64)) != 0 {
			bm.Set = append(bm.Set, i)
		}
	}
	return bm
}

func (r *reader) identity(l *profile.Layout, p uint64) *Identity {
	if p == 0 {
		return nil
	}
	m := r.mem(l, p)
	id := &Identity{UID: uint32(m.get("uid", 4)), GID: uint32(m.get("gid", 4)),
		Name: r.str(m.get("pw_name", 8)), Gecos: r.str(m.get("pw_gecos", 8)), Dir: r.str(m.get("pw_dir", 8)),
		Shell: r.str(m.get("pw_shell", 8))}
	n := int(int32(m.get("ngids", 4)))
	if n < 0 || n > 1<<16 {
		r.err = fmt.Errorf("identity_t at %#x has ngids %d", p, n)
		return id
	}
	id.GIDs = readArray[uint32](r, m.get("gids", 8), n)
	if names := m.get("gr_names", 8); names != 0 && n > 0 {
		ptrs := r.read(names, 8*n)
		for i := 0; i+8 <= len(ptrs); i += 8 {
			id.GroupNames = append(id.GroupNames, r.str(binary.LittleEndian.Uint64(ptrs[i:])))
		}
	}
	return id
}

func (r *reader) buffer(p uint64) ([]byte, bool) {
	if r.err != nil || p == 0 {
		return nil, false
	}
	st, err := r.w.Buf(uintptr(p))
	r.err = err
	if err == nil && st.Magic != profile.BufMagic {
		r.err = fmt.Errorf("buffer at %#x has magic %#x, not BUF_MAGIC", p, st.Magic)
	}
	return st.Data, err == nil
}

// ReadCred reads a slurm_cred_t and the arguments it carries.
func (c *Cred) ReadCred(abi *profile.CredABI, p uintptr) (*CredView, error) {
	r := &reader{w: c.W}
	m := r.mem(abi.Cred, uint64(p))
	v := &CredView{Ptr: p, Verified: m.get("verified", 1) != 0, SigOffset: uint32(m.get("sig_offset", 4)),
		Ctime: int64(m.get("ctime", 8))}
	if sp := m.get("signature", 8); sp != 0 {
		v.Signature, v.HasSig = r.str(sp), true
	}
	v.Buffer, v.HasBuffer = r.buffer(m.get("buffer", 8))
	if ap := m.get("arg", 8); ap != 0 {
		v.Arg = r.credArg(abi, ap)
	}
	return v, r.err
}

func (r *reader) credArg(abi *profile.CredABI, p uint64) *CredArg {
	m := r.mem(abi.Arg, p)
	a := &CredArg{Sluid: m.get("step_id.sluid", 8), JobID: uint32(m.get("step_id.job_id", 4)),
		StepID: uint32(m.get("step_id.step_id", 4)), StepHetComp: uint32(m.get("step_id.step_het_comp", 4)),
		UID: uint32(m.get("uid", 4)), GID: uint32(m.get("gid", 4)),
		JobCoreSpec: uint16(m.get("job_core_spec", 2)), JobOversubscribe: uint16(m.get("job_oversubscribe", 2)),
		JobRestartCnt: uint16(m.get("job_restart_cnt", 2)), JobX11: uint16(m.get("job_x11", 2)),
		JobExclusive: uint16(m.get("job_exclusive", 2)),
		JobEndTime:   int64(m.get("job_end_time", 8)), JobStartTime: int64(m.get("job_start_time", 8)),
		JobNhosts: uint32(m.get("job_nhosts", 4)), JobNtasks: uint32(m.get("job_ntasks", 4))}
	a.ID = r.identity(abi.Identity, m.get("id", 8))
	n := int(m.get("core_array_size", 2))
	a.CoresPerSocket = readArray[uint16](r, m.get("cores_per_socket", 8), n)
	a.SocketsPerNode = readArray[uint16](r, m.get("sockets_per_node", 8), n)
	a.SockCoreRepCount = readArray[uint32](r, m.get("sock_core_rep_count", 8), n)
	n = int(m.get("cpu_array_count", 4))
	a.CPUArray = readArray[uint16](r, m.get("cpu_array", 8), n)
	a.CPUArrayReps = readArray[uint32](r, m.get("cpu_array_reps", 8), n)
	n = int(m.get("job_mem_alloc_size", 4))
	a.JobMemAlloc = readArray[uint64](r, m.get("job_mem_alloc", 8), n)
	a.JobMemAllocRepCount = readArray[uint32](r, m.get("job_mem_alloc_rep_count", 8), n)
	n = int(m.get("step_mem_alloc_size", 4))
	a.StepMemAlloc = readArray[uint64](r, m.get("step_mem_alloc", 8), n)
	a.StepMemAllocRepCount = readArray[uint32](r, m.get("step_mem_alloc_rep_count", 8), n)
	for name, s := range a.strings() {
		*s = r.str(m.get(name, 8))
	}
	a.JobCoreBitmap = r.bitmap(m.get("job_core_bitmap", 8))
	a.StepCoreBitmap = r.bitmap(m.get("step_core_bitmap", 8))
	return a
}

// ReadSbcast reads a sbcast_cred_t.
func (c *Cred) ReadSbcast(abi *profile.CredABI, p uintptr) (*CredView, error) {
	r := &reader{w: c.W}
	m := r.mem(abi.Sbcast, uint64(p))
	v := &CredView{Ptr: p, Verified: m.get("verified", 1) != 0, Ctime: int64(m.get("ctime", 8))}
	if sp := m.get("signature", 8); sp != 0 {
		v.Signature, v.HasSig = r.str(sp), true
	}
	v.Buffer, v.HasBuffer = r.buffer(m.get("buffer", 8))
	a := &SbcastArg{HetJobID: uint32(m.get("arg.het_job_id", 4)), Expiration: int64(m.get("arg.expiration", 8)),
		Nodes: r.str(m.get("arg.nodes", 8))}
	if abi.SbcastArg.Has("step_id.job_id") {
		a.Sluid, a.JobID = m.get("arg.step_id.sluid", 8), uint32(m.get("arg.step_id.job_id", 4))
		a.StepID, a.StepHetComp = uint32(m.get("arg.step_id.step_id", 4)), uint32(m.get("arg.step_id.step_het_comp", 4))
	} else {
		a.JobID, a.StepID = uint32(m.get("arg.job_id", 4)), uint32(m.get("arg.step_id", 4))
	}
	a.ID = r.identity(abi.Identity, m.get("arg.id", 8))
	v.Sbcast = a
	return v, r.err
}

// Cycles2 runs cred_p_create → cred_p_unpack of a copy of the packed bytes
// → slurm_cred_destroy of both, iterations times on each of threads OS
// threads inside the worker, on the argument structure at arg (from
// BuildCredArg). With verify, every unpacked credential must be verified
// (the worker runs as slurmd).
func (c *Cred) Cycles2(abi *profile.CredABI, threads, iterations int, arg uintptr, pv uint16, verify bool) (CycleResult, error) {
	create, unpack := c.Profile.Func(profile.OpCredCreate), c.Profile.Func(profile.OpCredUnpack)
	destroy := c.W.symbolIndex("slurm_cred_destroy")
	if create == nil || unpack == nil || destroy < 0 {
		return CycleResult{}, &NotInGenerationError{Op: profile.OpCredCreate, Generation: c.Profile.Name}
	}
	req := wire.Cred2Cycles{
		Threads: uint8(threads), Iterations: uint32(iterations), Arg: uint64(arg), Protocol: pv,
		Create: c.W.symbolIndex(create.Symbol), Unpack: c.W.symbolIndex(unpack.Symbol), Destroy: destroy,
		BufferOff: uint32(abi.Cred.MustOffset("buffer")), VerifiedOff: uint32(abi.Cred.MustOffset("verified")), Verify: verify,
	}
	return c.W.cycles("cred2 cycles", &req, iterations)
}

// SockaddrSize is sizeof(slurm_addr_t), a struct sockaddr_storage.
const SockaddrSize = 128

// NetAddrs is slurm_node_alias_addrs_t with IPv4 node addresses.
type NetAddrs struct {
	Expiration int64
	NodeList   string
	// Addrs are IPv4 addresses and ports, one per node.
	Addrs []NetAddr
}

// NetAddr is one AF_INET slurm_addr_t.
type NetAddr struct {
	IP   [4]byte
	Port uint16
}

// CreateNetCred calls cred_p_create_net_cred on a slurm_node_alias_addrs_t
// built from a; the result is the plugin's string (0 and "" for NULL).
func (c *Cred) CreateNetCred(abi *profile.CredABI, a *NetAddrs, pv uint16) (uintptr, string, Result, error) {
	b := &builder{w: c.W}
	m := newMem(abi.NodeAliasAddrs)
	m.put("expiration", 8, uint64(a.Expiration))
	m.put("node_cnt", 4, uint64(len(a.Addrs)))
	m.put("node_list", 8, b.str(a.NodeList))
	if len(a.Addrs) > 0 {
		addrs := make([]byte, SockaddrSize*len(a.Addrs))
		for i, ad := range a.Addrs {
			sa := addrs[i*SockaddrSize:]
			binary.LittleEndian.PutUint16(sa, 2) // AF_INET
			binary.BigEndian.PutUint16(sa[2:], ad.Port)
			copy(sa[4:8], ad.IP[:])
		}
		m.put("node_addrs", 8, b.alloc(addrs))
	}
	p := b.alloc(m.b)
	if b.err != nil {
		return 0, "", Result{}, b.err
	}
	r, err := call(c.W, c.Profile, profile.OpCreateNetCred, Ptr(uintptr(p)), Int(int64(pv)))
	if err != nil || r.Ptr() == 0 {
		return 0, "", r, err
	}
	s, ok, err := c.W.CStringAt(r.Ptr(), 1<<20)
	if err == nil && !ok {
		err = fmt.Errorf("the net credential at %#x is not readable", r.Ptr())
	}
	return r.Ptr(), s, r, err
}

// ExtractNetCred calls cred_p_extract_net_cred on the string s (exactly
// its bytes and the NUL, ending at a guard page) and reads what it
// returns; nil when it returned NULL.
func (c *Cred) ExtractNetCred(abi *profile.CredABI, s string, pv uint16) (*NetAddrs, Result, error) {
	r, err := call(c.W, c.Profile, profile.OpExtractNetCred, Guarded(append([]byte(s), 0)), Int(int64(pv)))
	if err != nil || r.Ptr() == 0 {
		return nil, r, err
	}
	rd := &reader{w: c.W}
	m := rd.mem(abi.NodeAliasAddrs, uint64(r.Ptr()))
	a := &NetAddrs{Expiration: int64(m.get("expiration", 8)), NodeList: rd.str(m.get("node_list", 8))}
	n := int(m.get("node_cnt", 4))
	if n > 1<<16 {
		return a, r, fmt.Errorf("the extracted net credential has node_cnt %d", n)
	}
	raw := rd.read(m.get("node_addrs", 8), n*SockaddrSize)
	for i := 0; i+SockaddrSize <= len(raw); i += SockaddrSize {
		var ad NetAddr
		if binary.LittleEndian.Uint16(raw[i:]) == 2 {
			ad.Port = binary.BigEndian.Uint16(raw[i+2:])
			copy(ad.IP[:], raw[i+4:i+8])
		}
		a.Addrs = append(a.Addrs, ad)
	}
	return a, r, rd.err
}
