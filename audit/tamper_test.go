package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tmpfstest"
)

// The hole this closes: cutting lines off the end of the log and removing
// audit.head used to leave a shorter log that verified, and the next
// Append wrote a fresh head over it, so the cut never showed.
func TestHeadRemovedAndTailCutIsSeen(t *testing.T) {
	l, orig := writeLog(t, 12)
	ls := lines(orig)
	require.NoError(t, os.WriteFile(l.Path(), joinLines(ls[:7]), 0o600))
	require.NoError(t, os.Remove(l.headPath()))

	n, err := l.Verify()
	require.Error(t, err, "a non-empty log without its head does not verify")
	assert.ErrorIs(t, err, ErrHeadMissing)
	assert.Equal(t, 8, brokenLine(t, err))
	assert.Equal(t, 7, n, "the lines there still chain")
	assert.Contains(t, err.Error(), `plangate audit reseal --reason "..."`)

	cut, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	_, err = l.Append(sampleEvent(99))
	require.ErrorIs(t, err, ErrHeadMissing, "Append refuses to go on")
	assert.Contains(t, err.Error(), `plangate audit reseal --reason "..."`)
	after, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	assert.Equal(t, cut, after, "nothing written")
	assert.NoFileExists(t, l.headPath(), "and no head made up")

	// A human who knows why reseals; that is on the record, and appends go
	// on from there.
	e, err := l.Reseal("restored from the 02:00 backup", "alice")
	require.NoError(t, err)
	assert.Equal(t, EventAuditResealed, e.Event)
	assert.Equal(t, int64(8), e.Seq)
	assert.Equal(t, "alice", e.Actor)
	assert.Equal(t, "restored from the 02:00 backup", e.Reason)
	assert.Equal(t, "missing", e.PreviousHead)
	n, err = l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 8, n)
	_, err = l.Append(sampleEvent(100))
	require.NoError(t, err)
	n, err = l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 9, n)
	var events []EventName
	require.NoError(t, l.Read(func(_ int, e Event, _ []byte) error { events = append(events, e.Event); return nil }))
	assert.Equal(t, EventAuditResealed, events[7], "the reseal is a line of its own")
}

func TestReseal(t *testing.T) {
	t.Run("a cut tail under a head that remembers it", func(t *testing.T) {
		l, orig := writeLog(t, 6)
		_, want, err := l.Head()
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(l.Path(), joinLines(lines(orig)[:3]), 0o600))
		_, err = l.Append(sampleEvent(7))
		require.ErrorIs(t, err, ErrHeadMismatch)
		assert.Contains(t, err.Error(), "plangate audit reseal")
		e, err := l.Reseal("lines 4-6 were lost with the old disk", "bob")
		require.NoError(t, err)
		assert.Equal(t, "seq 6 sha256 "+want, e.PreviousHead, "what the head said stays on the record")
		assert.Equal(t, int64(4), e.Seq)
		_, err = l.Verify()
		require.NoError(t, err)
	})
	t.Run("an emptied log", func(t *testing.T) {
		l, _ := writeLog(t, 3)
		require.NoError(t, os.WriteFile(l.Path(), nil, 0o600))
		e, err := l.Reseal("emptied on purpose", "bob")
		require.NoError(t, err)
		assert.Equal(t, int64(1), e.Seq)
		assert.Equal(t, ZeroHash, e.Prev)
		n, err := l.Verify()
		require.NoError(t, err)
		assert.Equal(t, 1, n)
	})
	t.Run("a log whose lines do not chain is refused", func(t *testing.T) {
		l, orig := writeLog(t, 5)
		ls := lines(orig)
		broken := joinLines(append(ls[:2:2], ls[3:]...))
		require.NoError(t, os.WriteFile(l.Path(), broken, 0o600))
		require.NoError(t, os.Remove(l.headPath()))
		_, err := l.Reseal("whatever", "mallory")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "broken at line 3")
		assert.Contains(t, err.Error(), "move audit.jsonl and audit.head aside")
		after, rerr := os.ReadFile(l.Path())
		require.NoError(t, rerr)
		assert.Equal(t, broken, after)
		assert.NoFileExists(t, l.headPath())
	})
	t.Run("an incomplete last line is refused", func(t *testing.T) {
		l, orig := writeLog(t, 3)
		require.NoError(t, os.WriteFile(l.Path(), orig[:len(orig)-5], 0o600))
		_, err := l.Reseal("whatever", "bob")
		assert.ErrorContains(t, err, "broken at line 3")
	})
	t.Run("an intact log needs none", func(t *testing.T) {
		l, orig := writeLog(t, 3)
		_, err := l.Reseal("just in case", "bob")
		assert.ErrorContains(t, err, "nothing to reseal")
		after, rerr := os.ReadFile(l.Path())
		require.NoError(t, rerr)
		assert.Equal(t, orig, after)
	})
	t.Run("a reason is required", func(t *testing.T) {
		l, _ := writeLog(t, 2)
		require.NoError(t, os.Remove(l.headPath()))
		_, err := l.Reseal("  ", "bob")
		assert.ErrorContains(t, err, "needs a reason")
	})
	t.Run("no token in the reason", func(t *testing.T) {
		l, _ := writeLog(t, 2)
		require.NoError(t, os.Remove(l.headPath()))
		_, err := l.Reseal("pasted "+token(), "bob")
		assert.ErrorIs(t, err, ErrSecret)
	})
}

// A new log needs no reseal: no lines, nothing to vouch for.
func TestANewLogNeedsNoHead(t *testing.T) {
	l := Open(t.TempDir())
	_, err := l.Verify()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(l.Path(), nil, 0o600))
	_, err = l.Verify()
	require.NoError(t, err)
	_, err = l.Append(sampleEvent(1))
	require.NoError(t, err)
	assert.FileExists(t, l.headPath())
}

// Logs written before line_sha256 was taken over exact bytes (by
// re-encoding the decoded event) still verify, and appends go on.
func TestLogsOfThePreviousFormatVerify(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{FileName, HeadFileName} {
		b, err := os.ReadFile(filepath.Join("testdata", "v1", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	l := Open(dir)
	n, err := l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 5, n)
	_, err = l.Append(sampleEvent(6))
	require.NoError(t, err)
	n, err = l.Verify()
	require.NoError(t, err)
	assert.Equal(t, 6, n)
}

// sealed adds line_sha256 to an unsealed line the way the rule says,
// independently of encode: the hash of the bytes without the member, the
// member then inserted at byte at (before a comma or the closing brace).
func sealed(unsealed []byte, at int) []byte {
	sum := sha256.Sum256(unsealed)
	member := `"line_sha256":"` + hex.EncodeToString(sum[:]) + `"`
	if unsealed[at-1] == '{' {
		member += ","
	} else {
		member = "," + member
	}
	return append(append(bytes.Clone(unsealed[:at]), member...), unsealed[at:]...)
}

// A newer plangate writes fields this one does not know (and may put
// line_sha256 elsewhere): the hashes cover the exact bytes, so this
// binary verifies its lines and appends after them.
func TestLinesWithFieldsFromANewerPlangateVerify(t *testing.T) {
	cases := map[string]func(unsealed []byte) []byte{
		"unknown fields, line_sha256 last": func(u []byte) []byte { return sealed(u, len(u)-1) },
		"line_sha256 first":                func(u []byte) []byte { return sealed(u, 1) },
		"line_sha256 in the middle":        func(u []byte) []byte { return sealed(u, bytes.Index(u, []byte(`,"event"`))) },
	}
	for name, seal := range cases {
		t.Run(name, func(t *testing.T) {
			l, orig := writeLog(t, 2)
			prev := lines(orig)[1]
			sum := sha256.Sum256(prev)
			unsealed := []byte(`{"seq":3,"time":"2027-01-01T00:00:00Z","event":"plan_attested",` +
				`"attestation":{"kind":"sigstore","bundle":["a","b"],"Seq":7},"stack":"web","risk_score":0.25,` +
				`"prev_sha256":"` + hex.EncodeToString(sum[:]) + `"}`)
			line := seal(unsealed)
			require.True(t, json.Valid(line), "%s", line)
			hsum := sha256.Sum256(line)
			hb, _ := json.Marshal(head{Seq: 3, SHA256: hex.EncodeToString(hsum[:])})
			require.NoError(t, os.WriteFile(l.Path(), append(append(bytes.Clone(orig), line...), '\n'), 0o600))
			require.NoError(t, os.WriteFile(l.headPath(), hb, 0o600))

			n, err := l.Verify()
			require.NoError(t, err, "%s", line)
			assert.Equal(t, 3, n)
			e, err := l.Append(sampleEvent(4))
			require.NoError(t, err, "an older plangate appends after it")
			assert.Equal(t, hex.EncodeToString(hsum[:]), e.Prev)
			n, err = l.Verify()
			require.NoError(t, err)
			assert.Equal(t, 4, n)

			// And an edit to it still shows, at that line.
			b, err := os.ReadFile(l.Path())
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(l.Path(), bytes.Replace(b, []byte(`"risk_score":0.25`), []byte(`"risk_score":0.05`), 1), 0o600))
			_, err = l.Verify()
			assert.Equal(t, 3, brokenLine(t, err))
		})
	}
}

// A full disk after the line was written but before its head was: the
// Append fails, and the log is as it was — no line a caller that says
// "nothing was recorded" would leave behind, no half line, a chain that
// verifies. Real faults on a real 64 KiB tmpfs.
func TestAppendOnAFullDiskLeavesNoLine(t *testing.T) {
	dir := tmpfstest.Mount(t, 64<<10)
	l := Open(dir)
	next := sampleEvent(1)
	next.Reason = strings.Repeat("r", 300)
	probe, _, err := encode(next)
	require.NoError(t, err)
	// Lines until the log's last page has room for one more line: writing
	// it then needs no new page, and the head's new file does.
	var seq int
	for seq = 1; ; seq++ {
		_, err := l.Append(sampleEvent(seq))
		require.NoError(t, err)
		st, err := os.Stat(l.Path())
		require.NoError(t, err)
		if room := 4096 - st.Size()%4096; room < 4096 && room > int64(len(probe))+200 {
			break
		}
	}
	filler := tmpfstest.Fill(t, dir)
	before, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	headBefore, err := os.ReadFile(l.headPath())
	require.NoError(t, err)

	_, err = l.Append(next)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "recording the head of", "the line was written: the head write failed")
	after, rerr := os.ReadFile(l.Path())
	require.NoError(t, rerr)
	assert.Equal(t, string(before), string(after), "the line was cut off again")
	headAfter, rerr := os.ReadFile(l.headPath())
	require.NoError(t, rerr)
	assert.Equal(t, headBefore, headAfter)
	n, verr := l.Verify()
	require.NoError(t, verr)
	assert.Equal(t, seq, n)

	// A line too long for what is left fails in the write itself: cut off too.
	big := sampleEvent(2)
	big.Deleted = nil
	for i := range 400 {
		big.Deleted = append(big.Deleted, "module.app.aws_instance.web["+strings.Repeat("9", i%7)+"]")
	}
	_, err = l.Append(big)
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC)
	after, rerr = os.ReadFile(l.Path())
	require.NoError(t, rerr)
	assert.Equal(t, string(before), string(after), "no half line")
	_, verr = l.Verify()
	require.NoError(t, verr)

	// A reseal on a full disk fails the same way, leaving nothing.
	// (A head that disagrees, written in place: removing it would free a page.)
	require.NoError(t, os.WriteFile(l.headPath(), bytes.Replace(headBefore, []byte(`"seq":`), []byte(`"seq":9`), 1), 0o600))
	_, err = l.Reseal("testing a full disk", "bob")
	require.ErrorIs(t, err, syscall.ENOSPC)
	after, rerr = os.ReadFile(l.Path())
	require.NoError(t, rerr)
	assert.Equal(t, string(before), string(after))
	require.NoError(t, os.WriteFile(l.headPath(), headBefore, 0o600))

	// Space again: the chain goes on where it was.
	require.NoError(t, os.Remove(filler))
	e, err := l.Append(next)
	require.NoError(t, err)
	assert.Equal(t, int64(seq+1), e.Seq)
	n, err = l.Verify()
	require.NoError(t, err)
	assert.Equal(t, seq+1, n)
}
