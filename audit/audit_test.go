package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

// sampleEvent is an event as the apply path writes it.
func sampleEvent(i int) Event {
	deletions := i % 3
	return Event{
		Event:             EventApplied,
		Stack:             "web",
		PlanID:            fmt.Sprintf("0193a1b2-0000-4000-8000-%012d", i),
		PlanSHA256:        strings.Repeat("ab", 32),
		Counts:            &plan.Counts{Add: 1, Destroy: deletions},
		Deletions:         &deletions,
		Deleted:           []string{fmt.Sprintf("aws_instance.web[%d]", i)},
		Approvers:         []string{"oncall"},
		TokenFingerprints: []string{"sha256:1f2e3d4c"},
		Client:            &Client{Name: "claude-code", Version: "2.1.0"},
		Reason:            fmt.Sprintf("event %d", i),
	}
}

// writeLog appends n sample events to a new log and returns it with its bytes.
func writeLog(t *testing.T, n int) (*Log, []byte) {
	t.Helper()
	l := Open(t.TempDir())
	for i := 1; i <= n; i++ {
		_, err := l.Append(sampleEvent(i))
		require.NoError(t, err)
	}
	b, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	return l, b
}

// lines splits log content into lines without their newlines.
func lines(b []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
}

func joinLines(ls [][]byte) []byte {
	return append(bytes.Join(ls, []byte("\n")), '\n')
}

func brokenLine(t *testing.T, err error) int {
	t.Helper()
	var be *BrokenError
	require.ErrorAs(t, err, &be)
	return be.Line
}

func TestAppendBuildsAVerifiableChain(t *testing.T) {
	l := Open(t.TempDir())
	prev := ZeroHash
	for i := 1; i <= 120; i++ {
		e, err := l.Append(sampleEvent(i))
		require.NoError(t, err)
		assert.Equal(t, int64(i), e.Seq)
		assert.Equal(t, prev, e.Prev)
		_, prev, err = l.Head()
		require.NoError(t, err)
	}

	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 120, n)

	st, err := os.Stat(l.Path())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the audit log is private to its owner")
	assert.Equal(t, filepath.Join(filepath.Dir(l.Path()), "audit.jsonl"), l.Path())

	var got []Event
	require.NoError(t, l.Read(func(line int, e Event, raw []byte) error {
		assert.Equal(t, int64(line), e.Seq)
		assert.NotContains(t, string(raw), "\n")
		got = append(got, e)
		return nil
	}))
	require.Len(t, got, 120)
	assert.Equal(t, "event 7", got[6].Reason)
	assert.Equal(t, &Client{Name: "claude-code", Version: "2.1.0"}, got[6].Client)
	assert.Equal(t, ZeroHash, got[0].Prev)
}

func TestAppendTime(t *testing.T) {
	l := Open(t.TempDir())
	before := time.Now().UTC()
	e, err := l.Append(Event{Event: EventFreeze, Stack: "web", Actor: "alice", Reason: "incident"})
	require.NoError(t, err)
	assert.Equal(t, time.UTC, e.Time.Location(), "a zero time is set to now, in UTC")
	assert.False(t, e.Time.Before(before.Add(-time.Second)))

	given := time.Date(2026, 11, 22, 4, 0, 0, 123, time.FixedZone("CET", 3600))
	e, err = l.Append(Event{Event: EventUnfreeze, Time: given})
	require.NoError(t, err)
	assert.True(t, e.Time.Equal(given), "a given time is kept")
	assert.Equal(t, time.UTC, e.Time.Location(), "and written in UTC")

	require.NoError(t, l.Read(func(line int, got Event, raw []byte) error {
		if line == 2 {
			assert.Contains(t, string(raw), `"time":"2026-11-22T03:00:00.000000123Z"`)
		}
		return nil
	}))
}

func TestAppendRejectsInvalidEventName(t *testing.T) {
	l := Open(t.TempDir())
	for _, name := range []string{"", "Applied", "apply started", "x\n"} {
		_, err := l.Append(Event{Event: EventName(name)})
		assert.Error(t, err, "event name %q", name)
	}
	_, err := os.Stat(l.Path())
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing was written")
}

// token builds a token of the real shape: pgt1.<payload>.<signature>.
func token() string {
	enc := base64.RawURLEncoding
	payload := `{"approver":"oncall","plan_id":"0193a1b2-0000-4000-8000-000000000001","nonce":"q9"}`
	return "pgt1." + enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(bytes.Repeat([]byte{0xfe}, 64))
}

func TestAppendRefusesTokens(t *testing.T) {
	tok := token()
	cases := []struct {
		name  string
		event func(*Event)
		field string
	}{
		{"reason", func(e *Event) { e.Reason = "apply refused: token " + tok + " is expired" }, "reason"},
		{"reason with line breaks", func(e *Event) { e.Reason = "pasted:\n" + tok[:40] + "\n" + tok[40:] }, "reason"},
		{"token fingerprint", func(e *Event) { e.TokenFingerprints = []string{"sha256:1f2e", tok} }, "token_fingerprints[1]"},
		{"approver", func(e *Event) { e.Approvers = []string{tok} }, "approvers[0]"},
		{"deleted address", func(e *Event) { e.Deleted = []string{`aws_ssm_parameter.x["` + tok + `"]`} }, "deleted[0]"},
		{"client name", func(e *Event) { e.Client = &Client{Name: tok} }, "client.name"},
		{"client version", func(e *Event) { e.Client = &Client{Version: tok} }, "client.version"},
		{"actor", func(e *Event) { e.Actor = tok }, "actor"},
		{"stack", func(e *Event) { e.Stack = tok }, "stack"},
		{"plan id", func(e *Event) { e.PlanID = tok }, "plan_id"},
		{"plan sha256", func(e *Event) { e.PlanSHA256 = tok }, "plan_sha256"},
		{"token with spaces", func(e *Event) { e.Reason = "token: " + tok[:5] + " " + tok[5:30] + "  " + tok[30:] }, "reason"},
		{"signature-less payload long enough", func(e *Event) { e.Reason = "pgt1." + strings.Repeat("A", 64) }, "reason"},
		{"token without signature", func(e *Event) { e.Reason = strings.SplitN(tok, ".", 3)[0] + "." + strings.SplitN(tok, ".", 3)[1] }, "reason"},
		{"passkey token", func(e *Event) {
			e.Reason = "token pgt2." + strings.SplitN(tok, ".", 2)[1] + ".SkVTVA.eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0.AAAA"
		}, "reason"},
		{"signed request", func(e *Event) { e.TokenFingerprints = []string{"pgr1." + strings.SplitN(tok, ".", 2)[1]} }, "token_fingerprints[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, before := writeLog(t, 2)
			e := sampleEvent(3)
			tc.event(&e)
			_, err := l.Append(e)
			require.ErrorIs(t, err, ErrSecret)
			assert.Contains(t, err.Error(), tc.field, "the error names the field")
			assert.NotContains(t, err.Error(), tok[5:25], "the error does not repeat the token")
			after, rerr := os.ReadFile(l.Path())
			require.NoError(t, rerr)
			assert.Equal(t, before, after, "nothing was written")
		})
	}

	t.Run("a new log is not even created", func(t *testing.T) {
		l := Open(t.TempDir())
		_, err := l.Append(Event{Event: EventApplyRefused, Reason: tok})
		require.ErrorIs(t, err, ErrSecret)
		_, err = os.Stat(l.Path())
		assert.ErrorIs(t, err, os.ErrNotExist)
	})

	t.Run("what is not a token is written", func(t *testing.T) {
		l := Open(t.TempDir())
		_, err := l.Append(Event{
			Event:   EventApplyRefused,
			Reason:  `no approval token given: tokens look like "pgt1.…"; ask a human to run plangate approve`,
			Deleted: []string{"module.pgt1.aws_vpc_endpoint_service_allowed_principal.this", "module.pgt1.aws_instance.web[0]"},
		})
		assert.NoError(t, err)
	})
}

// Every single-bit flip anywhere in the log is detected, and at the line
// it changed: the line no longer reads as an event, its seq or prev is
// wrong, or it no longer matches its own line_sha256 — the newest line
// included.
func TestEveryByteFlipIsDetected(t *testing.T) {
	l, orig := writeLog(t, 5)
	lineOf := make([]int, len(orig)) // 1-based line of each byte; a newline belongs to its line
	line := 1
	for i, c := range orig {
		lineOf[i] = line
		if c == '\n' {
			line++
		}
	}
	for i := range orig {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			b := bytes.Clone(orig)
			b[i] ^= mask
			require.NoError(t, os.WriteFile(l.Path(), b, 0o600))
			_, err := l.Verify()
			require.Error(t, err, "byte %d (line %d) ^ %#x", i, lineOf[i], mask)
			assert.Equal(t, lineOf[i], brokenLine(t, err), "byte %d ^ %#x: %v", i, mask, err)
		}
	}
}

func TestVerifyNamesTheFirstBrokenLine(t *testing.T) {
	_, orig := writeLog(t, 6)
	ls := lines(orig)
	edit := func(f func(ls [][]byte) [][]byte) []byte {
		c := make([][]byte, len(ls))
		for i := range ls {
			c[i] = bytes.Clone(ls[i])
		}
		return joinLines(f(c))
	}
	cases := []struct {
		name    string
		content []byte
		line    int
		reason  string
	}{
		{"middle line deleted", edit(func(ls [][]byte) [][]byte { return append(ls[:2], ls[3:]...) }), 3, "seq is 4, expected 3"},
		{"first line deleted", edit(func(ls [][]byte) [][]byte { return ls[1:] }), 1, "seq is 2, expected 1"},
		{"two lines swapped", edit(func(ls [][]byte) [][]byte { ls[1], ls[2] = ls[2], ls[1]; return ls }), 2, "seq is 3, expected 2"},
		{"distant lines swapped", edit(func(ls [][]byte) [][]byte { ls[1], ls[4] = ls[4], ls[1]; return ls }), 2, "seq is 5, expected 2"},
		{"line duplicated", edit(func(ls [][]byte) [][]byte {
			return append(ls[:3], append([][]byte{ls[2]}, ls[3:]...)...)
		}), 4, "seq is 3, expected 4"},
		{"value edited", edit(func(ls [][]byte) [][]byte {
			ls[3] = bytes.Replace(ls[3], []byte(`"reason":"event 4"`), []byte(`"reason":"event X"`), 1)
			return ls
		}), 4, "the line does not match its line_sha256 — the line was edited"},
		{"newest line edited", edit(func(ls [][]byte) [][]byte {
			ls[5] = bytes.Replace(ls[5], []byte(`"stack":"web"`), []byte(`"stack":"wex"`), 1)
			return ls
		}), 6, "the line does not match its line_sha256"},
		{"value edited and line_sha256 recomputed", edit(func(ls [][]byte) [][]byte {
			ls[3] = reseal(t, bytes.Replace(ls[3], []byte(`"reason":"event 4"`), []byte(`"reason":"event X"`), 1))
			return ls
		}), 5, "prev_sha256 does not match line 4 — the log was edited or lines were removed"},
		{"line_sha256 removed", edit(func(ls [][]byte) [][]byte {
			ls[2] = unseal(t, ls[2])
			return ls
		}), 3, "line_sha256 is missing"},
		{"line deleted and seqs renumbered", edit(func(ls [][]byte) [][]byte {
			out := append(ls[:2], ls[3:]...)
			for i := 2; i < len(out); i++ {
				out[i] = bytes.Replace(out[i], []byte(fmt.Sprintf(`{"seq":%d,`, i+2)), []byte(fmt.Sprintf(`{"seq":%d,`, i+1)), 1)
			}
			return out
		}), 3, "prev_sha256 does not match line 2"},
		{"field added", edit(func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`{"seq":2,`), []byte(`{"seq":2,"note":"x",`), 1)
			return ls
		}), 2, "the line does not match its line_sha256"},
		{"key case changed", edit(func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"reason":`), []byte(`"REASON":`), 1)
			return ls
		}), 2, "the line does not match its line_sha256"},
		{"duplicate key", edit(func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`{"seq":2,`), []byte(`{"seq":2,"seq":2,`), 1)
			return ls
		}), 2, "the line does not match its line_sha256"},
		{"line_sha256 key case changed", edit(func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"line_sha256":`), []byte(`"LINE_SHA256":`), 1)
			return ls
		}), 2, "line_sha256 is not written as plangate writes it"},
		{"second line_sha256 added", edit(func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`{"seq":2,`), []byte(`{"seq":2,"line_sha256":"`+strings.Repeat("0", 64)+`",`), 1)
			return ls
		}), 2, "line_sha256 is not written as plangate writes it"},
		{"field added to a line without line_sha256", edit(func(ls [][]byte) [][]byte {
			ls[0] = bytes.Replace(unseal(t, ls[0]), []byte(`{"seq":1,`), []byte(`{"seq":1,"note":"x",`), 1)
			return ls
		}), 1, "not exactly what plangate writes"},
		{"blank line inserted", edit(func(ls [][]byte) [][]byte {
			return append(ls[:2], append([][]byte{{}}, ls[2:]...)...)
		}), 3, "not a valid event"},
		{"first line's prev changed", edit(func(ls [][]byte) [][]byte {
			ls[0] = bytes.Replace(ls[0], []byte(ZeroHash), []byte(strings.Repeat("1", 64)), 1)
			return ls
		}), 1, "not 64 zeros"},
		{"tail truncated mid-line", orig[:len(orig)-30], 6, "incomplete"},
		{"final newline removed", orig[:len(orig)-1], 6, "incomplete"},
		{"garbage appended", append(bytes.Clone(orig), "rm -rf /\n"...), 7, "not a valid event"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := Open(t.TempDir())
			require.NoError(t, os.WriteFile(l.Path(), tc.content, 0o600))
			n, err := l.Verify()
			require.Error(t, err)
			assert.Equal(t, tc.line, brokenLine(t, err))
			assert.Contains(t, err.Error(), tc.reason)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: ", tc.line)), err.Error())
			assert.Equal(t, tc.line-1, n, "the lines before the break verified")
		})
	}
}

// Removing whole lines from the end leaves a valid, shorter chain; the
// head file shows it, as it shows a newest line rewritten whole (with a
// fresh line_sha256) and lines appended by someone else. Append refuses to
// extend a log whose newest line is not the one the head recorded.
func TestTheHeadFileShowsTheEnd(t *testing.T) {
	l, orig := writeLog(t, 4)
	seq, h, err := l.Head()
	require.NoError(t, err)
	assert.Equal(t, int64(4), seq)
	ls := lines(orig)
	check := func(content []byte, line int, reason string) {
		t.Helper()
		require.NoError(t, os.WriteFile(l.Path(), content, 0o600))
		n, err := l.Verify()
		require.Error(t, err)
		assert.Equal(t, line, brokenLine(t, err))
		assert.Equal(t, line-1, n)
		assert.Contains(t, err.Error(), reason)
		_, err = l.Append(sampleEvent(9))
		assert.ErrorIs(t, err, ErrHeadMismatch, "Append refuses")
	}
	check(joinLines(ls[:3]), 4, "missing: audit.head records 4 lines, the log ends at line 3")
	check(joinLines(append(ls[:3:3], reseal(t, bytes.Replace(ls[3], []byte(`"event 4"`), []byte(`"event X"`), 1)))), 4,
		"not the line audit.head recorded when it was written")
	require.NoError(t, os.Remove(l.Path()))
	_, err = l.Verify()
	assert.ErrorContains(t, err, "missing: audit.head records 4 lines")
	_, err = l.Append(sampleEvent(9))
	assert.ErrorIs(t, err, ErrHeadMismatch, "a removed log is not silently started anew")
	require.NoError(t, os.WriteFile(l.Path(), nil, 0o600))
	_, err = l.Append(sampleEvent(9))
	assert.ErrorIs(t, err, ErrHeadMismatch, "nor an emptied one")

	// Someone appends a well-chained line of their own, then another.
	require.NoError(t, os.WriteFile(l.Path(), orig, 0o600))
	forged := forge(t, ls[3], 5)
	require.NoError(t, os.WriteFile(l.Path(), joinLines(append(ls[:4:4], forged)), 0o600))
	_, err = l.Verify()
	require.NoError(t, err, "one line past the head is an Append cut short before its head: accepted")
	require.NoError(t, os.WriteFile(l.Path(), joinLines(append(ls[:4:4], forged, forge(t, forged, 6))), 0o600))
	_, err = l.Verify()
	assert.ErrorContains(t, err, "line 6: audit.head records 4 lines")

	// The untouched log verifies, and appends go on.
	require.NoError(t, os.WriteFile(l.Path(), orig, 0o600))
	_, err = l.Append(sampleEvent(5))
	require.NoError(t, err)
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	_, h2, err := l.Head()
	require.NoError(t, err)
	assert.NotEqual(t, h, h2)
}

// reseal recomputes a line's line_sha256, as a careful forger would.
func reseal(t *testing.T, line []byte) []byte {
	t.Helper()
	var e Event
	require.NoError(t, json.Unmarshal(line, &e))
	b, _, err := encode(e)
	require.NoError(t, err)
	return b
}

// unseal drops a line's line_sha256.
func unseal(t *testing.T, line []byte) []byte {
	t.Helper()
	var e Event
	require.NoError(t, json.Unmarshal(line, &e))
	e.LineSHA256 = ""
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return b
}

// forge makes a line that chains onto prev, with seq.
func forge(t *testing.T, prev []byte, seq int64) []byte {
	t.Helper()
	e := sampleEvent(int(seq))
	e.Seq, e.Time, e.Prev = seq, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), hashLine(prev)
	b, err := json.Marshal(e)
	require.NoError(t, err)
	return reseal(t, b)
}

func TestEmptyOrMissingLogVerifies(t *testing.T) {
	l := Open(t.TempDir())
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Zero(t, n)
	seq, head, err := l.Head()
	require.NoError(t, err)
	assert.Zero(t, seq)
	assert.Equal(t, ZeroHash, head)
	assert.NoError(t, l.Read(func(int, Event, []byte) error { t.Fatal("no lines"); return nil }))

	require.NoError(t, os.WriteFile(l.Path(), nil, 0o600))
	n, err = l.Verify()
	require.NoError(t, err)
	assert.Zero(t, n)
	e, err := l.Append(sampleEvent(1))
	require.NoError(t, err)
	assert.Equal(t, int64(1), e.Seq)
	assert.Equal(t, ZeroHash, e.Prev)
}

func TestAppendCreatesTheStateDir(t *testing.T) {
	l := Open(filepath.Join(t.TempDir(), "nested", ".plangate"))
	_, err := l.Append(sampleEvent(1))
	require.NoError(t, err)
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// A torn last line is evidence of a crash: Append leaves it alone and says
// how to find it.
func TestAppendRefusesAfterAnIncompleteLine(t *testing.T) {
	l, orig := writeLog(t, 3)
	torn := orig[:len(orig)-17]
	require.NoError(t, os.WriteFile(l.Path(), torn, 0o600))

	_, err := l.Append(sampleEvent(4))
	require.ErrorIs(t, err, ErrIncompleteLastLine)
	assert.Contains(t, err.Error(), "plangate audit verify")
	after, rerr := os.ReadFile(l.Path())
	require.NoError(t, rerr)
	assert.Equal(t, torn, after, "the log is untouched")

	_, err = l.Verify()
	assert.Equal(t, 3, brokenLine(t, err))
}

func TestAppendRefusesAfterACorruptLastLine(t *testing.T) {
	for name, tail := range map[string]string{
		"not json":   "garbage\n",
		"blank line": "\n",
		"no seq":     `{"event":"applied"}` + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			l, orig := writeLog(t, 2)
			bad := append(bytes.Clone(orig), tail...)
			require.NoError(t, os.WriteFile(l.Path(), bad, 0o600))
			_, err := l.Append(sampleEvent(3))
			require.ErrorIs(t, err, ErrCorruptLastLine)
			after, rerr := os.ReadFile(l.Path())
			require.NoError(t, rerr)
			assert.Equal(t, bad, after)
		})
	}
}

// Lines longer than the block Append reads backwards in still chain.
func TestLongLinesChain(t *testing.T) {
	l := Open(t.TempDir())
	for i := 1; i <= 4; i++ {
		e := sampleEvent(i)
		e.Deleted = nil
		for j := range 3000 * i {
			e.Deleted = append(e.Deleted, fmt.Sprintf("module.app[%d].aws_instance.web[%d]", i, j))
		}
		got, err := l.Append(e)
		require.NoError(t, err)
		assert.Equal(t, int64(2*i-1), got.Seq)
		_, err = l.Append(sampleEvent(100 + i)) // a short line after a long one
		require.NoError(t, err)
	}
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 8, n)
}

// Whatever strings callers pass, what Append writes verifies.
func TestAppendedLinesAlwaysVerify(t *testing.T) {
	l := Open(t.TempDir())
	for _, s := range []string{"\xff\xfe invalid UTF-8", "<script>&amp;</script>", "line\u2028separator", "tab\tand \"quotes\" \\", "\x00\x1f", "emoji 🔥", ""} {
		e := sampleEvent(1)
		e.Reason, e.Actor, e.Deleted = s, s, []string{s}
		_, err := l.Append(e)
		require.NoError(t, err, "%q", s)
	}
	zero := 0
	_, err := l.Append(Event{Event: EventPlanNoChanges, Counts: &plan.Counts{}, Deletions: &zero, Client: &Client{}, Deleted: []string{}})
	require.NoError(t, err)
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 8, n)
}

func TestReadStopsAtABrokenLine(t *testing.T) {
	l, orig := writeLog(t, 3)
	ls := lines(orig)
	ls[1] = []byte("{not json")
	require.NoError(t, os.WriteFile(l.Path(), joinLines(ls), 0o600))
	var seen []int
	err := l.Read(func(line int, e Event, raw []byte) error {
		seen = append(seen, line)
		return nil
	})
	assert.Equal(t, []int{1}, seen)
	assert.Equal(t, 2, brokenLine(t, err))

	stop := errors.New("stop")
	l2, _ := writeLog(t, 3)
	assert.ErrorIs(t, l2.Read(func(int, Event, []byte) error { return stop }), stop, "fn's error ends the read")
}

// A page of the log starts after the line asked for; the lines before it
// are not decoded, so a broken one there does not stop the page.
func TestReadAfter(t *testing.T) {
	l, orig := writeLog(t, 5)
	ls := lines(orig)
	ls[0] = []byte("{not json")
	require.NoError(t, os.WriteFile(l.Path(), joinLines(ls), 0o600))
	var seen []int
	require.NoError(t, l.ReadAfter(2, func(line int, e Event, raw []byte) error {
		seen = append(seen, line)
		assert.Equal(t, int64(line), e.Seq)
		assert.Equal(t, ls[line-1], raw)
		return nil
	}))
	assert.Equal(t, []int{3, 4, 5}, seen)
	seen = nil
	require.NoError(t, l.ReadAfter(5, func(line int, _ Event, _ []byte) error { seen = append(seen, line); return nil }))
	assert.Empty(t, seen, "nothing after the last line")
}

func TestConcurrentAppendsKeepOneChain(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	other := Open(dir) // a second Log value on the same directory
	const goroutines, each = 8, 50

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each+each+1)
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				e := sampleEvent(g*1000 + i)
				if _, err := l.Append(e); err != nil {
					errs <- err
				}
			}
		})
	}
	// Readers at the same time never see a line half written.
	stopReading := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			if _, err := other.Verify(); err != nil {
				errs <- fmt.Errorf("verify during appends: %w", err)
				return
			}
			if _, _, err := other.Head(); err != nil {
				errs <- fmt.Errorf("head during appends: %w", err)
				return
			}
		}
	})
	wg.Go(func() {
		for i := range each {
			if _, err := other.Append(Event{Event: EventFreeze, Stack: "api", Actor: "bob", Reason: strconv.Itoa(i)}); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(stopReading)
	readers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, goroutines*each+each, n)
	assertContiguous(t, l, n)

	var last time.Time
	require.NoError(t, l.Read(func(line int, e Event, raw []byte) error {
		assert.False(t, e.Time.Before(last), "line %d: times follow the order of lines", line)
		last = e.Time
		return nil
	}))
}

func assertContiguous(t *testing.T, l *Log, n int) {
	t.Helper()
	var want int64 = 1
	require.NoError(t, l.Read(func(line int, e Event, raw []byte) error {
		assert.Equal(t, want, e.Seq)
		want++
		return nil
	}))
	assert.Equal(t, int64(n+1), want)
}

const helperDirEnv = "PLANGATE_AUDIT_TEST_APPENDER_DIR"

// TestHelperAppender is not a test: TestAppendsFromSeveralProcesses runs
// the test binary again with it to append from another process.
func TestHelperAppender(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process only")
	}
	l := Open(dir)
	for i := range 50 {
		_, err := l.Append(Event{Event: EventApplyStarted, Stack: "web", Reason: fmt.Sprintf("pid %d #%d", os.Getpid(), i)})
		require.NoError(t, err)
	}
}

func TestAppendsFromSeveralProcesses(t *testing.T) {
	dir := t.TempDir()
	l := Open(dir)
	var wg sync.WaitGroup
	const procs = 3
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for p := range procs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAppender$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperDirEnv+"="+dir)
			outs[p], errs[p] = cmd.CombinedOutput()
		})
	}
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				_, err := l.Append(sampleEvent(g*100 + i))
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	for p := range procs {
		require.NoError(t, errs[p], "helper %d: %s", p, outs[p])
	}

	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, procs*50+4*50, n)
	assertContiguous(t, l, n)
}

func TestBrokenErrorMessage(t *testing.T) {
	err := error(&BrokenError{Line: 7, Reason: "prev_sha256 does not match line 6 — the log was edited or lines were removed"})
	assert.Equal(t, "line 7: prev_sha256 does not match line 6 — the log was edited or lines were removed", err.Error())
}
