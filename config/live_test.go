package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var fixedTime = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

// sub returns an edit replacing old by new, once, in a config's source.
func sub(old, new string) func(string) string {
	return func(s string) string {
		if !strings.Contains(s, old) {
			panic("edit does not apply: " + old)
		}
		return strings.Replace(s, old, new, 1)
	}
}

type acceptLog struct {
	how     []string
	changes [][]Change
}

func newLive(t *testing.T, src string) (*Live, string, *acceptLog) {
	t.Helper()
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	path := writeConfig(t, src)
	l, err := NewLive(path)
	require.NoError(t, err)
	log := &acceptLog{}
	l.OnAccept = func(a *Accepted, c []Change) error {
		log.how = append(log.how, a.How)
		log.changes = append(log.changes, c)
		return nil
	}
	l.Now = func() time.Time { return fixedTime }
	return l, path, log
}

func TestLiveAcceptsTheFirstConfigOnFirstUse(t *testing.T) {
	key := testKey(t)
	l, path, log := newLive(t, baseline(key))
	s, err := l.Load()
	require.NoError(t, err)
	require.Empty(t, s.Pending)
	require.Equal(t, []string{AcceptedFirstUse}, log.how)
	require.Equal(t, AcceptedFirstUse, s.Accepted.How)
	want, err := DefaultStateDir(path)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(want, AcceptedFileName), s.RecordPath)
	require.Equal(t, 2, s.Config.Stacks[0].Policy.Approvals)

	// A second read changes nothing and accepts nothing.
	again, err := l.Load()
	require.NoError(t, err)
	require.Same(t, s, again)
	require.Len(t, log.how, 1)
}

func TestLiveTighteningAppliesAtOnceAndForGood(t *testing.T) {
	key := testKey(t)
	l, path, log := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	// A human raises approvals: the next read enforces it and records it.
	mustWrite(t, path, sub("approvals          = 2\n    deletion_approvals = 2", "approvals          = 3\n    deletion_approvals = 3")(baseline(key)))
	s, err := l.Load()
	require.NoError(t, err)
	require.Equal(t, 3, s.Config.Stacks[0].Policy.Approvals)
	require.Empty(t, s.Pending)
	require.Equal(t, []string{AcceptedFirstUse, AcceptedStricter}, log.how)
	require.Len(t, log.changes[1], 2)

	// Putting the old value back is a loosening now: it waits.
	mustWrite(t, path, baseline(key))
	s, err = l.Load()
	require.NoError(t, err)
	require.Equal(t, 3, s.Config.Stacks[0].Policy.Approvals)
	require.Len(t, s.Pending, 2)
	require.Contains(t, s.PendingNote(), `stack "web": approvals: 3 -> 2`)

	// A new process reads the same record.
	l2, err := NewLive(path)
	require.NoError(t, err)
	s2, err := l2.Load()
	require.NoError(t, err)
	require.Equal(t, 3, s2.Config.Stacks[0].Policy.Approvals)
}

func TestLiveLooseningWaitsForAcceptance(t *testing.T) {
	key := testKey(t)
	l, path, log := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	mallory := testKey(t)
	edited := baseline(key) + `approver "mallory" { public_key = "` + mallory + `" }` + "\n"
	mustWrite(t, path, edited)
	s, err := l.Load()
	require.NoError(t, err)
	_, trusted := s.Config.Approver("mallory")
	require.False(t, trusted, "an approver added to the file is not trusted before acceptance")
	require.True(t, s.PendingApprover("mallory"))
	require.Len(t, s.Signers(), 1)
	require.Equal(t, "alice", s.Signers()[0].Name, "only an accepted approver may accept")

	// The file changes under the approver's eyes: nothing is accepted.
	mustWrite(t, path, edited+"\n")
	_, err = l.Accept(s, "alice", "fp")
	require.ErrorContains(t, err, "changed while you reviewed")

	s, err = l.Load()
	require.NoError(t, err)
	a, err := l.Accept(s, "alice", "fp")
	require.NoError(t, err)
	require.Equal(t, AcceptedByApprover, a.How)
	require.Equal(t, s.FileSHA256, a.ConfigSHA256)
	s, err = l.Load()
	require.NoError(t, err)
	require.Empty(t, s.Pending)
	_, trusted = s.Config.Approver("mallory")
	require.True(t, trusted)
	require.Equal(t, []string{AcceptedFirstUse}, log.how, "an approver's acceptance is audited by its caller")
}

func TestLiveStateDirCannotBringAFreshAcceptance(t *testing.T) {
	key := testKey(t)
	l, path, _ := newLive(t, baseline(key))
	_, err := l.Load()
	require.NoError(t, err)

	// The agent points state_dir at a new directory and adds itself.
	edited := sub(`state_dir = "state"`, `state_dir = "fresh"`)(baseline(key)) + `approver "mallory" { public_key = "` + testKey(t) + `" }` + "\n"
	mustWrite(t, path, edited)
	for _, live := range []*Live{l, {Path: path}} { // this process, and after a restart
		s, err := live.Load()
		require.NoError(t, err)
		require.Equal(t, filepath.Join(filepath.Dir(path), "state"), s.Config.StateDir)
		_, trusted := s.Config.Approver("mallory")
		require.False(t, trusted)
		require.Len(t, s.Pending, 2)
	}
}

func TestLiveRefusesAnUnreadableRecord(t *testing.T) {
	l, _, _ := newLive(t, baseline(testKey(t)))
	s, err := l.Load()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.RecordPath, []byte(`{"version": 1, "how": "first_use"`), 0o600))
	_, err = l.Load()
	require.ErrorContains(t, err, "is not readable")
	require.ErrorContains(t, err, "restore it from a backup")
}

func TestLiveRefusesABrokenFile(t *testing.T) {
	l, path, _ := newLive(t, baseline(testKey(t)))
	_, err := l.Load()
	require.NoError(t, err)
	mustWrite(t, path, "stack {")
	_, err = l.Load()
	require.ErrorContains(t, err, "plangate.hcl")
}

func TestLiveFirstApproverMayAcceptItself(t *testing.T) {
	noApprovers := baseline(testKey(t))
	noApprovers = noApprovers[:strings.Index(noApprovers, "approver")]
	l, path, _ := newLive(t, noApprovers)
	_, err := l.Load()
	require.NoError(t, err)
	mustWrite(t, path, noApprovers+`approver "alice" { public_key = "`+testKey(t)+`" }`+"\n")
	s, err := l.Load()
	require.NoError(t, err)
	require.Len(t, s.Pending, 1)
	require.Len(t, s.Signers(), 1, "with no approver accepted, the file's first approver may accept")
}

func TestLivePinKeepsTheOpenedStateDir(t *testing.T) {
	l, path, _ := newLive(t, baseline(testKey(t)))
	l.Pin("/srv/opened")
	s, err := l.Load()
	require.NoError(t, err)
	require.Equal(t, "/srv/opened", s.Config.StateDir)
	require.Equal(t, filepath.Join(filepath.Dir(path), "state"), s.File.StateDir)
}

// Stricter settings whose acceptance cannot be audited still apply; they
// are recorded once the audit log takes them. A first use that cannot be
// audited accepts nothing.
func TestLiveAuditsBeforeItRecords(t *testing.T) {
	key := testKey(t)
	l, path, log := newLive(t, baseline(key))
	broken := errors.New("disk full")
	audited := l.OnAccept
	l.OnAccept = func(*Accepted, []Change) error { return broken }
	_, err := l.Load()
	require.ErrorContains(t, err, "nothing was accepted")
	rp, err := l.recordPath()
	require.NoError(t, err)
	require.NoFileExists(t, rp)

	l.OnAccept = audited
	_, err = l.Load()
	require.NoError(t, err)
	mustWrite(t, path, sub("approvals          = 2\n    deletion_approvals = 2", "approvals          = 3\n    deletion_approvals = 3")(baseline(key)))
	l.OnAccept = func(*Accepted, []Change) error { return broken }
	s, err := l.Load()
	require.NoError(t, err)
	require.Equal(t, 3, s.Config.Stacks[0].Policy.Approvals, "stricter applies even unrecorded")
	require.Contains(t, s.Unrecorded, "disk full")
	require.Equal(t, 2, s.Accepted.Settings.Stacks[0].Policy.Approvals)

	l.OnAccept = audited
	s, err = l.Load()
	require.NoError(t, err)
	require.Empty(t, s.Unrecorded)
	require.Equal(t, 3, s.Accepted.Settings.Stacks[0].Policy.Approvals)
	require.Equal(t, []string{AcceptedFirstUse, AcceptedStricter}, log.how)
}
