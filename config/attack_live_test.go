package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Attacks on the accepted-config record by an agent that edits files in
// the repository holding plangate.hcl (it cannot write the record, nor
// sign with a human approver's key). Each test fails while the attack works.

func withoutApprover(src, name string) string {
	return regexp.MustCompile(`(?m)^approver "`+name+`" \{[^}]*\}\n`).ReplaceAllString(src, "")
}

// Attack 1: plangate.hcl replaced by a symlink to an edited copy. The
// record's place is hashed from the config path with symlinks resolved, so
// the symlink's target has no record, and the edited copy is "first use".
func TestAttackSymlinkedConfigGetsNoFreshFirstUse(t *testing.T) {
	key := testKey(t)
	l, path, _ := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	evil := sub("approvals          = 2\n    deletion_approvals = 2", "approvals          = 1\n    deletion_approvals = 1")(baseline(key)) +
		`approver "mallory" { public_key = "` + testKey(t) + `" }` + "\n"
	target := filepath.Join(filepath.Dir(path), ".plangate-real.hcl")
	mustWrite(t, target, evil)
	require.NoError(t, os.Remove(path))
	require.NoError(t, os.Symlink(filepath.Base(target), path))

	for name, live := range map[string]*Live{"running": l, "restarted": {Path: path}} {
		s, err := live.Load()
		if err != nil {
			continue // refusing the swapped file is a fix too
		}
		_, trusted := s.Config.Approver("mallory")
		require.False(t, trusted, "%s: an approver added through a symlink swap is trusted", name)
		require.Equal(t, 2, s.Config.Stacks[0].Policy.Approvals, "%s: fewer approvals through a symlink swap apply at once (record %s)", name, s.RecordPath)
	}
}

// Attack 2: remove every approver. That is "stricter" and is recorded at
// once; with no approver accepted, Signers falls back to the file's own
// approvers, so the agent's approver can accept itself.
func TestAttackRemovingEveryApproverDoesNotLetTheFileSign(t *testing.T) {
	key := testKey(t)
	l, path, _ := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	mallory := testKey(t)
	// One edit: alice out, mallory in.
	mustWrite(t, path, withoutApprover(baseline(key), "alice")+`approver "mallory" { public_key = "`+mallory+`" }`+"\n")
	s, err := l.Load()
	require.NoError(t, err)
	require.True(t, s.PendingApprover("mallory"))
	for _, a := range s.Signers() {
		require.NotEqual(t, "mallory", a.Name, "the approver the agent added may accept the file that adds it")
	}
}

// Attack 2b: give alice a new key (the agent's). Merge leaves alice out of
// the enforced config, the ratchet records that as "stricter" (with no
// change listed), and Signers then offers alice with the file's new key:
// the agent accepts "as alice".
func TestAttackApproverKeyChangeIsNotAcceptedWithTheNewKey(t *testing.T) {
	key := testKey(t)
	l, path, log := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	agentKey := testKey(t)
	mustWrite(t, path, strings.Replace(baseline(key), key, agentKey, 1))
	s, err := l.Load()
	require.NoError(t, err)
	require.True(t, s.PendingApprover("alice"))

	names := map[string]bool{}
	for _, a := range s.Accepted.Settings.Approvers {
		names[a.Name] = true
	}
	require.True(t, names["alice"], "a key change (a loosening) removed alice from the accepted record; audited changes: %v", log.changes)

	for _, a := range s.Signers() {
		require.NotEqual(t, agentKey, FormatPublicKey(a.PublicKey), "the new key, written by whoever edits the file, may accept itself")
	}
}

// Attack 4 (review): a stack removed (stricter, recorded at once) and added
// back with a looser policy is shown to the approver as one line, its dir;
// the policy that acceptance grants is not shown.
func TestAttackReaddedStackShowsThePolicyItGrants(t *testing.T) {
	key := testKey(t)
	l, path, _ := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	noStack := regexp.MustCompile(`(?s)stack "web" \{.*?\n\}\n`).ReplaceAllString(baseline(key), "")
	mustWrite(t, path, noStack)
	_, err = l.Load()
	require.NoError(t, err)

	looser := sub(`protected          = ["terraform_data.db"]`, `protected          = []
    allow_external_data = true`)(baseline(key))
	mustWrite(t, path, looser)
	s, err := l.Load()
	require.NoError(t, err)
	var shown strings.Builder
	for _, c := range s.Pending {
		shown.WriteString(c.String() + "\n")
	}
	require.Contains(t, shown.String(), "allow_external_data", "what the approver reviews:\n%s", shown.String())
}
