package suite

import (
	"context"
	"strings"

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
		Long: "a sandbox and a worker for each broken configuration",
		Text: "with a broken AuthInfo, key file, or environment variable naming a file, init() or the first use fails cleanly",
		Body: func(c *Ctx) { c.badConf() }})
}

// badSetup is one way an author's configuration can be broken: the
// AuthInfo, a key file it names, or a file a variable of the plugin's
// environment names.
type badSetup struct {
	what     string
	authInfo string
	env      []string
	keyFile  string // the key file cred specs read
	// plain workers read files with their uid's permissions only.
	plain bool
}

// badSetups are the broken configurations LIFE-BADCONF tries: an
// unreachable socket with a missing key in AuthInfo; AuthInfo's key=
// naming a missing, an unreadable and an empty file; and each SLURM_*
// variable that names a file naming those instead.
func (c *Ctx) badSetups() []badSetup {
	keys := c.run.keys
	broken := []struct {
		what, path string
		plain      bool
	}{{"a missing file", keys.missing, false}, {"an unreadable file", keys.unreadable, true}, {"an empty file", keys.empty, false}}
	out := []badSetup{{what: "AuthInfo with an unreachable socket and a missing key file",
		authInfo: "socket=/nonexistent/plugincheck/munge.sock,key=/nonexistent/plugincheck/key", keyFile: keys.missing}}
	for _, b := range broken {
		out = append(out, badSetup{what: "AuthInfo key= naming " + b.what, authInfo: withKey(c.AuthInfo(), b.path),
			keyFile: b.path, plain: b.plain})
	}
	for _, v := range fileVariables(c.run.cfg.Env) {
		for _, b := range broken {
			out = append(out, badSetup{what: "$" + v[0] + " naming " + b.what, authInfo: c.AuthInfo(),
				env: []string{v[0] + "=" + b.path}, keyFile: b.path, plain: b.plain})
		}
	}
	return out
}

// withKey is info with its key= entry (added when absent) naming path.
func withKey(info, path string) string {
	var out []string
	for _, kv := range strings.Split(info, ",") {
		if kv != "" && !strings.HasPrefix(kv, "key=") {
			out = append(out, kv)
		}
	}
	return strings.Join(append(out, "key="+path), ",")
}

// badConf runs init and one use in each broken configuration. Failing is
// fine; ending the process or failing without SLURM_ERROR and errno is
// not.
func (c *Ctx) badConf() {
	for _, b := range c.badSetups() {
		c.badConfIn(b)
	}
}

func (c *Ctx) badConfIn(b badSetup) {
	// The run's sandbox in the broken setup: its AuthInfo, the run's --env
	// with the setup's variables over it, and the generated slurm.conf
	// (a broken setup is a configuration the plugin reads).
	opts := c.run.cfg.SessionOptions().Sandbox
	opts.SlurmConf, opts.AuthInfo = "", b.authInfo
	opts.WorkerBinary = c.run.sandbox.WorkerBinary()
	opts.Env = append(append([]string(nil), opts.Env...), b.env...)
	sb, err := c.Target().NewSandbox(opts)
	Expect(err).NotTo(HaveOccurred())
	defer sb.Close()
	start := sb.Start
	if b.plain {
		start = sb.StartWithoutKeyAccess
	}
	w, err := start(context.Background())
	Expect(err).NotTo(HaveOccurred(), "loading the plugin with %s", b.what)
	c.workers = append(c.workers, w)
	if w.Has("init") {
		r, err := w.Call("init")
		Expect(err).NotTo(HaveOccurred(), "init() with %s must not end the process", b.what)
		if r.Int() != 0 {
			Expect(r.Int()).To(Equal(int32(-1)), "init() with %s failed with %d, not SLURM_ERROR", b.what, r.Int())
			Expect(r.Errno).NotTo(BeZero(), "init() with %s failed without setting errno", b.what)
			return
		}
	}
	if c.Target().Plugin.Kind() == profile.Auth {
		a, _ := w.Auth()
		cred, r, err := a.Create(b.authInfo, profile.SlurmAuthUIDAny, []byte("x"))
		Expect(err).NotTo(HaveOccurred(), "create with %s must not end the process", b.what)
		if cred == 0 {
			Expect(r.Errno).NotTo(BeZero(), "create with %s failed without setting errno", b.what)
			return
		}
		rc, r, err := a.Verify(cred, b.authInfo)
		Expect(err).NotTo(HaveOccurred(), "verify with %s must not end the process", b.what)
		if rc != 0 {
			Expect(rc).To(Equal(int32(-1)), "verify with %s failed with %d, not SLURM_ERROR", b.what, rc)
			Expect(r.Errno).NotTo(BeZero(), "verify with %s failed without setting errno", b.what)
		}
		return
	}
	c.credBadConf(w, b.keyFile)
}
