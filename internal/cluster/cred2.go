package cluster

import (
	"fmt"

	"github.com/plugincheck/plugincheck/loader"
)

// The 23.11+ cred API across nodes: a node's credential is a job
// credential slurmctld would send, made with cred_p_create (sign_it) in a
// worker running as slurmctld and packed; every node unpacks it with
// cred_p_unpack in a worker running as slurmd, which verifies it there,
// as a slurmd receiving a launch request does. The arguments are built
// from the release's structure layouts (loader's cred2 facade), and the
// creating node's name and rank travel in the job's comment, so a
// receiver checks it got that node's job and not just any.

// jobArg is the job credential's arguments: one task on one node, one
// core, the identity the worker runs as, data in the comment.
func (s *session) jobArg(data []byte) *loader.CredArg {
	uid, gid := uint32(s.sb.UID), uint32(s.sb.GID)
	oneCore := &loader.Bitmap{Bits: 1, Set: []int64{0}}
	return &loader.CredArg{JobID: 15, StepID: 0, StepHetComp: 0xfffffffe, UID: uid, GID: gid,
		ID:             &loader.Identity{UID: uid, GID: gid, Name: "plugincheck", Dir: "/nonexistent", Shell: "/bin/sh", GIDs: []uint32{gid}},
		CoresPerSocket: []uint16{1}, SocketsPerNode: []uint16{1}, SockCoreRepCount: []uint32{1},
		CPUArray: []uint16{1}, CPUArrayReps: []uint32{1}, JobNhosts: 1, JobNtasks: 1,
		JobComment: string(data), JobHostlist: "n1", StepHostlist: "n1",
		JobCoreBitmap: oneCore, StepCoreBitmap: oneCore}
}

// createJob makes a signed job credential carrying data and returns its
// packed bytes, as slurmctld sends them.
func (s *session) createJob(data []byte, pv uint16) (*Credential, error) {
	want := s.jobArg(data)
	p, r, err := s.c.Create(s.abi, want, true, pv)
	if err != nil {
		return nil, fmt.Errorf("cred_p_create: %w", err)
	}
	if p == 0 {
		return nil, fmt.Errorf("cred_p_create returned NULL, errno %d", r.Errno)
	}
	packed, err := s.c.CredBuffer(s.abi.Cred, p)
	if err != nil {
		return nil, fmt.Errorf("the packed credential: %w", err)
	}
	return &Credential{Packed: packed, UID: want.UID, GID: want.GID, Data: data}, nil
}

// acceptsJob unpacks c as slurmd, from a buffer that ends where its bytes
// do, and checks it verified and carries the creator's identity and data.
func (s *session) acceptsJob(c Credential, pv uint16) (string, bool) {
	buf, err := s.w.NewGuardedBuf(c.Packed)
	if err != nil {
		return "unpack: " + err.Error(), false
	}
	defer s.w.FreeBuf(buf)
	p, r, err := s.c.Unpack(buf, pv)
	switch {
	case err != nil:
		return "cred_p_unpack: " + err.Error(), false
	case p == 0:
		return fmt.Sprintf("cred_p_unpack as slurmd refused it (errno %d)", r.Errno), false
	}
	st, err := s.w.Buf(buf)
	if err != nil {
		return "unpack: " + err.Error(), false
	}
	if int(st.Processed) != len(c.Packed) {
		return fmt.Sprintf("cred_p_unpack read %d of %d bytes", st.Processed, len(c.Packed)), false
	}
	v, err := s.c.ReadCred(s.abi, p)
	if err != nil {
		return "reading the unpacked credential: " + err.Error(), false
	}
	if !v.Verified {
		return "cred_p_unpack as slurmd returned it unverified", false
	}
	if v.Arg == nil {
		return "the unpacked credential has no arguments (arg is NULL)", false
	}
	if c.OtherKey {
		// Verified: accepted, whatever it says.
		return fmt.Sprintf("verified: uid %d gid %d", v.Arg.UID, v.Arg.GID), true
	}
	if v.Arg.UID != c.UID || v.Arg.GID != c.GID {
		return fmt.Sprintf("verified as uid %d gid %d, created by uid %d gid %d", v.Arg.UID, v.Arg.GID, c.UID, c.GID), false
	}
	if v.Arg.JobComment != string(c.Data) {
		return fmt.Sprintf("job comment %q, created with %q", v.Arg.JobComment, c.Data), false
	}
	return fmt.Sprintf("verified: uid %d gid %d", v.Arg.UID, v.Arg.GID), true
}
