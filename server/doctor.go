package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"

	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/internal/peer"
)

// plangate doctor --server, run as the agent's user on the agent's
// machine, asks the server: can the user at the other end of this
// connection reach your config, state, Terraform state, environment and
// keys? The server answers with doctor's checks of its own side, for that
// user: on a unix socket the peer's uid, which the kernel recorded when it
// connected; on TCP from this machine (loopback or one of its own
// addresses) the uid that owns the peer's socket; an --agent-user the
// client names instead. A peer on another host has no
// account here that doctor can see, so those checks hold by that fact.
//
// It is an agent's request, not an approver's: it is behind the same
// transport checks as MCP (the socket's group, an agent token on TCP).
// The facts name paths, owners, modes and IAM actions, never a secret.

// DoctorPath is where the server answers plangate doctor --server.
const DoctorPath = HumanPath + "doctor"

// DoctorReport is the answer at DoctorPath.
type DoctorReport struct {
	// Agent is whom the checks are for: an OS user of the server's
	// machine, or, without one, the peer.
	Agent string `json:"agent"`
	// Peer is how the server saw the connection.
	Peer   string         `json:"peer"`
	Checks []doctor.Check `json:"checks"`
}

// DoctorAPI runs doctor in the server for the peer of each request.
type DoctorAPI struct {
	// Options are doctor's on the server's side (config, key dir, key
	// reader); the agent is each request's.
	Options doctor.Options
	Logger  *slog.Logger
	// running keeps doctor to one run at a time: it walks state_dir and
	// may call IAM.
	running sync.Mutex
}

func (d *DoctorAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, humanError{"plangate doctor --server asks with GET " + DoctorPath})
		return
	}
	if !d.running.TryLock() {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusTooManyRequests, humanError{"plangate doctor is running for another client now: try again in a few seconds"})
		return
	}
	defer d.running.Unlock()
	o := d.Options
	o.InServer = true
	p, seen := peerOf(r.Context(), o.Proc)
	report := DoctorReport{Peer: seen}
	var err error
	o.Agent, o.Absent, err = agentOf(p, seen, r.URL.Query().Get("agent_user"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, humanError{err.Error()})
		return
	}
	if o.Agent != nil {
		report.Agent = o.Agent.Name
	} else {
		report.Agent = "the agent at " + seen
	}
	checks, err := doctor.Run(r.Context(), o)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, humanError{"plangate doctor on the server: " + err.Error()})
		return
	}
	report.Checks = checks
	if d.Logger != nil {
		d.Logger.Info("doctor run over the wire", "peer", seen, "agent", report.Agent, "hold", doctor.Holds(checks))
	}
	writeJSON(w, http.StatusOK, report)
}

// agentOf decides whom doctor examines for peer p (seen: how it is
// named): the account named (name, looked up here), the peer's own, or,
// with none, the absence that decides the checks of its access.
func agentOf(p peer.Peer, seen, name string) (*doctor.Account, *doctor.Absent, error) {
	const fix = "pass --agent-user NAME, the agent's OS user on the server's machine"
	switch {
	case name != "":
		a, err := doctor.LookupAccount(name)
		if err != nil {
			return nil, nil, fmt.Errorf("--agent-user %s: %v (the name is looked up on the server's machine)", name, err)
		}
		return a, nil, nil
	case p.UID >= 0:
		a, err := doctor.LookupUID(p.UID)
		if err != nil {
			return nil, &doctor.Absent{Fact: fmt.Sprintf("the agent connects as uid %d: %v", p.UID, err), Fix: fix}, nil
		}
		return a, nil, nil
	case p.Network == "tcp" && !p.Local:
		return nil, &doctor.Absent{Holds: true,
			Fact: fmt.Sprintf("the agent connects from %s, another host: this machine's files and processes are out of its user's reach (unless it also has an account here: doctor --server --agent-user NAME checks that one)", p.Addr)}, nil
	default:
		return nil, &doctor.Absent{Fact: fmt.Sprintf("who the agent is cannot be told: %s (%s)", seen, p.Problem), Fix: fix}, nil
	}
}

// connKey holds a request's connection in its context.
type connKey struct{}

// peerOf is the peer of the request's connection, and how to name it.
func peerOf(ctx context.Context, proc string) (peer.Peer, string) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	if c == nil {
		return peer.Peer{UID: -1, Problem: "the connection is not known"}, "an unknown connection"
	}
	p := peer.Of(c, proc)
	switch {
	case p.Network == "unix" && p.UID >= 0:
		return p, fmt.Sprintf("the unix socket's peer, uid %d (pid %d)", p.UID, p.PID)
	case p.Network == "unix":
		return p, "the unix socket's peer"
	case p.Local && p.UID >= 0:
		return p, fmt.Sprintf("%s on this machine, a socket of uid %d (if a proxy on this machine relays it, the proxy's uid)", p.Addr, p.UID)
	default:
		return p, p.Addr
	}
}
