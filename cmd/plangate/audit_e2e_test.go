package main_test

import (
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cutting lines off the end of the audit log and removing audit.head used
// to go unseen: verify said intact and the next entry wrote a fresh head.
// Now verify fails, plangate refuses to add entries, and a human's reseal,
// itself on the record, is the way on.
func TestAuditHeadRemovedAndTailCut(t *testing.T) {
	k := newKillSwitch(t)
	for _, reason := range []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"} {
		_, stderr, code := k.run("freeze", "--reason", reason, "--config", k.cfg)
		require.Equal(t, 0, code, stderr)
	}
	logPath := filepath.Join(k.stateDir, "audit.jsonl")
	b, err := os.ReadFile(logPath)
	require.NoError(t, err)
	ls := bytes.SplitAfter(b, []byte("\n"))
	ls = ls[:len(ls)-1] // the empty string after the last newline
	require.Greater(t, len(ls), 6)
	kept := bytes.Join(ls[:len(ls)-5], nil)
	require.NoError(t, os.WriteFile(logPath, kept, 0o600))
	require.NoError(t, os.Remove(filepath.Join(k.stateDir, "audit.head")))

	out, stderr, code := k.run("audit", "verify", "--config", k.cfg)
	assert.NotEqual(t, 0, code, "verify fails: %s", out)
	assert.Contains(t, stderr, "BROKEN at line")
	assert.Contains(t, stderr, "audit.head is missing")
	assert.Contains(t, stderr, `plangate audit reseal --reason "..."`)

	_, stderr, code = k.run("freeze", "--reason", "after the cut", "--config", k.cfg)
	assert.NotEqual(t, 0, code, "nothing is appended to the log")
	assert.Contains(t, stderr, "the audit log failed")
	assert.Contains(t, stderr, "plangate audit reseal")
	after, err := os.ReadFile(logPath)
	require.NoError(t, err)
	assert.Equal(t, string(kept), string(after))

	_, stderr, code = k.run("audit", "reseal", "--config", k.cfg)
	assert.Equal(t, 2, code, "a reason is required")
	assert.Contains(t, stderr, "--reason")

	out, stderr, code = k.run("audit", "reseal", "--reason", "restored from the 02:00 backup", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "resealed")
	out, stderr, code = k.run("audit", "verify", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "hash chain intact")

	evs := k.auditEvents()
	last := evs[len(evs)-1]
	assert.Equal(t, "audit_resealed", last["event"])
	assert.Equal(t, "restored from the 02:00 backup", last["reason"])
	assert.Equal(t, "missing", last["previous_head"])
	if u, err := user.Current(); err == nil {
		assert.Equal(t, u.Username, last["actor"], "the OS user resealed it")
	}
	out, stderr, code = k.run("audit", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `audit_resealed +by=\S+ reason="restored from the 02:00 backup" previous_head="missing"`, out)

	out, stderr, code = k.run("audit", "reseal", "--reason", "again", "--config", k.cfg)
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, stderr, "nothing to reseal")

	_, stderr, code = k.run("freeze", "--reason", "after the reseal", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
}

// A ledger from before ledger.head (an upgrade) is refused, not accepted
// silently; one reseal, on the record, takes it on, and from then on a
// removed line shows.
func TestLedgerUpgradeAndTamper(t *testing.T) {
	k := newKillSwitch(t)
	_, stderr, code := k.run("freeze", "--reason", "start the audit log", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	ledger := filepath.Join(k.stateDir, "ledger.jsonl")
	legacy := `{"nonce":"n1","approver":"oncall","plan_id":"p1","fingerprint":"sha256:0000000000000001","used_at":"2026-03-14T12:00:00Z"}` + "\n" +
		`{"nonce":"n2","approver":"oncall","plan_id":"p2","fingerprint":"sha256:0000000000000002","used_at":"2026-03-14T12:00:01Z"}` + "\n"
	require.NoError(t, os.WriteFile(ledger, []byte(legacy), 0o600))

	out, stderr, code := k.run("audit", "verify", "--config", k.cfg)
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, stderr, "approval ledger")
	assert.Contains(t, stderr, "ledger.head is missing")
	assert.Contains(t, stderr, "after an upgrade")
	assert.Contains(t, stderr, "plangate audit reseal")

	out, stderr, code = k.run("audit", "reseal", "--reason", "upgrade", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "approval ledger")
	assert.NotContains(t, out, "audit log "+filepath.Join(k.stateDir, "audit.jsonl")+" resealed", "the audit log needed none")
	out, stderr, code = k.run("audit", "verify", "--config", k.cfg)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "approval ledger")
	evs := k.auditEvents()
	last := evs[len(evs)-1]
	assert.Equal(t, "ledger_resealed", last["event"])
	assert.Equal(t, "upgrade", last["reason"])
	assert.Equal(t, "missing", last["previous_head"])

	// A used nonce removed: verify names the line.
	b, err := os.ReadFile(ledger)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(ledger, bytes.Replace(b, []byte(legacy[:bytes.IndexByte([]byte(legacy), '\n')+1]), nil, 1), 0o600))
	_, stderr, code = k.run("audit", "verify", "--config", k.cfg)
	assert.NotEqual(t, 0, code)
	assert.Contains(t, stderr, "is damaged at line 2")
	_, stderr, code = k.run("audit", "reseal", "--reason", "cover it up", "--config", k.cfg)
	assert.NotEqual(t, 0, code, "a removed line is never resealed")
	assert.Contains(t, stderr, "damaged at line 2")
}
