package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func commitPlan(t *testing.T, s *Store, stack string) *Record {
	t.Helper()
	d, err := s.NewDraft()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(d.Dir, DiffFile), []byte("diff\n"), 0o600))
	now := time.Now().UTC()
	r := &Record{Stack: stack, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Status: StatusAwaitingApproval}
	require.NoError(t, d.Commit(r))
	return r
}

func TestStoreDraftIsInvisibleUntilCommit(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	d, err := s.NewDraft()
	require.NoError(t, err)
	_, err = s.Get(d.ID)
	assert.ErrorIs(t, err, ErrPlanNotFound)
	recs, err := s.List()
	require.NoError(t, err)
	assert.Empty(t, recs)
	d.Abort()
	assert.NoDirExists(t, d.Dir)

	r := commitPlan(t, s, "web")
	got, err := s.Get(r.ID)
	require.NoError(t, err)
	assert.Equal(t, "web", got.Stack)
	assert.Equal(t, r.ID, got.ID)
	info, err := os.Stat(filepath.Join(s.Dir(r.ID), RecordFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "records are private to their owner")
}

func TestStoreResolve(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	r := commitPlan(t, s, "web")

	for _, ok := range []string{r.ID, r.ID[:8], strings.ToUpper(r.ID[:12]), " " + r.ID[:9] + " "} {
		id, err := s.Resolve(ok)
		require.NoError(t, err, ok)
		assert.Equal(t, r.ID, id)
	}
	for _, bad := range []string{"", "abc", r.ID[:7], "../" + r.ID, r.ID + "/..", "zzzzzzzz", r.ID + "0", ".draft-x"} {
		_, err := s.Resolve(bad)
		assert.Error(t, err, bad)
	}
	_, err = s.Resolve(r.ID[:7])
	assert.ErrorIs(t, err, ErrMalformedID)
	assert.Contains(t, err.Error(), "at least 8")

	// Two plans with one prefix: ambiguous, and the message lists both.
	other := r.ID[:8] + "-0000-4000-8000-000000000000"
	require.NoError(t, os.Mkdir(s.Dir(other), 0o700))
	_, err = s.Resolve(r.ID[:8])
	assert.ErrorIs(t, err, ErrAmbiguousPlan)
	assert.Contains(t, err.Error(), other)
}

func TestStoreUpdateIsAtomicAndSerialised(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	r := commitPlan(t, s, "web")
	done := make(chan error, 20)
	for range 20 {
		go func() {
			_, err := s.Update(r.ID, func(rec *Record) error {
				rec.Counts.Add++
				return nil
			})
			done <- err
		}()
	}
	for range 20 {
		require.NoError(t, <-done)
	}
	got, err := s.Get(r.ID)
	require.NoError(t, err)
	assert.Equal(t, 20, got.Counts.Add, "no update was lost")

	// A failing update writes nothing.
	_, err = s.Update(r.ID, func(rec *Record) error {
		rec.Status = StatusApplied
		return &InputError{Msg: "no"}
	})
	require.Error(t, err)
	got, err = s.Get(r.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusAwaitingApproval, got.Status)
	entries, err := os.ReadDir(s.Dir(r.ID))
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp", "no temporary file left")
	}
}

func TestEffectiveStatusExpires(t *testing.T) {
	now := time.Now()
	r := &Record{Status: StatusAwaitingApproval, ExpiresAt: now.Add(time.Minute)}
	assert.Equal(t, StatusAwaitingApproval, r.EffectiveStatus(now))
	assert.Equal(t, StatusExpired, r.EffectiveStatus(now.Add(2*time.Minute)))
	r.Status = StatusApplied
	assert.Equal(t, StatusApplied, r.EffectiveStatus(now.Add(2*time.Minute)), "only pending plans expire")
}

func TestReadDiffPages(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	r := commitPlan(t, s, "web")
	text := strings.Repeat("line é ünïcödé\n", 100) + strings.Repeat("ü", 3000)
	require.NoError(t, os.WriteFile(filepath.Join(s.Dir(r.ID), DiffFile), []byte(text), 0o600))
	var got strings.Builder
	offset := 0
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000)
		p, err := s.ReadDiff(r.ID, offset, 100)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(p.Text), 100)
		assert.True(t, strings.ToValidUTF8(p.Text, "\uFFFD") == p.Text, "page %d cuts a UTF-8 sequence", pages)
		got.WriteString(p.Text)
		if p.Next == 0 {
			break
		}
		offset = p.Next
	}
	assert.Equal(t, text, got.String())
	_, err = s.ReadDiff(r.ID, len(text)+1, 100)
	var in *InputError
	assert.ErrorAs(t, err, &in)
}

// A draft left by a process that died mid-plan (its lock free) is removed
// the next time a plan starts; a live draft is left alone.
func TestAbandonedDraftsAreRemoved(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	live, err := s.NewDraft()
	require.NoError(t, err)
	defer live.Abort()

	dead := filepath.Join(s.dir, draftPrefix+"00000000-dead-4000-8000-000000000000")
	require.NoError(t, os.Mkdir(dead, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dead, draftLock), nil, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dead, ".plan.raw.json"), []byte(`{"secret":"x"}`), 0o600))

	next, err := s.NewDraft()
	require.NoError(t, err)
	defer next.Abort()
	assert.NoDirExists(t, dead)
	assert.DirExists(t, live.Dir)
}

func TestDirNeverLeavesTheStore(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	for _, id := range []string{"../../etc", "/etc/passwd", "..", "a/b", ""} {
		assert.Equal(t, filepath.Join(s.dir, ".invalid"), s.Dir(id), id)
	}
}
