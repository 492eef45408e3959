package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// mungePrefix starts every MUNGE credential (base64 between "MUNGE:" and
// ":"), which auth/munge packs as a string into each RPC's auth section.
var mungePrefix = []byte("MUNGE:")

// tamperRelay forwards TCP connections to slurmctld and flips one bit in
// the middle of the first MUNGE credential a client sends on each. The
// relay knows that much of the message layout and no more: a credential
// of another format passes untouched, and it says so.
type tamperRelay struct {
	ln       net.Listener
	target   string
	mu       sync.Mutex
	tampered int // credentials changed
	conns    int
	wg       sync.WaitGroup
}

func startTamperRelay(ctldPort int) (*tamperRelay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &tamperRelay{ln: ln, target: fmt.Sprintf("127.0.0.1:%d", ctldPort)}
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

func (r *tamperRelay) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *tamperRelay) serve() {
	defer r.wg.Done()
	for {
		client, err := r.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.DialTimeout("tcp", r.target, 5*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		r.mu.Lock()
		r.conns++
		r.mu.Unlock()
		r.wg.Add(2)
		go func() { defer r.wg.Done(); io.Copy(client, server); client.Close() }()
		go func() { defer r.wg.Done(); r.forward(server, client); server.Close() }()
	}
}

// forward copies the client's bytes to slurmctld, changing the first
// MUNGE credential it sees (it may straddle reads: the bytes are held
// until the credential's end is in).
func (r *tamperRelay) forward(dst io.Writer, src net.Conn) {
	var held []byte
	done := false
	buf := make([]byte, 64<<10)
	for {
		src.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := src.Read(buf)
		if n > 0 {
			if done {
				dst.Write(buf[:n])
			} else {
				held = append(held, buf[:n]...)
				if i := bytes.Index(held, mungePrefix); i >= 0 {
					body := held[i+len(mungePrefix):]
					if end := bytes.IndexByte(body, ':'); end > 8 {
						// A base64 character becomes another one: the
						// credential still decodes, and its MAC fails.
						p := i + len(mungePrefix) + end/2
						if held[p] == 'A' {
							held[p] = 'B'
						} else {
							held[p] = 'A'
						}
						r.mu.Lock()
						r.tampered++
						r.mu.Unlock()
						done = true
					}
				}
				if done || len(held) > 1<<20 {
					dst.Write(held)
					held, done = nil, true
				}
			}
		}
		if err != nil {
			if len(held) > 0 {
				dst.Write(held)
			}
			return
		}
	}
}

func (r *tamperRelay) stop() (tampered, conns int) {
	r.ln.Close()
	r.wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tampered, r.conns
}

// tamper checks E2E-TAMPER for an auth plugin: a client's RPC whose
// credential a relay changed in flight must be refused, and slurmctld
// must stay up.
func (k *checker) tamper() {
	const id = "E2E-TAMPER"
	if k.kind != "auth" {
		k.notTested(id, "the credential of a client's RPC is the auth plugin's (auth/munge here); changing a job credential in flight needs the launch message's layout, which the relay does not know (CRED2-TAMPER covers the plugin's side)")
		return
	}
	if !k.usable(id) {
		return
	}
	k.progress(id)
	relay, err := startTamperRelay(0)
	if err != nil {
		k.notTested(id, "a relay: "+err.Error())
		return
	}
	conf, ctldPort, err := k.c.WriteConfRelayed("tampered.conf", relay.port())
	relay.target = fmt.Sprintf("127.0.0.1:%d", ctldPort)
	if err != nil {
		relay.stop()
		k.notTested(id, err.Error())
		return
	}
	logBefore := k.authErrorLines()
	r := k.c.Client(k.ctx, k.sub, conf, nil, 30*time.Second, "squeue")
	tampered, conns := relay.stop()
	switch {
	case conns == 0:
		k.notTested(id, "the client did not connect through the relay")
		return
	case tampered == 0:
		k.notTested(id, fmt.Sprintf("the relay found no MUNGE credential in %s's RPCs: it knows no other credential format", k.rep.Type))
		return
	case r.Err == nil:
		k.fail(id, "slurmctld served an RPC whose MUNGE credential the relay had changed", r)
		return
	}
	logged := k.authErrorLines() > logBefore
	if !authErr.MatchString(r.Stderr) && !logged {
		k.fail(id, "the client whose credential was changed failed, but not with an authentication error (neither it nor slurmctld's log says so)", r)
		return
	}
	if d := k.c.Dead(); d != "" {
		k.fail(id, "the daemons did not stay up after a changed credential", r)
		return
	}
	ping := k.client(Root, 10*time.Second, "scontrol", "ping")
	if ping.Err != nil || !strings.Contains(ping.Stdout, "is UP") {
		k.fail(id, "slurmctld stopped answering after a changed credential", r, ping)
		return
	}
	why := firstLine(r.Stderr)
	if logged {
		if m := authLogLine.FindAll(readTail(k.c.Ctld.Log, 8<<20), -1); len(m) > 0 {
			why += "; slurmctld: " + strings.TrimSpace(string(m[len(m)-1]))
		}
	}
	k.pass(id, fmt.Sprintf("refused a credential changed in flight (%d changed): %s", tampered, why))
}
