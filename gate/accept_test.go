package gate

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
)

// Accepting a config takes a request signed by an accepted approver over
// the file's exact SHA-256; it acts once, and it is audited.
func TestAcceptConfigNeedsAnAcceptedApproverOnce(t *testing.T) {
	g, _, alice := approvingGate(t)
	live, err := config.NewLive(g.Config.Path)
	require.NoError(t, err)
	g.Live = live
	_, err = live.Load() // first use
	require.NoError(t, err)

	src, err := os.ReadFile(g.Config.Path)
	require.NoError(t, err)
	mpub, mpriv, err := approvals.GenerateKey()
	require.NoError(t, err)
	mallory := &approvals.PrivateKey{Approver: "mallory", Key: mpriv}
	require.NoError(t, os.WriteFile(g.Config.Path, append(src, []byte("approver \"mallory\" {\n  public_key = \""+config.FormatPublicKey(mpub)+"\"\n}\n")...), 0o644))
	s, err := live.Load()
	require.NoError(t, err)
	require.Len(t, s.Pending, 1)
	now := time.Now().UTC()

	// The added approver cannot accept itself.
	req, err := approvals.SignRequest(mallory, approvals.ActionConfigAccept, s.FileSHA256, now)
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.ErrorContains(t, err, `"mallory", who is not an approver`)

	// A request for other bytes accepts nothing.
	req, err = approvals.SignRequest(alice, approvals.ActionConfigAccept, strings.Repeat("0", 64), now)
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.Error(t, err)
	// Nor does a request for another action.
	req, err = approvals.SignRequest(alice, approvals.ActionUnfreeze, s.FileSHA256, now)
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.Error(t, err)

	req, err = approvals.SignRequest(alice, approvals.ActionConfigAccept, s.FileSHA256, now)
	require.NoError(t, err)
	a, err := g.AcceptConfig(s, req, now)
	require.NoError(t, err)
	assert.Equal(t, "alice", a.Approver)
	cfg, err := g.Current()
	require.NoError(t, err)
	_, ok := cfg.Approver("mallory")
	assert.True(t, ok)

	// The same request again (a replay) is refused by the ledger.
	s, err = live.Load()
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.ErrorContains(t, err, "nothing was accepted")

	var evs []audit.Event
	require.NoError(t, g.Audit.Read(func(_ int, e audit.Event, _ []byte) error {
		if e.Event == audit.EventConfigAccepted {
			evs = append(evs, e)
		}
		return nil
	}))
	require.Len(t, evs, 1, "first use is audited by the caller (Live.OnAccept); the acceptance here")
	assert.Equal(t, "alice", evs[0].Actor)
	assert.Equal(t, s.FileSHA256, evs[0].ConfigSHA256)
	assert.Equal(t, []string{approvals.Fingerprint(req)}, evs[0].TokenFingerprints)
}

// An acceptance the audit log cannot record is undone: the change still
// waits.
func TestAcceptConfigIsUndoneWithoutAnAuditLine(t *testing.T) {
	g, _, alice := approvingGate(t)
	live, err := config.NewLive(g.Config.Path)
	require.NoError(t, err)
	g.Live = live
	_, err = live.Load()
	require.NoError(t, err)
	src, err := os.ReadFile(g.Config.Path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(g.Config.Path, []byte(strings.Replace(string(src), `variables = ["n"]`, `variables = ["n", "m"]`, 1)), 0o644))
	s, err := live.Load()
	require.NoError(t, err)
	require.Len(t, s.Pending, 1)
	require.NoError(t, os.WriteFile(g.Audit.Path(), nil, 0o600))
	immutable(t, g.Audit.Path())

	now := time.Now().UTC()
	req, err := approvals.SignRequest(alice, approvals.ActionConfigAccept, s.FileSHA256, now)
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.ErrorContains(t, err, "so it was undone")
	s, err = live.Load()
	require.NoError(t, err)
	assert.Len(t, s.Pending, 1, "the change still waits")
}
