package gate

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
)

// An agent that edits plangate.hcl replaces alice's public key with one it
// made (keeping the name). One read later the accepted record has lost
// alice (Merge drops a re-keyed approver and the "stricter" ratchet records
// that), so no approver is accepted and the file's own "alice" may sign:
// the agent accepts its own key, audited as "accepted by approver alice".
func TestAttackAgentAcceptsItsOwnKeyUnderAnApproversName(t *testing.T) {
	g, _, _ := approvingGate(t)
	live, err := config.NewLive(g.Config.Path)
	require.NoError(t, err)
	g.Live = live
	s, err := live.Load() // first use: alice, with her key
	require.NoError(t, err)
	aliceKey := config.FormatPublicKey(s.Config.Approvers[0].PublicKey)

	pub, priv, err := approvals.GenerateKey()
	require.NoError(t, err)
	fake := &approvals.PrivateKey{Approver: "alice", Key: priv}
	src, err := os.ReadFile(g.Config.Path)
	require.NoError(t, err)
	edited := strings.Replace(string(src), aliceKey, config.FormatPublicKey(pub), 1)
	edited = strings.Replace(edited, `variables = ["n"]`, `variables = ["n"]
  policy {
    plan_ttl = "168h"
  }`, 1)
	require.NoError(t, os.WriteFile(g.Config.Path, []byte(edited), 0o644))

	s, err = live.Load()
	require.NoError(t, err)
	now := time.Now().UTC()
	req, err := approvals.SignRequest(fake, approvals.ActionConfigAccept, s.FileSHA256, now)
	require.NoError(t, err)
	_, err = g.AcceptConfig(s, req, now)
	require.Error(t, err, "a key the agent wrote into plangate.hcl accepted the file")
}
