package suite

import (
	"context"

	. "github.com/onsi/gomega"

	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// lifecycleOf is the init/fini/use surface common to both kinds.
type lifecycleOf struct {
	init, fini func() (loader.Result, error)
	// use exercises the plugin once (a full credential cycle, or a
	// sign/verify), failing the spec when it does not work.
	use func()
}

func (c *Ctx) lifecycle(w *loader.Worker) lifecycleOf {
	if c.Target().Plugin.Kind() == profile.Auth {
		a, err := w.Auth()
		Expect(err).NotTo(HaveOccurred())
		k := &authKit{c: c, a: a, pv: c.Protocol()}
		return lifecycleOf{init: a.Init, fini: a.Fini, use: func() {
			cred, _ := k.fresh([]byte("lifecycle"))
			k.mustVerify(cred)
			k.destroy(cred)
		}}
	}
	cr, err := w.Cred()
	Expect(err).NotTo(HaveOccurred())
	return lifecycleOf{init: cr.Init, fini: cr.Fini, use: func() { c.credUse(cr) }}
}

const heapSlack = 64 << 10

// finiSlack allows for what the C library keeps after a plugin's first use
// (stdio buffers, name-service caches): a plugin that leaks its state
// leaks far more.
const finiSlack = 256 << 10

func init() {
	register(Spec{Clause: "LIFE-INIT", Level: Must, Kinds: bothKind, Area: Lifecycle,
		Text: "init() returns SLURM_SUCCESS in a correctly configured host",
		Body: func(c *Ctx) {
			w := c.Start()
			if !w.Has("init") {
				c.NotApplicable("the plugin exports no init()")
			}
			r, err := w.Call("init")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Int()).To(BeZero(), "init() returned %d, errno %d", r.Int(), r.Errno)
		}})
	register(Spec{Clause: "LIFE-ERRNO0", Level: Should, Kinds: bothKind, Area: Lifecycle,
		Text: "errno is SLURM_SUCCESS after a successful init()",
		Body: func(c *Ctx) {
			w := c.Start()
			if !w.Has("init") {
				c.NotApplicable("the plugin exports no init()")
			}
			r, err := w.Call("init")
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Int()).To(BeZero(), "init() failed")
			Expect(r.Errno).To(BeZero(), "init() succeeded but left errno %d", r.Errno)
		}})
	register(Spec{Clause: "LIFE-FINI", Level: Must, Kinds: bothKind, Area: Lifecycle,
		Text: "fini() succeeds after init() alone",
		Body: func(c *Ctx) {
			w := c.Start()
			if !w.Has("fini") {
				c.NotApplicable("the plugin exports no fini()")
			}
			l := c.lifecycle(w)
			_, err := l.init()
			Expect(err).NotTo(HaveOccurred())
			r, err := l.fini()
			Expect(err).NotTo(HaveOccurred())
			if !c.Target().Series.FiniVoid && w.Target().Profile.Func(profile.OpFini).Ret == profile.Int {
				Expect(r.Int()).To(BeElementOf(int32(0), int32(-1)), "fini() returned %d", r.Int())
			}
		}})
	register(Spec{Clause: "LIFE-FINI", Level: Must, Kinds: bothKind, Area: Lifecycle,
		Text: "after use and fini(), heap in use is back near where it was before init()",
		Body: func(c *Ctx) {
			w := c.Start()
			if !w.Has("fini") {
				c.NotApplicable("the plugin exports no fini()")
			}
			l := c.lifecycle(w)
			before, err := w.HeapInUse()
			Expect(err).NotTo(HaveOccurred())
			_, err = l.init()
			Expect(err).NotTo(HaveOccurred())
			l.use()
			_, err = l.fini()
			Expect(err).NotTo(HaveOccurred())
			after, err := w.HeapInUse()
			Expect(err).NotTo(HaveOccurred())
			Expect(int64(after)-int64(before)).To(BeNumerically("<", finiSlack),
				"heap grew by %d bytes over init, use and fini", int64(after)-int64(before))
		}})
	register(Spec{Clause: "LIFE-RELOAD", Level: Must, Kinds: bothKind, Area: Lifecycle,
		Text: "load, init, use, fini, unload works three times over with bounded memory",
		Body: func(c *Ctx) {
			w := c.Start()
			var heap []uint64
			for round := 0; round < 4; round++ {
				l := c.lifecycle(w)
				if w.Has("init") {
					r, err := l.init()
					Expect(err).NotTo(HaveOccurred())
					Expect(r.Int()).To(BeZero(), "init() in load %d returned %d", round+1, r.Int())
				}
				l.use()
				if w.Has("fini") {
					_, err := l.fini()
					Expect(err).NotTo(HaveOccurred())
				}
				_, err := w.Reload()
				Expect(err).NotTo(HaveOccurred(), "unload and load again (round %d)", round+1)
				h, err := w.HeapInUse()
				Expect(err).NotTo(HaveOccurred())
				heap = append(heap, h)
			}
			// The first round may keep one-time allocations; later rounds
			// must not add up.
			Expect(int64(heap[3])-int64(heap[1])).To(BeNumerically("<", 2*heapSlack),
				"heap after each reload: %v", heap)
		}})
	register(Spec{Clause: "LIFE-REINIT", Level: Should, Kinds: bothKind, Area: Lifecycle,
		Text: "init() after fini() on the same loaded image gives a working plugin",
		Body: func(c *Ctx) {
			w := c.Start()
			if !w.Has("init") || !w.Has("fini") {
				c.NotApplicable("the plugin lacks init() or fini()")
			}
			l := c.lifecycle(w)
			l.init()
			l.use()
			l.fini()
			r, err := l.init()
			Expect(err).NotTo(HaveOccurred())
			Expect(r.Int()).To(BeZero(), "second init() returned %d", r.Int())
			l.use()
		}})
	register(Spec{Clause: "LIFE-BADCONF", Level: Should, Kinds: bothKind, Area: Lifecycle,
		Text: "with an unreachable daemon socket and a missing key file, init() or the first use fails cleanly",
		Body: func(c *Ctx) { c.badConf() }})
}

// badConf runs init and one use in a host whose AuthInfo names a socket and
// a key file that do not exist. Failing is fine; ending the process or
// failing without SLURM_ERROR and errno is not.
func (c *Ctx) badConf() {
	sb, err := c.Target().NewSandbox(loader.SandboxOptions{
		AuthInfo:    "socket=/nonexistent/plugincheck/munge.sock,key=/nonexistent/plugincheck/key",
		CallTimeout: c.run.cfg.CallTimeout, Daemon: c.run.cfg.Daemon, ExtraConf: c.run.cfg.ConfLines,
		Env: c.run.cfg.Env,
	})
	Expect(err).NotTo(HaveOccurred())
	defer sb.Close()
	w, err := sb.Start(context.Background())
	Expect(err).NotTo(HaveOccurred(), "loading the plugin with a broken AuthInfo")
	c.workers = append(c.workers, w)
	if w.Has("init") {
		r, err := w.Call("init")
		Expect(err).NotTo(HaveOccurred(), "init() with a broken environment must not end the process")
		if r.Int() != 0 {
			Expect(r.Int()).To(Equal(int32(-1)), "init() failed with %d, not SLURM_ERROR", r.Int())
			Expect(r.Errno).NotTo(BeZero(), "init() failed without setting errno")
			return
		}
	}
	bad := "socket=/nonexistent/plugincheck/munge.sock,key=/nonexistent/plugincheck/key"
	if c.Target().Plugin.Kind() == profile.Auth {
		a, _ := w.Auth()
		cred, r, err := a.Create(bad, profile.SlurmAuthUIDAny, []byte("x"))
		Expect(err).NotTo(HaveOccurred(), "create with a broken environment must not end the process")
		if cred == 0 {
			Expect(r.Errno).NotTo(BeZero(), "create failed without setting errno")
			return
		}
		rc, r, err := a.Verify(cred, bad)
		Expect(err).NotTo(HaveOccurred(), "verify with a broken environment must not end the process")
		if rc != 0 {
			Expect(rc).To(Equal(int32(-1)), "verify failed with %d, not SLURM_ERROR", rc)
			Expect(r.Errno).NotTo(BeZero(), "verify failed without setting errno")
		}
		return
	}
	c.credBadConf(w)
}
