package plan

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
