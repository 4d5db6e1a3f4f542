package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/linehash"
	"github.com/plangate/plangate/internal/tmpfstest"
)

// chainedLedger is a ledger with one Consume for each nonce.
func chainedLedger(t *testing.T, nonces ...string) *Ledger {
	t.Helper()
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	for _, n := range nonces {
		require.NoError(t, l.Consume([]NonceUse{use(n, "oncall")}))
	}
	return l
}

// ledgerLines returns the ledger's lines, each with its newline.
func ledgerLines(t *testing.T, l *Ledger) [][]byte {
	t.Helper()
	b, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	ls := bytes.SplitAfter(b, []byte("\n"))
	return ls[:len(ls)-1] // the empty rest after the last newline
}

func writeLedgerLines(t *testing.T, l *Ledger, ls [][]byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(l.Path(), bytes.Join(ls, nil), 0o600))
}

// assertLedgerRefuses checks that Used and Consume both refuse, with an
// error (not a refusal of the token: the ledger is at fault) that names
// the line and says what to do.
func assertLedgerRefuses(t *testing.T, l *Ledger, line int, reason string) *LedgerError {
	t.Helper()
	_, err := l.Used("n2")
	var le *LedgerError
	require.ErrorAs(t, err, &le, "Used refuses")
	assert.Equal(t, line, le.Line, le.Error())
	assert.Contains(t, le.Error(), reason)
	assert.Contains(t, le.Error(), "damaged at line "+strconv.Itoa(line))
	assert.Contains(t, le.Error(), "restore ledger.jsonl and ledger.head from a backup")

	before, rerr := os.ReadFile(l.Path())
	require.NoError(t, rerr)
	err = l.Consume([]NonceUse{use("n2", "oncall")})
	require.ErrorAs(t, err, &le, "Consume refuses")
	var ref *RefusalError
	assert.False(t, errors.As(err, &ref))
	assert.Equal(t, line, le.Line)
	after, rerr := os.ReadFile(l.Path())
	require.NoError(t, rerr)
	assert.Equal(t, before, after, "nothing recorded")
	return le
}

func TestLedgerEditsAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		edit   func(ls [][]byte) [][]byte
		line   int
		reason string
		head   bool
	}{
		{"a used nonce's line deleted", func(ls [][]byte) [][]byte { return append(ls[:1:1], ls[2:]...) }, 2, "seq is 3, expected 2", false},
		{"the first line deleted", func(ls [][]byte) [][]byte { return ls[1:] }, 1, "seq is 2, expected 1", false},
		{"the last line cut off", func(ls [][]byte) [][]byte { return ls[:2] }, 3, "ledger.head records 3 lines, the ledger ends at line 2", true},
		{"every line cut off", func(ls [][]byte) [][]byte { return nil }, 1, "ledger.head records 3 lines, the ledger ends at line 0", true},
		{"the last line's newline removed", func(ls [][]byte) [][]byte {
			ls[2] = bytes.TrimSuffix(ls[2], []byte("\n"))
			return ls
		}, 3, "ledger.head records 3 lines", true},
		{"a nonce changed", func(ls [][]byte) [][]byte {
			ls[1] = bytes.Replace(ls[1], []byte(`"nonce":"n2"`), []byte(`"nonce":"nX"`), 1)
			return ls
		}, 2, "the line does not match its line_sha256", false},
		{"the newest line rewritten with a fresh line_sha256", func(ls [][]byte) [][]byte {
			var ll ledgerLine
			require.NoError(t, json.Unmarshal(ls[2], &ll))
			ll.Uses[0].Nonce, ll.LineSHA256 = "nX", ""
			b, _ := json.Marshal(ll)
			ls[2] = append(linehash.Seal(b), '\n')
			return ls
		}, 3, "not the line ledger.head recorded", true},
		{"a line's line_sha256 removed", func(ls [][]byte) [][]byte {
			var ll ledgerLine
			require.NoError(t, json.Unmarshal(ls[0], &ll))
			ll.LineSHA256 = ""
			b, _ := json.Marshal(ll)
			ls[0] = append(b, '\n')
			return ls
		}, 1, "line_sha256 is missing", false},
		{"two lines swapped", func(ls [][]byte) [][]byte { ls[0], ls[1] = ls[1], ls[0]; return ls }, 1, "seq is 2, expected 1", false},
		{"a legacy line added after chained ones", func(ls [][]byte) [][]byte {
			return append(ls, append(mustJSON(t, use("n9", "x")), '\n'))
		}, 4, "after chained ones", false},
		{"garbage", func(ls [][]byte) [][]byte { ls[1] = []byte("{\n"); return ls }, 2, "not a JSON object", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := chainedLedger(t, "n1", "n2", "n3")
			writeLedgerLines(t, l, tc.edit(ledgerLines(t, l)))
			le := assertLedgerRefuses(t, l, tc.line, tc.reason)
			assert.Equal(t, tc.head, le.Head)
			if tc.head {
				assert.Contains(t, le.Error(), `plangate audit reseal --reason "..."`)
			}
		})
	}
}

// The reported attack: deleting a used nonce from the ledger (and
// resetting the plan's record) made a spent token verify again.
func TestLedgerNonceDeletedTheSpentTokenIsStillRefused(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, l.Consume([]NonceUse{use("before", "oncall")}))
	text := issue(t, "oncall")
	facts := PlanFacts{ID: testPlanID, Stack: testStack, SHA256: testSHA, ExpiresAt: testNow.Add(time.Hour), Required: 1}
	v, err := Verify([]string{text}, facts, testApprovers("oncall"), l, testNow)
	require.NoError(t, err)
	require.NoError(t, l.Consume(v.Uses))
	require.NoError(t, l.Consume([]NonceUse{use("after", "oncall")}))

	ls := ledgerLines(t, l)
	require.Len(t, ls, 3)
	require.Contains(t, string(ls[1]), v.Fingerprints[0])
	writeLedgerLines(t, l, append(ls[:1:1], ls[2]))

	_, err = Verify([]string{text}, facts, testApprovers("oncall"), l, testNow)
	require.Error(t, err, "the spent token does not verify again")
	assert.Contains(t, err.Error(), "damaged at line 2")
	err = l.Consume(v.Uses)
	var le *LedgerError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 2, le.Line)

	// Nor when the token's line was the newest.
	writeLedgerLines(t, l, ls[:1])
	_, err = Verify([]string{text}, facts, testApprovers("oncall"), l, testNow)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "damaged at line 2")
	assert.Contains(t, err.Error(), "lines were removed from the end")
}

func TestLedgerHeadRemoved(t *testing.T) {
	l := chainedLedger(t, "n1", "n2")
	require.NoError(t, os.Remove(l.headPath()))
	le := assertLedgerRefuses(t, l, 3, "ledger.head is missing")
	assert.True(t, le.Head)
	assert.Contains(t, le.Error(), `plangate audit reseal --reason "..."`)

	prev, err := l.Reseal()
	require.NoError(t, err)
	assert.Equal(t, "missing", prev)
	used, err := l.Used("n2")
	require.NoError(t, err)
	assert.True(t, used, "what the ledger holds still counts")
	require.NoError(t, l.Consume([]NonceUse{use("n3", "lead")}))
	_, err = l.Reseal()
	assert.ErrorIs(t, err, ErrNothingToReseal)
}

// A crash between a line and its head leaves the head one line behind:
// that is no tampering, and the next Consume puts the head right.
func TestLedgerHeadOneLineBehindIsACrash(t *testing.T) {
	l := chainedLedger(t, "n1")
	old, err := os.ReadFile(l.headPath())
	require.NoError(t, err)
	require.NoError(t, l.Consume([]NonceUse{use("n2", "lead")}))
	require.NoError(t, os.WriteFile(l.headPath(), old, 0o600))
	used, err := l.Used("n2")
	require.NoError(t, err)
	assert.True(t, used)
	require.NoError(t, l.Consume([]NonceUse{use("n3", "lead")}))
	require.NoError(t, l.Consume([]NonceUse{use("n4", "lead")}))
	require.NoError(t, os.WriteFile(l.headPath(), old, 0o600))
	_, err = l.Used("n2")
	var le *LedgerError
	require.ErrorAs(t, err, &le, "two lines behind is not a crash")
	assert.Equal(t, 3, le.Line)
}

// Ledgers written before the chain: bare NonceUse lines and no head. They
// look exactly like a ledger whose head was removed and lines deleted, so
// they are refused, saying what to do, until a human reseals them; the
// seal line then covers every legacy line.
func TestLegacyLedgerMigration(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	var legacy []byte
	for _, n := range []string{"old1", "old2", "old3"} {
		legacy = append(append(legacy, mustJSON(t, use(n, "oncall"))...), '\n')
	}
	require.NoError(t, os.WriteFile(l.Path(), legacy, 0o600))

	_, err = l.Used("old2")
	var le *LedgerError
	require.ErrorAs(t, err, &le, "not accepted silently")
	assert.True(t, le.Head)
	assert.Contains(t, le.Error(), "a ledger from before plangate kept ledger.head, after an upgrade")
	assert.Contains(t, le.Error(), "plangate audit reseal")

	_, err = l.Reseal()
	require.NoError(t, err)
	for _, n := range []string{"old1", "old2", "old3"} {
		used, err := l.Used(n)
		require.NoError(t, err)
		assert.True(t, used, "legacy uses still count: %s", n)
	}
	err = l.Consume([]NonceUse{use("old2", "oncall")})
	var ref *RefusalError
	require.ErrorAs(t, err, &ref, "a legacy spent token stays spent")
	require.NoError(t, l.Consume([]NonceUse{use("new", "oncall")}))
	ls := ledgerLines(t, l)
	require.Len(t, ls, 5)
	assert.Contains(t, string(ls[3]), `"uses":[],"resealed_at":`, "the seal line")

	// Now a legacy line removed shows, at the seal line that covers it.
	writeLedgerLines(t, l, append(ls[:1:1], ls[2:]...))
	_, err = l.Used("new")
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 3, le.Line)

	// An edited legacy line too.
	writeLedgerLines(t, l, append([][]byte{bytes.Replace(ls[0], []byte("old1"), []byte("oldX"), 1)}, ls[1:]...))
	_, err = l.Used("new")
	require.ErrorAs(t, err, &le)
	assert.Equal(t, 4, le.Line)
	assert.Contains(t, le.Reason, "lines before it were removed or edited")
}

func TestLedgerResealRefusesABrokenChain(t *testing.T) {
	l := chainedLedger(t, "n1", "n2", "n3")
	ls := ledgerLines(t, l)
	writeLedgerLines(t, l, append(ls[:1:1], ls[2:]...))
	require.NoError(t, os.Remove(l.headPath()))
	_, err := l.Reseal()
	var le *LedgerError
	require.ErrorAs(t, err, &le, "a reseal vouches for the end only, never for a removed line")
	assert.Equal(t, 2, le.Line)
	assert.NoFileExists(t, l.headPath())
}

// An empty ledger needs no head: a new state directory just works.
func TestNewLedgerNeedsNoHead(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	used, err := l.Used("n1")
	require.NoError(t, err)
	assert.False(t, used)
	_, err = l.Reseal()
	assert.ErrorIs(t, err, ErrNothingToReseal)
	require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall")}))
	assert.FileExists(t, filepath.Join(filepath.Dir(l.Path()), LedgerHeadFile))
}

// A newer plangate may add fields to ledger lines: the hashes are over the
// exact bytes, so this one still reads them.
func TestLedgerLineWithUnknownFields(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	line := linehash.Seal([]byte(`{"seq":1,"uses":[{"nonce":"n1","approver":"oncall","plan_id":"p","fingerprint":"f","used_at":"2026-03-14T12:00:00Z","device":"yubikey"}],"host":"ci-7","prev_sha256":"` + strings.Repeat("0", 64) + `"}`))
	require.NoError(t, os.WriteFile(l.Path(), append(line, '\n'), 0o600))
	hb, _ := json.Marshal(ledgerHead{Seq: 1, SHA256: linehash.Sum(line)})
	require.NoError(t, os.WriteFile(l.headPath(), hb, 0o600))
	used, err := l.Used("n1")
	require.NoError(t, err)
	assert.True(t, used)
	require.NoError(t, l.Consume([]NonceUse{use("n2", "oncall")}))
}

// A full disk when the head is written: the Consume fails, records no
// use (the token stays unspent), and the ledger stays whole. A real 64 KiB
// tmpfs.
func TestLedgerConsumeOnAFullDisk(t *testing.T) {
	dir := tmpfstest.Mount(t, 64<<10)
	l, err := OpenLedger(dir)
	require.NoError(t, err)
	require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall")}))
	before, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	filler := tmpfstest.Fill(t, dir)

	err = l.Consume([]NonceUse{use("n2", "oncall")})
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Contains(t, err.Error(), "recording the head of")
	after, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "no line left behind")
	used, err := l.Used("n2")
	require.NoError(t, err, "the ledger is whole")
	assert.False(t, used, "the token is still unspent")

	require.NoError(t, os.Remove(filler))
	require.NoError(t, l.Consume([]NonceUse{use("n2", "oncall")}))
	used, err = l.Used("n2")
	require.NoError(t, err)
	assert.True(t, used)
}
