package freeze

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var at = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func TestSetFreezesTheStack(t *testing.T) {
	dir := t.TempDir()
	f, err := Set(dir, "web", "incident 4411", "alice", at)
	require.NoError(t, err)
	assert.Equal(t, &Freeze{Stack: "web", Reason: "incident 4411", By: "alice", At: at}, f)

	got, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Equal(t, f, got)

	other, err := Check(dir, "api")
	require.NoError(t, err)
	assert.Nil(t, other, "other stacks stay unfrozen")

	path := filepath.Join(dir, "freeze", "web.json")
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(filepath.Join(dir, "freeze"))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

func TestSetNeedsAReason(t *testing.T) {
	dir := t.TempDir()
	for _, reason := range []string{"", "  \n\t"} {
		_, err := Set(dir, "web", reason, "alice", at)
		require.ErrorIs(t, err, ErrReasonRequired)
		assert.Contains(t, err.Error(), "--reason")
	}
	f, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Nil(t, f, "nothing was frozen")
}

func TestSetDefaults(t *testing.T) {
	dir := t.TempDir()
	before := time.Now().Add(-time.Second)
	f, err := Set(dir, "web", "  maintenance  ", "", time.Time{})
	require.NoError(t, err)
	assert.Equal(t, "maintenance", f.Reason)
	assert.Equal(t, CurrentUser(), f.By, "by defaults to the OS user")
	assert.True(t, f.At.After(before), "at defaults to now")
	assert.Equal(t, time.UTC, f.At.Location())
}

func TestSetAgainKeepsTheNewestReason(t *testing.T) {
	dir := t.TempDir()
	_, err := Set(dir, "web", "incident 4411", "alice", at)
	require.NoError(t, err)
	_, err = Set(dir, "web", "incident 4411: still investigating", "bob", at.Add(time.Hour))
	require.NoError(t, err)

	f, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Equal(t, &Freeze{Stack: "web", Reason: "incident 4411: still investigating", By: "bob", At: at.Add(time.Hour)}, f)
	all, err := List(dir)
	require.NoError(t, err)
	assert.Len(t, all, 1)
}

func TestAllStacksFreeze(t *testing.T) {
	dir := t.TempDir()
	all, err := Set(dir, "", "region outage", "oncall", at)
	require.NoError(t, err)
	assert.FileExists(t, filepath.Join(dir, "freeze", "_all.json"))

	for _, stack := range []string{"web", "api", ""} {
		f, err := Check(dir, stack)
		require.NoError(t, err)
		assert.Equal(t, all, f, "stack %q is frozen by the all-stacks freeze", stack)
	}

	own, err := Set(dir, "web", "incident 4411", "alice", at)
	require.NoError(t, err)
	f, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Equal(t, own, f, "a stack's own freeze is the one reported")

	cleared, err := Clear(dir, "")
	require.NoError(t, err)
	assert.True(t, cleared)
	f, err = Check(dir, "api")
	require.NoError(t, err)
	assert.Nil(t, f, "unfreezing all stacks lifts the all-stacks freeze")
	f, err = Check(dir, "web")
	require.NoError(t, err)
	assert.Equal(t, own, f, "but not a stack's own freeze")
}

func TestClear(t *testing.T) {
	dir := t.TempDir()
	cleared, err := Clear(dir, "web")
	require.NoError(t, err)
	assert.False(t, cleared, "nothing to clear")

	_, err = Set(dir, "web", "incident", "alice", at)
	require.NoError(t, err)
	cleared, err = Clear(dir, "web")
	require.NoError(t, err)
	assert.True(t, cleared)
	f, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Nil(t, f)

	cleared, err = Clear(dir, "web")
	require.NoError(t, err)
	assert.False(t, cleared)
}

// A marker that is there but unreadable still freezes: the kill switch
// fails safe.
func TestCorruptMarkerCountsAsFrozen(t *testing.T) {
	cases := []struct {
		name    string
		stack   string
		file    string
		write   func(path string) error
		explain string
	}{
		{"not json", "web", "web.json", func(p string) error { return os.WriteFile(p, []byte("{oops"), 0o600) }, "is corrupt"},
		{"empty file (touch)", "web", "web.json", func(p string) error { return os.WriteFile(p, nil, 0o600) }, "is corrupt"},
		{"truncated", "web", "web.json", func(p string) error { return os.WriteFile(p, []byte(`{"stack":"web","reas`), 0o600) }, "is corrupt"},
		{"names another stack", "web", "web.json", func(p string) error {
			return os.WriteFile(p, []byte(`{"stack":"api","reason":"x","by":"a","at":"2026-11-22T03:00:00Z"}`), 0o600)
		}, `names stack "api", not "web"`},
		{"all-stacks marker naming a stack", "api", "_all.json", func(p string) error {
			return os.WriteFile(p, []byte(`{"stack":"web","reason":"x"}`), 0o600)
		}, `names stack "web", not ""`},
		{"unreadable (a directory)", "web", "web.json", func(p string) error { return os.Mkdir(p, 0o700) }, "cannot be read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "freeze"), 0o700))
			path := filepath.Join(dir, "freeze", tc.file)
			require.NoError(t, tc.write(path))

			f, err := Check(dir, tc.stack)
			require.NoError(t, err)
			require.NotNil(t, f, "a corrupt marker freezes")
			assert.Contains(t, f.Reason, path)
			assert.Contains(t, f.Reason, tc.explain)
			assert.Contains(t, f.Error(), "frozen")

			list, err := List(dir)
			require.NoError(t, err)
			require.Len(t, list, 1, "List shows it too")

			// unfreeze removes a corrupt marker like any other.
			clearStack := tc.stack
			if tc.file == "_all.json" {
				clearStack = ""
			}
			cleared, err := Clear(dir, clearStack)
			require.NoError(t, err)
			assert.True(t, cleared)
			f, err = Check(dir, tc.stack)
			require.NoError(t, err)
			assert.Nil(t, f)
		})
	}
}

func TestHandWrittenMarker(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "freeze"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "freeze", "web.json"), []byte(`{"reason":"do not touch"}`), 0o600))
	f, err := Check(dir, "web")
	require.NoError(t, err)
	assert.Equal(t, &Freeze{Stack: "web", Reason: "do not touch"}, f, "the file name says which stack")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "freeze", "api.json"), []byte(`{}`), 0o600))
	f, err = Check(dir, "api")
	require.NoError(t, err)
	require.NotNil(t, f)
	assert.Contains(t, f.Reason, "gives no reason")
}

func TestStackNamesAreValidated(t *testing.T) {
	dir := t.TempDir()
	for _, stack := range []string{"../etc", "web/../../x", "Web", "1web", "_all", "-web", "web.json", "web ", strings.Repeat("a", 64), "a\x00b", "."} {
		_, err := Set(dir, stack, "reason", "alice", at)
		assert.Error(t, err, "Set %q", stack)
		_, err = Check(dir, stack)
		assert.Error(t, err, "Check %q", stack)
		_, err = Clear(dir, stack)
		assert.Error(t, err, "Clear %q", stack)
		assert.Contains(t, err.Error(), "invalid stack name")
	}
	_, err := os.Stat(filepath.Join(dir, "freeze"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was written")

	for _, stack := range []string{"a", "web", "web-2", "data_tier", strings.Repeat("a", 63)} {
		_, err := Set(dir, stack, "reason", "alice", at)
		assert.NoError(t, err, "Set %q", stack)
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	list, err := List(dir)
	require.NoError(t, err)
	assert.Empty(t, list, "no freeze directory, no freezes")

	_, err = Set(dir, "web", "b", "alice", at)
	require.NoError(t, err)
	_, err = Set(dir, "api", "a", "bob", at)
	require.NoError(t, err)
	_, err = Set(dir, "", "everything", "carol", at)
	require.NoError(t, err)
	// Files that are not markers freeze nothing and are not listed.
	for _, name := range []string{".web.json.tmp-123", "README", "Web.json", "x.json.bak"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "freeze", name), []byte("{}"), 0o600))
	}

	list, err = List(dir)
	require.NoError(t, err)
	var stacks []string
	for _, f := range list {
		stacks = append(stacks, f.Stack)
	}
	assert.Equal(t, []string{"", "api", "web"}, stacks)
	assert.Equal(t, "carol", list[0].By)
}

func TestErrorMessage(t *testing.T) {
	cases := []struct {
		name string
		f    Freeze
		want string
	}{
		{"one stack", Freeze{Stack: "web", Reason: "incident 4411", By: "alice", At: at},
			`stack "web" is frozen by alice since 2026-11-22T03:00:00Z: "incident 4411" — run plangate unfreeze web --key <approver key file> to resume applies`},
		{"all stacks", Freeze{Reason: "region outage", By: "oncall", At: at},
			`all stacks are frozen by oncall since 2026-11-22T03:00:00Z: "region outage" — run plangate unfreeze --key <approver key file> to resume applies`},
		{"local time shown in UTC", Freeze{Stack: "web", Reason: "x", By: "alice", At: at.In(time.FixedZone("CET", 3600))},
			`stack "web" is frozen by alice since 2026-11-22T03:00:00Z: "x" — run plangate unfreeze web --key <approver key file> to resume applies`},
		{"corrupt marker", Freeze{Stack: "web", Reason: "freeze marker m is corrupt"},
			`stack "web" is frozen: "freeze marker m is corrupt" — run plangate unfreeze web --key <approver key file> to resume applies`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error = &tc.f
			assert.Equal(t, tc.want, err.Error())
		})
	}
}

// The agent is told who froze what and why, never how to lift it.
func TestRefusalNamesNoCommand(t *testing.T) {
	for _, f := range []Freeze{
		{Stack: "web", Reason: "incident 4411", By: "alice", At: at},
		{Reason: "region outage", By: "oncall", At: at},
	} {
		r := f.Refusal()
		assert.Contains(t, r, f.Reason)
		assert.Contains(t, r, "only a human can lift it")
		for _, s := range []string{"unfreeze", "--key", "plangate"} {
			assert.NotContains(t, r, s)
		}
	}
}

// Readers racing a re-freeze see the old freeze or the new one, never a
// half-written marker (which would read as corrupt).
func TestCheckDuringSetSeesAWholeMarker(t *testing.T) {
	dir := t.TempDir()
	_, err := Set(dir, "web", "first", "alice", at)
	require.NoError(t, err)

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for i := range 100 {
			_, err := Set(dir, "web", strings.Repeat("r", i+1), "alice", at)
			assert.NoError(t, err)
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			f, err := Check(dir, "web")
			assert.NoError(t, err)
			if assert.NotNil(t, f) {
				assert.NotContains(t, f.Reason, "freeze marker", "never a torn marker")
			}
		}
	})
	wg.Wait()
}

func TestCurrentUser(t *testing.T) {
	assert.NotEmpty(t, CurrentUser())
}
