package loader

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/plugincheck/plugincheck/internal/cleanup"
	"github.com/plugincheck/plugincheck/loader/munged"
	"github.com/plugincheck/plugincheck/loader/profile"
)

// SessionOptions say how to open a plugin and set up its host. Zero values
// take the defaults, which are those of Open and NewSandbox.
type SessionOptions struct {
	// Loader finds the host library, sysroot and libraries, and may force a
	// generation.
	Loader Options
	// Sandbox is how workers run. Its AuthInfo is the one MungeOptions
	// make.
	Sandbox SandboxOptions
	Munge   MungeOptions
	// PrivateKey and PublicKey are cred key files; without PrivateKey a
	// cred plugin gets a fresh key, written for the workers.
	PrivateKey, PublicKey string
}

// MungeOptions say which munged a plugin talks to and what its AuthInfo is.
type MungeOptions struct {
	// Munged is "auto" to start a private munged, a socket path to use a
	// running one, or "" for none (munge plugins get "auto" when it is
	// empty).
	Munged string
	// AuthInfo is the plugin's AuthInfo; the socket and AuthTTL are added.
	AuthInfo string
	// AuthTTL is the credential lifetime in seconds (0: not configured).
	AuthTTL int
}

// Session is a plugin opened to be run: its host found, a private munged
// when it needs one, a sandbox for its workers and, for a cred plugin, its
// key files.
type Session struct {
	Target  *Target
	Sandbox *Sandbox
	// Munged is the private munged started for the session, nil when none
	// was; Socket is the munged the plugin talks to, "" without one.
	Munged *munged.Daemon
	Socket string
	// AuthInfo is the AuthInfo the plugin is configured with.
	AuthInfo string
	// KeyFile and PublicKey are a cred plugin's key files, readable by
	// the workers (PublicKey is KeyFile unless one was given).
	KeyFile, PublicKey string
}

// OpenSession opens the plugin at path and sets up its host as a run
// does: the host library, a private munged for munge plugins, AuthInfo
// with socket and TTL, the sandbox, and a cred key. Close undoes it.
func OpenSession(path string, o SessionOptions) (*Session, error) {
	t, err := Open(path, o.Loader)
	if err != nil {
		return nil, err
	}
	if err := CheckTempDir(); err != nil {
		return nil, err
	}
	s := &Session{Target: t}
	if s.Munged, s.Socket, s.AuthInfo, err = StartMunge(o.Munge, t); err != nil {
		return nil, err
	}
	sbOpts := o.Sandbox
	sbOpts.AuthInfo = s.AuthInfo
	if s.Sandbox, err = t.NewSandbox(sbOpts); err != nil {
		s.Close()
		return nil, err
	}
	if t.Plugin.Kind() == profile.Cred {
		if s.KeyFile = o.PrivateKey; s.KeyFile == "" {
			key := make([]byte, 32)
			rand.Read(key)
			if s.KeyFile, err = s.Sandbox.KeyFileFor(key); err != nil {
				s.Close()
				return nil, err
			}
		}
		s.PublicKey = o.PublicKey
		if s.PublicKey == "" {
			s.PublicKey = s.KeyFile
		}
	}
	return s, nil
}

// Close removes the sandbox and stops the private munged.
func (s *Session) Close() {
	if s.Sandbox != nil {
		s.Sandbox.Close()
	}
	if s.Munged != nil {
		s.Munged.Stop()
	}
}

// StartMunge starts a private munged for t when o.Munged is "auto" (the
// default for munge plugins), or checks the socket it names, and returns
// the AuthInfo the plugin is configured with: the socket and the TTL added
// to o.AuthInfo. d is nil unless a munged was started; the caller stops it.
func StartMunge(o MungeOptions, t *Target) (d *munged.Daemon, socket, authInfo string, err error) {
	mode := o.Munged
	if mode == "" && t.Plugin.Minor() == "munge" {
		mode = "auto"
	}
	switch mode {
	case "":
	case "auto":
		if d, err = munged.Start(cleanup.Context()); err != nil {
			if cerr := cleanup.Check(); cerr != nil {
				return nil, "", "", cerr
			}
			return nil, "", "", &InputError{Msg: "cannot start a private munged: " + err.Error(), Hint: "install Debian's munge package or pass --munged SOCKET", Err: err}
		}
		socket = d.Socket
	default:
		if err := munged.Probe(mode); err != nil {
			return nil, "", "", &InputError{Msg: "--munged " + mode + ": " + err.Error(), Hint: "give the socket of a running munged, or --munged auto", Err: err}
		}
		socket = mode
	}
	var info []string
	if socket != "" {
		info = append(info, "socket="+socket)
	}
	if o.AuthInfo != "" {
		info = append(info, o.AuthInfo)
	}
	if o.AuthTTL > 0 && !strings.Contains(o.AuthInfo, "ttl=") {
		info = append(info, fmt.Sprintf("ttl=%d", o.AuthTTL))
	}
	return d, socket, strings.Join(info, ","), nil
}
