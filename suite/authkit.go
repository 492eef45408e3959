package suite

import (
	"os"
	"strings"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// authKit is an initialised auth plugin in one worker, with the steps specs
// keep repeating. Every step asserts that the worker survived it.
type authKit struct {
	c  *Ctx
	a  *loader.Auth
	pv uint16
}

func (c *Ctx) authKit() *authKit {
	return &authKit{c: c, a: c.Auth(), pv: c.Protocol()}
}

// create makes a credential for any uid with data, which must succeed.
func (k *authKit) create(data []byte) uintptr {
	cred, r, err := k.a.Create(k.c.AuthInfo(), profile.SlurmAuthUIDAny, data)
	Expect(err).NotTo(HaveOccurred())
	Expect(cred).NotTo(BeZero(), "create returned NULL, errno %d", r.Errno)
	return cred
}

func (k *authKit) pack(cred uintptr) []byte {
	b, rc, r, err := k.a.PackBytes(cred, k.pv)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "pack returned %d, errno %d", rc, r.Errno)
	return b
}

// unpack must succeed and consume exactly b.
func (k *authKit) unpack(b []byte) uintptr {
	cred, consumed, r, err := k.a.UnpackBytes(b, k.pv)
	Expect(err).NotTo(HaveOccurred())
	Expect(cred).NotTo(BeZero(), "unpack of %d packed bytes returned NULL, errno %d", len(b), r.Errno)
	Expect(consumed).To(Equal(len(b)), "unpack consumed %d of the %d bytes pack wrote", consumed, len(b))
	return cred
}

func (k *authKit) verify(cred uintptr) (int32, int32) {
	rc, r, err := k.a.Verify(cred, k.c.AuthInfo())
	Expect(err).NotTo(HaveOccurred())
	return rc, r.Errno
}

func (k *authKit) mustVerify(cred uintptr) {
	rc, errno := k.verify(cred)
	Expect(rc).To(BeZero(), "verify returned %d, errno %d", rc, errno)
}

func (k *authKit) ids(cred uintptr) (uint32, uint32) {
	uid, gid, _, _, err := k.a.IDs(cred)
	Expect(err).NotTo(HaveOccurred())
	return uid, gid
}

func (k *authKit) destroy(cred uintptr) {
	_, _, err := k.a.Destroy(cred)
	Expect(err).NotTo(HaveOccurred())
}

// fresh is a created credential packed and unpacked into a new object, the
// way a daemon receives one.
func (k *authKit) fresh(data []byte) (received uintptr, packed []byte) {
	cred := k.create(data)
	packed = k.pack(cred)
	k.destroy(cred)
	return k.unpack(packed), packed
}

// workerIDs is the identity the worker runs under.
func (c *Ctx) workerIDs() (uint32, uint32) {
	uid, gid := c.run.sandbox.UID, c.run.sandbox.GID
	return uint32(uid), uint32(gid)
}

// shortHost is the machine's name cut at the first dot, what Slurm calls
// the short host name.
func shortHost() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	return h
}

// flips returns every single-byte change of b, with the bit that changes
// (0x01, so printable text stays mostly printable).
func flips(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		v := append([]byte(nil), b...)
		v[i] ^= 0x01
		out[i] = v
	}
	return out
}
