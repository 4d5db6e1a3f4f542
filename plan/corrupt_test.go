package plan

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A record that cannot be read is listed as corrupt, with what is wrong
// and what its readable start says, and every read of it says so.
func TestCorruptRecordsAreListed(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	require.NoError(t, err)
	good := commitPlan(t, s, "web")

	damage := map[string]struct {
		damage  func(path string)
		problem string
		stack   string
	}{
		"truncated": {func(p string) {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b[:len(b)/2], 0o600))
		}, "record.json is not valid JSON: unexpected end of JSON input", "db"},
		"empty":      {func(p string) { require.NoError(t, os.WriteFile(p, nil, 0o600)) }, "record.json is empty", ""},
		"not json":   {func(p string) { require.NoError(t, os.WriteFile(p, []byte("\x00\x01garbage"), 0o600)) }, "record.json is not valid JSON: invalid character", ""},
		"wrong type": {func(p string) { require.NoError(t, os.WriteFile(p, []byte(`{"stack":"db","counts":"many"}`), 0o600)) }, "record.json does not hold a plan record: cannot unmarshal string", "db"},
		"other plan": {func(p string) {
			require.NoError(t, os.WriteFile(p, []byte(`{"id":"00000000-0000-4000-8000-000000000000","stack":"db"}`), 0o600))
		}, `record.json is the record of plan "00000000-0000-4000-8000-000000000000"`, "db"},
		"missing": {func(p string) { require.NoError(t, os.Remove(p)) }, "record.json is missing", ""},
		"directory": {func(p string) {
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Mkdir(p, 0o700))
		}, "record.json cannot be read: is a directory", ""},
	}
	want := map[string]string{}
	for name, c := range damage {
		r := commitPlan(t, s, "db")
		c.damage(filepath.Join(s.Dir(r.ID), RecordFile))
		want[r.ID] = name

		_, err := s.Get(r.ID[:8])
		var cr *CorruptRecord
		require.ErrorAs(t, err, &cr, name)
		assert.Contains(t, err.Error(), c.problem, name)
		assert.Contains(t, err.Error(), "can never be approved or applied", name)
		assert.Contains(t, err.Error(), s.Dir(r.ID), name)
		assert.Equal(t, c.stack, cr.Stack, name)

		_, err = s.Update(r.ID, func(*Record) error { return nil })
		assert.ErrorAs(t, err, &cr, name)
	}

	recs, bad, err := s.ListAll()
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, good.ID, recs[0].ID)
	require.Len(t, bad, len(damage))
	for _, c := range bad {
		assert.Contains(t, c.Problem, damage[want[c.ID]].problem)
		assert.False(t, c.ModTime.IsZero())
	}
	listed, err := s.List()
	require.NoError(t, err)
	assert.Len(t, listed, 1, "List keeps to the readable records")

	// Moved aside (a leading dot), it is no plan any more.
	for _, c := range bad {
		require.NoError(t, os.Rename(c.Dir, filepath.Join(filepath.Dir(c.Dir), "."+c.ID)))
	}
	_, bad, err = s.ListAll()
	require.NoError(t, err)
	assert.Empty(t, bad)
}

func TestCorruptRecordMadeAfter(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	before, after := t0.Add(-time.Minute), t0.Add(time.Minute)
	for name, c := range map[string]struct {
		rec  CorruptRecord
		want bool
	}{
		"created before":              {CorruptRecord{CreatedAt: before, ModTime: after}, false},
		"created after":               {CorruptRecord{CreatedAt: after, ModTime: after}, true},
		"unknown, changed before":     {CorruptRecord{ModTime: before}, false},
		"unknown, changed after":      {CorruptRecord{ModTime: after}, true},
		"nothing known: may be later": {CorruptRecord{}, true},
	} {
		assert.Equal(t, c.want, c.rec.MadeAfter(t0), name)
	}
}

func TestLegibleStartOfARecord(t *testing.T) {
	var c CorruptRecord
	c.legible([]byte(`{"id":"x","stack":"web","workspace":"prod","variables":{"stack":"no"},"created_at":"2025-01-01T12:00:00Z","expires_at":"2025-01-01T13:00:00Z","upd`))
	assert.Equal(t, "web", c.Stack)
	assert.Equal(t, "prod", c.Workspace)
	assert.Equal(t, time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC), c.CreatedAt)
	assert.Equal(t, time.Date(2025, 1, 1, 13, 0, 0, 0, time.UTC), c.ExpiresAt)

	c = CorruptRecord{}
	c.legible([]byte(`{"id":"x","stack":"\u001b[31mred"}`))
	assert.Empty(t, c.Stack, "a name no stack could have is not shown")
	c.legible([]byte(`[{"stack":"web"}]`))
	assert.Empty(t, c.Stack)
	c.legible([]byte(`{"stack":{"a":"web"}}`))
	assert.Empty(t, c.Stack)
}
