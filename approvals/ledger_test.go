package approvals

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func use(nonce, approver string) NonceUse {
	return NonceUse{Nonce: nonce, Approver: approver, PlanID: testPlanID, Fingerprint: "sha256:" + strings.Repeat("0", 16), UsedAt: testNow}
}

func TestLedgerConsume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	l, err := OpenLedger(dir)
	require.NoError(t, err)

	info, err := os.Stat(filepath.Join(dir, LedgerFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall"), use("n2", "lead")}))
	for _, n := range []string{"n1", "n2"} {
		used, err := l.Used(n)
		require.NoError(t, err)
		assert.True(t, used, n)
	}
	used, err := l.Used("n3")
	require.NoError(t, err)
	assert.False(t, used)

	// A second Ledger on the same directory (another process, say) sees it.
	l2, err := OpenLedger(dir)
	require.NoError(t, err)
	used, err = l2.Used("n1")
	require.NoError(t, err)
	assert.True(t, used)
}

func TestLedgerRefusesReuse(t *testing.T) {
	tests := []struct {
		name     string
		batch    []NonceUse
		contains []string
	}{
		{name: "replayed nonce", batch: []NonceUse{use("n1", "x")}, contains: []string{"from oncall", "already used at 2026-03-14T12:00:00Z", "plan " + testPlanID}},
		{name: "replayed nonce among new ones", batch: []NonceUse{use("new", "lead"), use("n1", "x")}, contains: []string{"from oncall", "already used"}},
		{name: "same nonce twice in a batch", batch: []NonceUse{use("twice", "lead"), use("twice", "lead")}, contains: []string{"from lead", "given twice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := OpenLedger(t.TempDir())
			require.NoError(t, err)
			require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall")}))
			before, err := os.ReadFile(l.Path())
			require.NoError(t, err)

			err = l.Consume(tt.batch)
			var ref *RefusalError
			require.True(t, errors.As(err, &ref), "a *RefusalError, got %v", err)
			for _, c := range tt.contains {
				assert.Contains(t, ref.Reason, c)
			}
			after, err := os.ReadFile(l.Path())
			require.NoError(t, err)
			assert.Equal(t, string(before), string(after), "no nonce of a refused batch is recorded")
		})
	}
}

func TestLedgerStoresNoToken(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	text := issue(t, "oncall")
	v, err := Verify([]string{text}, PlanFacts{ID: testPlanID, Stack: testStack, SHA256: testSHA, ExpiresAt: testNow.Add(time.Hour), Required: 1},
		testApprovers("oncall"), l, testNow)
	require.NoError(t, err)
	require.NoError(t, l.Consume(v.Uses))
	data, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	assertNoTokenIn(t, string(data), text)
	assert.Contains(t, string(data), v.Fingerprints[0])
	assert.NotContains(t, string(data), "pgt1.")
}

// TestLedgerTornLastLine: a crash in the middle of an append leaves an
// incomplete last line. The ledger stays readable, keeps refusing the
// nonces of complete lines, and the next append starts on a fresh line.
func TestLedgerTornLastLine(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall")}))
	require.NoError(t, l.Consume([]NonceUse{use("n2", "lead")}))
	full, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	torn := mustJSON(t, use("torn", "oncall"))
	f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(torn[:len(torn)/2])
	require.NoError(t, err)
	require.NoError(t, f.Close())

	for nonce, want := range map[string]bool{"n1": true, "n2": true, "torn": false} {
		used, err := l.Used(nonce)
		require.NoError(t, err, "a torn last line must not make the ledger unreadable")
		assert.Equal(t, want, used, nonce)
	}
	err = l.Consume([]NonceUse{use("n2", "lead")})
	var ref *RefusalError
	assert.True(t, errors.As(err, &ref), "complete lines still refuse their nonces")

	// The torn use never completed, so its nonce is still free.
	require.NoError(t, l.Consume([]NonceUse{use("torn", "oncall"), use("n3", "lead")}))
	data, err := os.ReadFile(l.Path())
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(data, full))
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Len(t, lines, 3, "one line per Consume")
	for _, line := range lines {
		var ll ledgerLine
		assert.NoError(t, json.Unmarshal([]byte(line), &ll), "every line is whole: %s", line)
		assert.NotEmpty(t, ll.Uses)
	}
}

func TestLedgerDamagedLineIsAnError(t *testing.T) {
	l, err := OpenLedger(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, l.Consume([]NonceUse{use("n1", "oncall")}))
	f, err := os.OpenFile(l.Path(), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString("garbage\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, err = l.Used("n1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")
	err = l.Consume([]NonceUse{use("n9", "oncall")})
	require.Error(t, err)
	var ref *RefusalError
	assert.False(t, errors.As(err, &ref), "damage is an error, not a refusal of the token")
	assert.Contains(t, err.Error(), "damaged at line 2")
}

// TestLedgerRaceGoroutines: many goroutines, each with its own Ledger or
// sharing one, consume the same nonce at once: exactly one wins.
func TestLedgerRaceGoroutines(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			dir := t.TempDir()
			first, err := OpenLedger(dir)
			require.NoError(t, err)
			const n = 32
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			for i := range n {
				l := first
				if !shared {
					l, err = OpenLedger(dir)
					require.NoError(t, err)
				}
				wg.Go(func() {
					<-start
					errs[i] = l.Consume([]NonceUse{use("same", fmt.Sprint("a", i))})
				})
			}
			close(start)
			wg.Wait()
			wins := 0
			for _, err := range errs {
				if err == nil {
					wins++
					continue
				}
				var ref *RefusalError
				assert.True(t, errors.As(err, &ref), "losers are refused: %v", err)
			}
			assert.Equal(t, 1, wins)
		})
	}
}

const ledgerHelperEnv = "PLANGATE_TEST_LEDGER_HELPER"

// TestLedgerRaceProcesses: separate processes consume the same nonce at
// once: exactly one wins.
func TestLedgerRaceProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	_, err := OpenLedger(dir)
	require.NoError(t, err)
	goFile := filepath.Join(dir, "go")
	const n = 8
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLedgerHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), ledgerHelperEnv+"="+dir, "PLANGATE_TEST_APPROVER=p"+fmt.Sprint(i))
		outs[i] = &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		require.NoError(t, cmd.Start())
		cmds[i] = cmd
	}
	require.NoError(t, os.WriteFile(goFile, nil, 0o600))
	wins, refusals := 0, 0
	for i, cmd := range cmds {
		err := cmd.Wait()
		out := outs[i].String()
		switch {
		case err == nil && strings.Contains(out, "CONSUMED"):
			wins++
		case strings.Contains(out, "REFUSED"):
			refusals++
		default:
			t.Errorf("helper %d: %v\n%s", i, err, out)
		}
	}
	assert.Equal(t, 1, wins)
	assert.Equal(t, n-1, refusals)
}

// TestLedgerHelperProcess is one contender of TestLedgerRaceProcesses; it
// does nothing in a normal test run.
func TestLedgerHelperProcess(t *testing.T) {
	dir := os.Getenv(ledgerHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestLedgerRaceProcesses")
	}
	l, err := OpenLedger(dir)
	require.NoError(t, err)
	// Wait for the starting signal, so that all contenders race.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "no start signal")
		time.Sleep(time.Millisecond)
	}
	err = l.Consume([]NonceUse{use("same", os.Getenv("PLANGATE_TEST_APPROVER"))})
	var ref *RefusalError
	switch {
	case err == nil:
		fmt.Println("CONSUMED")
	case errors.As(err, &ref):
		fmt.Println("REFUSED")
	default:
		t.Fatalf("consume: %v", err)
	}
}
