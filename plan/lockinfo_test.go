package plan

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Another run holds the stack's state lock (here: the local backend's lock,
// held the way Terraform holds it, with its lock info beside the state): the
// plan does not run, nothing is recorded, and the error names the holder
// and what a human can do.
func TestPlanWhileStateLockedNamesTheHolder(t *testing.T) {
	p, cfg := newPlanner(t, map[string]string{"main.tf": plannerModule}, "")
	st, _ := cfg.Stack("s")

	statePath := filepath.Join(st.Dir, "terraform.tfstate")
	f, err := os.OpenFile(statePath, os.O_RDWR|os.O_CREATE, 0o600)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}))
	info, err := json.Marshal(map[string]string{
		"ID": "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f", "Operation": "OperationTypeApply", "Info": "",
		"Who": "alice@build-7", "Version": "1.11.0", "Created": "2026-01-02T03:04:05Z", "Path": "terraform.tfstate",
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(st.Dir, ".terraform.tfstate.lock.info"), info, 0o600))

	_, err = p.Propose(context.Background(), st, nil)
	var locked *StateLockError
	require.True(t, errors.As(err, &locked), "want a StateLockError, got %v", err)
	assert.Equal(t, "alice@build-7", locked.Lock.Who)
	assert.Equal(t, "5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f", locked.Lock.ID)
	assert.Equal(t, "OperationTypeApply", locked.Lock.Operation)
	msg := err.Error()
	assert.Contains(t, msg, `stack "s": the Terraform state is locked by another run, so nothing ran: held by alice@build-7`)
	assert.Contains(t, msg, "terraform force-unlock 5f0c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f")
	assert.Contains(t, msg, "a human (not the agent)")
	recs, err := p.Store.List()
	require.NoError(t, err)
	assert.Empty(t, recs, "a plan that never ran is not recorded")

	// Once the lock is free, the plan runs.
	require.NoError(t, syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: syscall.F_UNLCK, Whence: 0}))
	require.NoError(t, os.Remove(filepath.Join(st.Dir, ".terraform.tfstate.lock.info")))
	rec, err := p.Propose(context.Background(), st, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusAwaitingApproval, rec.Status)
}

func TestParseLockInfo(t *testing.T) {
	// Terraform 1.11's detail, as its -json diagnostic carries it.
	detail := "Error message: resource temporarily unavailable\nLock Info:\n  ID:        bc328935-6cbd-699f-a2ce-237ed95f57d0\n  Path:      terraform.tfstate\n  Operation: OperationTypeApply\n  Who:       root@vm\n  Version:   1.11.4\n  Created:   2026-11-30 03:16:01.629773788 +0000 UTC\n  Info:      \n\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time."
	info, ok := ParseLockInfo(detail)
	require.True(t, ok)
	assert.Equal(t, LockInfo{
		ID: "bc328935-6cbd-699f-a2ce-237ed95f57d0", Path: "terraform.tfstate", Operation: "OperationTypeApply",
		Who: "root@vm", Version: "1.11.4", Created: "2026-11-30 03:16:01.629773788 +0000 UTC",
	}, info)

	_, ok = ParseLockInfo("Error message: AccessDenied")
	assert.False(t, ok)
	info, ok = ParseLockInfo("Lock Info:\n  Who: a\x1b[31mb\u202e\u0085c\n  Who: second\n  ID: $(rm -rf ~)\n")
	require.True(t, ok)
	assert.Equal(t, "a[31mbc", info.Who, "control and format characters are dropped; the first value counts")
	msg := (&StateLockError{Stack: "s", Dir: "/d", Lock: info}).Error()
	assert.Contains(t, msg, "terraform force-unlock <lock ID>", "an ID that is not one is never put in a command")
	assert.Contains(t, msg, `lock ID "$(rm -rf ~)" (not a lock ID Terraform makes)`)
}

// Terraform says "Error acquiring the state lock" for every failure to
// lock; without the holder's lock info it is not "held by another run".
func TestLockErrorNeedsTheHoldersLock(t *testing.T) {
	denied := Diagnostic{Severity: "error", Summary: "Error acquiring the state lock", Detail: "Error message: operation error S3: PutObject, https response error StatusCode: 403, api error AccessDenied"}
	assert.Nil(t, LockErrorFrom("s", "/d", []Diagnostic{denied}))
	held := Diagnostic{Severity: "error", Summary: "Error acquiring the state lock", Detail: "Error message: ConditionalCheckFailed\nLock Info:\n  ID: 1234\n  Who: x@y\n"}
	le := LockErrorFrom("s", "/d", []Diagnostic{denied, held})
	require.NotNil(t, le)
	assert.Equal(t, "x@y", le.Lock.Who)
}

func FuzzParseLockInfo(f *testing.F) {
	f.Add("Lock Info:\n  ID: x\n  Who: y\n")
	f.Add("Error message: e\nLock Info:\n  ID:        bc32\n  Path:      p\n\n\nrest")
	f.Add("Lock Info:\n:\n::\n ID:")
	f.Fuzz(func(t *testing.T, detail string) {
		info, _ := ParseLockInfo(detail)
		for _, v := range []string{info.ID, info.Path, info.Operation, info.Who, info.Version, info.Created, info.Info} {
			if len(v) > 256+len("…") {
				t.Fatalf("field of %d bytes", len(v))
			}
			for _, r := range v {
				if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
					t.Fatalf("control or format character %U in %q", r, v)
				}
			}
		}
		msg := (&StateLockError{Stack: "s", Dir: "/d", Lock: info}).Error()
		_, cmd, _ := strings.Cut(msg, "terraform force-unlock ")
		cmd, _, _ = strings.Cut(cmd, "`")
		if cmd != "<lock ID>" && !lockIDPattern.MatchString(cmd) {
			t.Fatalf("force-unlock command with %q", cmd)
		}
	})
}
