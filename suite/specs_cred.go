package suite

import (
	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// credUse signs and verifies once with the key API; the 23.11+ API has
// nothing the suite can call without the release's struct layouts.
func (c *Ctx) credUse(cr *loader.Cred) {
	if !cr.Profile.Has(profile.OpSign) {
		return
	}
	priv := c.run.cfg.PrivateKey
	pub := c.run.cfg.PublicKey
	key, r, err := cr.ReadPrivateKey(optPath(priv))
	Expect(err).NotTo(HaveOccurred())
	Expect(key).NotTo(BeZero(), "read_private_key returned NULL, errno %d", r.Errno)
	vkey, r, err := cr.ReadPublicKey(optPath(pub))
	Expect(err).NotTo(HaveOccurred())
	Expect(vkey).NotTo(BeZero(), "read_public_key returned NULL, errno %d", r.Errno)
	data := []byte("plugincheck cred")
	sig, rc, r, err := cr.Sign(key, data)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "sign returned %d, errno %d", rc, r.Errno)
	b, err := cr.SignatureBytes(sig)
	Expect(err).NotTo(HaveOccurred())
	rc, r, err = cr.VerifySign(vkey, data, b, true)
	Expect(err).NotTo(HaveOccurred())
	Expect(rc).To(BeZero(), "verify_sign returned %d, errno %d", rc, r.Errno)
	Expect(cr.FreeSignature(sig)).To(Succeed())
	_, err = cr.DestroyKey(key)
	Expect(err).NotTo(HaveOccurred())
	_, err = cr.DestroyKey(vkey)
	Expect(err).NotTo(HaveOccurred())
}

func optPath(p string) *string {
	if p == "" {
		return nil
	}
	return &p
}

// credBadConf reads keys and signs in a broken environment.
func (c *Ctx) credBadConf(w *loader.Worker) {
	cr, err := w.Cred()
	Expect(err).NotTo(HaveOccurred())
	if !cr.Profile.Has(profile.OpSign) {
		return
	}
	missing := "/nonexistent/plugincheck/key"
	key, r, err := cr.ReadPrivateKey(&missing)
	Expect(err).NotTo(HaveOccurred(), "read_private_key with a broken environment must not end the process")
	if key == 0 {
		Expect(r.Errno).NotTo(BeZero(), "read_private_key failed without errno")
		return
	}
	_, rc, r, err := cr.Sign(key, []byte("x"))
	Expect(err).NotTo(HaveOccurred(), "sign with a broken environment must not end the process")
	if rc != 0 {
		Expect(r.Errno|rc).NotTo(BeZero(), "sign failed without a reason")
	}
}
