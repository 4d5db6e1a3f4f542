package server

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/peer"
	"github.com/plangate/plangate/tools"
)

// Whom doctor examines, for each kind of peer.
func TestDoctorAgentOf(t *testing.T) {
	me, err := user.Current()
	require.NoError(t, err)

	a, absent, err := agentOf(peer.Peer{Network: "unix", UID: os.Getuid()}, "the unix socket's peer", "")
	require.NoError(t, err)
	assert.Nil(t, absent)
	assert.Equal(t, me.Username, a.Name, "the socket's peer")

	a, _, err = agentOf(peer.Peer{Network: "unix", UID: os.Getuid()}, "the unix socket's peer", "root")
	require.NoError(t, err)
	assert.Equal(t, 0, a.UID, "--agent-user comes before the peer")
	_, _, err = agentOf(peer.Peer{Network: "unix", UID: os.Getuid()}, "", "no-such-user-pg")
	assert.ErrorContains(t, err, "--agent-user no-such-user-pg")

	a, absent, err = agentOf(peer.Peer{Network: "tcp", Addr: "192.0.2.7:50000", UID: -1, Problem: "the peer is on another host"}, "192.0.2.7:50000", "")
	require.NoError(t, err)
	assert.Nil(t, a)
	assert.True(t, absent.Holds, "another host: its user has no account here that doctor sees")
	assert.Contains(t, absent.Fact, "192.0.2.7:50000, another host")

	_, absent, err = agentOf(peer.Peer{Network: "tcp", Addr: "127.0.0.1:50000", Local: true, UID: -1, Problem: "not listed"}, "127.0.0.1:50000", "")
	require.NoError(t, err)
	assert.False(t, absent.Holds, "on this machine, but whose socket is not known")
	assert.Contains(t, absent.Fix, "--agent-user")

	_, absent, err = agentOf(peer.Peer{Network: "unix", UID: 4242424}, "the unix socket's peer", "")
	require.NoError(t, err)
	assert.False(t, absent.Holds)
	assert.Contains(t, absent.Fact, "uid 4242424")
}

type tokenAuth struct{}

func (tokenAuth) Authenticate(bearer string) (*tools.Agent, error) {
	if bearer != "good" {
		return nil, errors.New("not a token of this server")
	}
	return &tools.Agent{Name: "ci"}, nil
}

// GET /human/v1/doctor is behind the agent token on TCP, as /mcp is (the
// rest of the human API is approver-signed instead), and answers the
// checks for the user that owns the peer's socket.
func TestDoctorBehindTheAgentToken(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "web"), 0o755))
	cfg := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("state_dir = \""+filepath.Join(t.TempDir(), "state")+"\"\n\nstack \"web\" {\n  dir = \"web\"\n}\n"), 0o644))
	h := NewHTTPHandler(mcpserver.NewMCPServer("test", "1"), HTTPOptions{
		Auth:   tokenAuth{},
		Human:  &HumanAPI{Gate: &gate.Gate{Config: &config.Config{}}},
		Doctor: &DoctorAPI{Options: doctor.Options{ConfigPath: cfg, KeyDir: t.TempDir()}},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeHTTP(ctx, h, ln, nil, time.Second, nil) }()
	t.Cleanup(func() { cancel(); <-done })

	get := func(path, bearer string) (*http.Response, []byte) {
		req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+path, nil)
		require.NoError(t, err)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var b json.RawMessage
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res, b
	}
	res, _ := get(DoctorPath, "")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "no token")
	res, _ = get(DoctorPath, "bad")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "a wrong token")
	res, body := get(DoctorPath, "good")
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var report DoctorReport
	require.NoError(t, json.Unmarshal(body, &report))
	me, err := user.Current()
	require.NoError(t, err)
	assert.Equal(t, me.Username, report.Agent, "the owner of the peer's socket")
	assert.Contains(t, report.Peer, "on this machine, a socket of uid")
	assert.NotEmpty(t, report.Checks)

	res, _ = get(PlansPath, "")
	assert.Equal(t, http.StatusForbidden, res.StatusCode, "the rest of the human API asks for an approver's signature, not a token")
}
