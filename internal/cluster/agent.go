package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/loader/profile"
	"github.com/plugincheck/plugincheck/suite"
)

// AgentOptions configure the agent srun starts on each node.
type AgentOptions struct {
	// Suite is the unit run's configuration, `plugincheck run`'s flags as
	// the coordinator was given them; its plugin, host (Loader,
	// SlurmConf), AuthInfo, cred keys, Env and CallTimeout configure the
	// credential steps too. An empty AuthInfo there means the AuthInfo line
	// of the node's slurm.conf ($SLURM_CONF, else /etc/slurm/slurm.conf);
	// empty keys, the one key the coordinator hands every node.
	Suite suite.Config
	// Procs is the unit run's --procs.
	Procs int
	// RefuseAuthInfo and RefuseEnv configure the plugin with another key
	// (CLUSTER-REFUSE); "%k" in them is a key file of fresh random bytes
	// the agent writes on its node. Built in for auth/munge (a second
	// munged with its own key) and auth/none.
	RefuseAuthInfo string
	RefuseEnv      []string
}

// KeyPlaceholder in --refuse-auth-info and --refuse-env is replaced by a
// fresh key file on each node.
const KeyPlaceholder = "%k"

// agent is one node's side of a run.
type agent struct {
	o   AgentOptions
	ctx context.Context
	// authInfo is the node's AuthInfo of the credential steps.
	authInfo string
	rank     int
	node     string
	target   *loader.Target
	out      *lineWriter
	keys     keyPair  // a cred plugin's
	undo     []func() // at the agent's end
}

// Agent serves the coordinator's requests read from in, answering on out,
// until in ends or the coordinator says bye. Ginkgo and the plugin must
// not write to out: the caller gives the agent a stream of its own.
func Agent(ctx context.Context, in io.Reader, out io.Writer, o AgentOptions) error {
	a := &agent{o: o, ctx: ctx}
	defer func() {
		for _, u := range a.undo {
			u()
		}
	}()
	a.rank, _ = strconv.Atoi(os.Getenv("SLURM_PROCID"))
	a.out = &lineWriter{w: out, prefix: agentPrefix, fragments: true, rank: a.rank}
	a.node = os.Getenv("SLURMD_NODENAME")
	host, _ := os.Hostname()
	if a.node == "" {
		a.node = host
	}
	if a.authInfo = o.Suite.AuthInfo; a.authInfo == "" {
		a.authInfo = nodeAuthInfo()
	}
	hello := message{Op: opHello, Rank: a.rank, Node: a.node, Host: host, Plugin: o.Suite.Plugin}
	if data, err := os.ReadFile(o.Suite.Plugin); err != nil {
		hello.Error = err.Error()
	} else {
		hello.SHA256 = fmt.Sprintf("%x", sha256.Sum256(data))
		if a.target, err = loader.Open(o.Suite.Plugin, o.Suite.Loader); err != nil {
			hello.Error = err.Error()
		} else {
			hello.PluginType = a.target.Plugin.Type
			if v := a.target.Host.Version; v != nil {
				hello.Slurm = v.String()
			}
		}
	}
	if err := a.out.send(hello); err != nil {
		return err
	}
	// An abort is acted on at once, even in the middle of the unit suite:
	// it interrupts this process as a signal does, so every worker, munged
	// and file is undone (internal/cleanup).
	raw, requests := make(chan message), make(chan message, 64)
	go readMessages(in, "", false, raw, nil)
	go func() {
		defer close(requests)
		for m := range raw {
			if m.Op == opAbort {
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
				continue
			}
			requests <- m
		}
	}()
	for {
		var m message
		var ok bool
		select {
		case m, ok = <-requests:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		if m.Op == opBye {
			// Said last, so the coordinator knows srun has nothing more
			// to wait for.
			return a.out.send(message{Op: opBye, Rank: a.rank})
		}
		var answer message
		switch m.Op {
		case opClock:
			answer = message{ClockNS: time.Now().UnixNano()}
		case opMake:
			answer = a.make(m.Key)
		case opVerify:
			answer = a.verify(m.Creds)
		case opUnit:
			answer = a.unit(m.Seed)
		default:
			continue
		}
		answer.Op, answer.Rank = m.Op, a.rank
		if err := a.out.send(answer); err != nil {
			return err
		}
	}
}

// nodeAuthInfo is the AuthInfo line of the node's slurm.conf.
func nodeAuthInfo() string {
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		conf = "/etc/slurm/slurm.conf"
	}
	f, err := os.Open(conf)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if ok && strings.EqualFold(k, "AuthInfo") {
			return v
		}
	}
	return ""
}

// session is an initialised plugin in a worker, configured with authInfo
// and env: an auth plugin, a key-API cred plugin with its key pair, or a
// 23.11+ cred plugin (abi set) in the daemon of its role.
type session struct {
	sb       *loader.Sandbox
	w        *loader.Worker
	a        *loader.Auth
	c        *loader.Cred
	abi      *profile.CredABI
	priv     uintptr
	pub      uintptr
	authInfo string
}

// role is what a session does with credentials. A 23.11+ cred plugin
// creates as slurmctld and verifies as slurmd (cred_p_unpack verifies only
// there), each in a worker running as that daemon.
type role string

const (
	creator  role = "slurmctld"
	receiver role = "slurmd"
)

// keyPair are a cred plugin's key files.
type keyPair struct{ private, public string }

// errUnsupported marks a plugin whose credentials cluster mode cannot
// exchange yet: the clauses that need them are not tested.
type errUnsupported struct{ why string }

func (e *errUnsupported) Error() string { return e.why }

// keyAPI: a cred plugin of the key API (up to 23.02), whose credentials
// are signatures over data with key files.
func (a *agent) keyAPI() bool {
	return a.target != nil && a.target.Plugin.Kind() == profile.Cred && a.target.Profile.Has(profile.OpSign)
}

// credABI is the release's structures of a 23.11+ cred plugin's job
// credential, or why cluster mode cannot build them.
func (a *agent) credABI() (*profile.CredABI, error) {
	ver := a.target.Plugin.Version
	if ver == nil {
		ver = a.target.Host.Version
	}
	if !a.target.Profile.Has(profile.OpCredCreate) || !a.target.Profile.Has(profile.OpCredUnpack) {
		return nil, &errUnsupported{fmt.Sprintf("%s (%s) has neither the key API's sign/verify_sign nor cred_p_create/cred_p_unpack",
			a.target.Plugin.Type, a.target.Profile.Name)}
	}
	if ver == nil {
		return nil, &errUnsupported{fmt.Sprintf("%s has the 23.11+ cred API and its release is unknown, so are its slurm_cred_arg_t's members", a.target.Plugin.Type)}
	}
	abi := profile.CredABIFor(*ver)
	if abi == nil {
		return nil, &errUnsupported{fmt.Sprintf("%s has the 23.11+ cred API: no slurm_cred_arg_t layout for Slurm %s", a.target.Plugin.Type, ver)}
	}
	return abi, nil
}

func (a *agent) open(authInfo string, env []string, keys keyPair, r role) (*session, error) {
	if a.target == nil {
		return nil, errors.New("the plugin did not open on this node")
	}
	cred := a.target.Plugin.Kind() == profile.Cred
	var abi *profile.CredABI
	if cred && !a.keyAPI() {
		var err error
		if abi, err = a.credABI(); err != nil {
			return nil, err
		}
	}
	sb, err := a.target.NewSandbox(loader.SandboxOptions{SlurmConf: a.o.Suite.SlurmConf, AuthInfo: authInfo, Env: env, CallTimeout: a.o.Suite.CallTimeout})
	if err != nil {
		return nil, err
	}
	s := &session{sb: sb, abi: abi, authInfo: authInfo}
	if abi != nil {
		s.w, err = sb.StartAs(a.ctx, string(r))
	} else {
		s.w, err = sb.Start(a.ctx)
	}
	if err != nil {
		sb.Close()
		return nil, err
	}
	var res loader.Result
	if cred {
		if s.c, err = s.w.Cred(); err == nil {
			res, err = s.c.Init()
		}
	} else if s.a, err = s.w.Auth(); err == nil {
		res, err = s.a.Init()
	}
	if err == nil && res.Int() != 0 {
		err = fmt.Errorf("init returned %d", res.Int())
	}
	if err == nil && abi != nil && s.w.Has("switch_g_init") {
		// As every daemon does at start: cred_create packs switch data
		// and cred_unpack unpacks it through the switch plugins.
		_, err = s.w.Call("switch_g_init", loader.Int(map[role]int64{creator: 0, receiver: 1}[r]))
	}
	if err == nil && abi == nil && cred {
		for _, k := range []struct {
			p    *uintptr
			read func(*string) (uintptr, loader.Result, error)
			path string
		}{{&s.priv, s.c.ReadPrivateKey, keys.private}, {&s.pub, s.c.ReadPublicKey, keys.public}} {
			path := k.path
			if *k.p, res, err = k.read(&path); err == nil && *k.p == 0 {
				err = fmt.Errorf("reading key %s failed, errno %d", path, res.Errno)
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) close() {
	s.w.Close()
	s.sb.Close()
}

func (a *agent) protocol() uint16 {
	if a.target.Series == nil {
		return 0
	}
	return a.target.Series.Protocol
}

// create makes a credential for any receiver carrying data, packed as the
// framework sends it, with the identity it must carry.
func (s *session) create(data []byte, pv uint16) (*Credential, error) {
	if s.abi != nil {
		return s.createJob(data, pv)
	}
	if s.c != nil {
		sig, rc, r, err := s.c.Sign(s.priv, data)
		if err != nil {
			return nil, err
		}
		if rc != 0 || sig.Ptr == 0 {
			return nil, fmt.Errorf("sign returned %d, errno %d", rc, r.Errno)
		}
		defer s.c.FreeSignature(sig)
		b, err := s.c.SignatureBytes(sig)
		if err != nil {
			return nil, err
		}
		return &Credential{Packed: b, Data: data}, nil
	}
	cred, r, err := s.a.Create(s.authInfo, profile.SlurmAuthUIDAny, data)
	if err != nil {
		return nil, err
	}
	if cred == 0 {
		return nil, fmt.Errorf("create returned NULL, errno %d", r.Errno)
	}
	defer s.a.Destroy(cred)
	packed, rc, r, err := s.a.PackBytes(cred, pv)
	if err != nil {
		return nil, err
	}
	if rc != 0 {
		return nil, fmt.Errorf("pack returned %d, errno %d", rc, r.Errno)
	}
	return &Credential{Packed: packed, UID: uint32(s.sb.UID), GID: uint32(s.sb.GID), Data: data}, nil
}

// make creates the node's credential, and one with another key where the
// agent knows how to configure one. key is the cluster's cred key when the
// user gave none (the coordinator hands every node the same).
func (a *agent) make(key []byte) message {
	var m message
	if a.o.Suite.PrivateKey != "" {
		a.keys = keyPair{a.o.Suite.PrivateKey, a.o.Suite.PublicKey}
	} else if a.keyAPI() {
		path, remove, err := keyFile("cluster", key)
		if err != nil {
			m.Error = err.Error()
			return m
		}
		a.undo = append(a.undo, remove)
		a.keys = keyPair{path, path}
	}
	s, err := a.open(a.authInfo, a.o.Suite.Env, a.keys, creator)
	if err != nil {
		var u *errUnsupported
		if errors.As(err, &u) {
			m.Unsupported = u.why
		} else {
			m.Error = err.Error()
		}
		return m
	}
	data := []byte(fmt.Sprintf("plugincheck cluster: created on %s (rank %d)", a.node, a.rank))
	m.Good, err = s.create(data, a.protocol())
	s.close()
	if err != nil {
		m.Error = "creating a credential: " + err.Error()
		return m
	}
	m.Good.From = a.rank
	info, env, keys, undo, note := a.otherKey()
	defer undo()
	if note != "" {
		m.OtherNote = note
		return m
	}
	o, err := a.open(info, env, keys, creator)
	if err != nil {
		m.OtherNote = "the plugin configured with another key did not start: " + err.Error()
		return m
	}
	defer o.close()
	if m.Other, err = o.create(data, a.protocol()); err != nil {
		m.OtherNote = "creating a credential with another key: " + err.Error()
		return m
	}
	m.Other.From, m.Other.OtherKey = a.rank, true
	return m
}

// otherKey is the configuration of the plugin with another key: what the
// user gave, else built in for munge plugins (a munged of its own) and
// auth/none and cred/none (which ignore it, by design), and for key-API
// cred plugins (a key of its own). note says why there is none.
func (a *agent) otherKey() (info string, env []string, keys keyPair, undo func(), note string) {
	undo = func() {}
	keys = a.keys
	fresh := func() (string, error) {
		p, remove, err := keyFile("other", nil)
		if err == nil {
			undo = remove
		}
		return p, err
	}
	if a.o.RefuseAuthInfo != "" || len(a.o.RefuseEnv) > 0 {
		// The refusing settings come last: they win over --env's.
		info, env = a.o.RefuseAuthInfo, append(append([]string(nil), a.o.Suite.Env...), a.o.RefuseEnv...)
		if strings.Contains(info+strings.Join(env, "\x00"), KeyPlaceholder) {
			key, err := fresh()
			if err != nil {
				return "", nil, keys, undo, "a key file for " + KeyPlaceholder + ": " + err.Error()
			}
			info = strings.ReplaceAll(info, KeyPlaceholder, key)
			for i := range env {
				env[i] = strings.ReplaceAll(env[i], KeyPlaceholder, key)
			}
		}
		return info, env, keys, undo, ""
	}
	switch {
	case a.target.Plugin.Minor() == "munge" || a.target.Plugin.Minor() == "none":
		// Another munged, another key.
		d, err := munged.Start(a.ctx)
		if err != nil {
			return "", nil, keys, undo, "a second munged with another key: " + err.Error()
		}
		return d.AuthInfo(0), a.o.Suite.Env, keys, func() { d.Stop() }, ""
	case a.keyAPI():
		key, err := fresh()
		if err != nil {
			return "", nil, keys, undo, "another key file: " + err.Error()
		}
		return a.authInfo, a.o.Suite.Env, keyPair{key, key}, undo, ""
	}
	return "", nil, keys, undo, fmt.Sprintf("no built-in way to configure %s with another key: give --refuse-auth-info STR or --refuse-env VAR=VALUE (%s stands for a fresh key file on each node)",
		a.target.Plugin.Type, KeyPlaceholder)
}

// keyFile writes key (nil: 64 fresh random bytes, hex) to a file the
// worker can read, in a directory of its own that remove takes away.
func keyFile(kind string, key []byte) (string, func(), error) {
	dir, forget, err := cleanup.MkdirTemp("cluster-" + kind + "-key")
	if err != nil {
		return "", nil, err
	}
	remove := func() { os.RemoveAll(dir); forget() }
	if key == nil {
		raw := make([]byte, 32)
		rand.Read(raw)
		key = []byte(hex.EncodeToString(raw))
	}
	p := filepath.Join(dir, kind+".key")
	if err := os.Chmod(dir, 0o755); err != nil {
		remove()
		return "", nil, err
	}
	if err := os.WriteFile(p, key, 0o644); err != nil {
		remove()
		return "", nil, err
	}
	return p, remove, nil
}

// verify checks every node's credential on this node: its own as a
// control, every other's for interop; and every credential made with
// another key elsewhere, which must be refused.
func (a *agent) verify(creds []Credential) message {
	var m message
	s, err := a.open(a.authInfo, a.o.Suite.Env, a.keys, receiver)
	if err != nil {
		m.Error = err.Error()
		return m
	}
	defer func() { s.close() }()
	for _, c := range creds {
		if c.Packed == nil {
			continue
		}
		if s.w.Err() != nil {
			// The worker died on an earlier credential: a fresh one for
			// the rest, the death stays that check's finding.
			s.close()
			if s, err = a.open(a.authInfo, a.o.Suite.Env, a.keys, receiver); err != nil {
				m.Error = err.Error()
				return m
			}
		}
		detail, ok := s.accepts(c, a.protocol())
		if c.OtherKey {
			if ok {
				detail = "accepted: " + detail
			}
			m.Refuse = append(m.Refuse, Check{From: c.From, OK: !ok, Detail: detail})
			continue
		}
		m.Interop = append(m.Interop, Check{From: c.From, OK: ok, Detail: detail})
	}
	return m
}

// accepts unpacks and verifies c as a daemon receiving it does, and checks
// identity and data. ok: verified with the right identity and data;
// detail says what happened either way.
func (s *session) accepts(c Credential, pv uint16) (string, bool) {
	if s.abi != nil {
		return s.acceptsJob(c, pv)
	}
	if s.c != nil {
		// A signature has no identity: it verifies over the data or not.
		rc, r, err := s.c.VerifySign(s.pub, c.Data, c.Packed, true)
		switch {
		case err != nil:
			return "verify_sign: " + err.Error(), false
		case rc != 0:
			return fmt.Sprintf("verify_sign returned %d, errno %d", rc, r.Errno), false
		}
		return "verified", true
	}
	cred, consumed, r, err := s.a.UnpackBytes(c.Packed, pv)
	if err != nil {
		return "unpack: " + err.Error(), false
	}
	if cred == 0 {
		return fmt.Sprintf("unpack refused it (errno %d)", r.Errno), false
	}
	defer s.a.Destroy(cred)
	if consumed != len(c.Packed) {
		return fmt.Sprintf("unpack read %d of %d bytes", consumed, len(c.Packed)), false
	}
	rc, r, err := s.a.Verify(cred, s.authInfo)
	if err != nil {
		return "verify: " + err.Error(), false
	}
	if rc != 0 {
		return fmt.Sprintf("verify returned %d, errno %d", rc, r.Errno), false
	}
	uid, gid, _, _, err := s.a.IDs(cred)
	if err != nil {
		return "get ids: " + err.Error(), false
	}
	if c.OtherKey {
		// Verified: accepted, whatever it says.
		return fmt.Sprintf("verified: uid %d gid %d", uid, gid), true
	}
	if uid != c.UID || gid != c.GID {
		return fmt.Sprintf("verified as uid %d gid %d, created by uid %d gid %d", uid, gid, c.UID, c.GID), false
	}
	if s.a.Profile.Has(profile.OpGetData) && c.Data != nil {
		data, _, _, err := s.a.Data(cred)
		if err != nil {
			return "get data: " + err.Error(), false
		}
		if string(data) != string(c.Data) {
			return fmt.Sprintf("data %q, created with %q", data, c.Data), false
		}
	}
	return fmt.Sprintf("verified: uid %d gid %d", uid, gid), true
}

// unit runs the unit suite on this node as `plugincheck run` with the
// cluster's suite flags, and the run's seed.
func (a *agent) unit(seed int64) message {
	var m message
	start := time.Now()
	cfg := a.o.Suite
	cfg.Seed = seed
	sum, err := suite.Run(cfg, suite.RunOptions{Quiet: true, NoColor: true, Procs: a.o.Procs})
	if sum == nil {
		m.Error = "the unit suite did not run: " + err.Error()
		return m
	}
	u := &UnitResult{Verdict: sum.Verdict, Exit: sum.ExitCode(), Clauses: map[string]string{},
		Duration: time.Since(start).Seconds()}
	for _, c := range sum.Clauses {
		u.Clauses[c.ID] = string(c.Result)
	}
	u.Summary, _ = json.Marshal(sum)
	m.Unit = u
	return m
}
