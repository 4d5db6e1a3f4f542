package approvals

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/plangate/plangate/internal/linehash"
)

// FuzzParseLedger feeds arbitrary bytes to the ledger's line parser:
// anyone who can write the state directory controls them. It must not
// panic, and what it accepts must obey the rules as an independent reading
// sees them: every chained line holds the next seq and the previous line's
// hash, its own line_sha256 matches, no legacy line follows a chained
// one, and every nonce of every complete line is reported as used.
//
//	go test ./approvals -run '^$' -fuzz FuzzParseLedger -fuzztime 1m
func FuzzParseLedger(f *testing.F) {
	l, err := OpenLedger(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		if err := l.Consume([]NonceUse{use(n, "oncall"), use(n+"b", "lead")}); err != nil {
			f.Fatal(err)
		}
	}
	pk := use("pk1", "alice")
	pk.Credential, pk.SignCount = "sha256:0123456789abcdef", 7
	if err := l.Consume([]NonceUse{pk}); err != nil {
		f.Fatal(err)
	}
	chained, _ := readAll(l)
	legacy := append(append(mustJSONf(use("old", "x")), '\n'), "\n"...)
	f.Add(chained)
	f.Add(legacy)
	f.Add(append(bytes.Clone(legacy), linehash.Seal([]byte(`{"seq":3,"uses":[],"prev_sha256":"`+linehash.Sum(legacy)+`"}`))...))
	f.Add(chained[:len(chained)-7])
	f.Add([]byte("garbage\n"))
	f.Add([]byte(`{"seq":1,"uses":null,"prev_sha256":"` + linehash.Zero + `"}` + "\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		st, line, reason := parseLedger(data)
		if reason != "" {
			if st != nil || line < 1 {
				t.Fatalf("a refusal names a line: %d %q", line, reason)
			}
			return
		}
		complete := data[:bytes.LastIndexByte(data, '\n')+1]
		if st.complete != int64(len(complete)) {
			t.Fatalf("complete = %d, want %d", st.complete, len(complete))
		}
		prev, seenChained, off := linehash.Zero, false, 0
		for i, raw := range bytes.SplitAfter(complete, []byte("\n")) {
			if len(raw) == 0 {
				break
			}
			off += len(raw)
			raw = raw[:len(raw)-1]
			var m map[string]json.RawMessage
			isJSON := json.Unmarshal(raw, &m) == nil
			if _, ok := m["seq"]; !isJSON || !ok || string(m["seq"]) == "null" {
				if seenChained {
					t.Fatalf("line %d: a legacy line after chained ones was accepted", i+1)
				}
				prev = linehash.Sum(complete[:off])
				if u := nonceOf(raw); u != "" && !hasNonce(st, u) {
					t.Fatalf("line %d: nonce %q not reported as used", i+1, u)
				}
				continue
			}
			seenChained = true
			var ll ledgerLine
			if err := json.Unmarshal(raw, &ll); err != nil {
				t.Fatalf("line %d accepted but does not decode: %v", i+1, err)
			}
			if ll.Seq != int64(i+1) || ll.Prev != prev {
				t.Fatalf("line %d accepted with seq %d, prev %s (want %s)", i+1, ll.Seq, ll.Prev, prev)
			}
			if _, sum, ok := linehash.Unseal(raw); !ok || sum != ll.LineSHA256 {
				t.Fatalf("line %d accepted with a line_sha256 that does not match", i+1)
			}
			for _, u := range ll.Uses {
				if !hasNonce(st, u.Nonce) {
					t.Fatalf("line %d: nonce %q not reported as used", i+1, u.Nonce)
				}
			}
			prev = linehash.Sum(raw)
		}
	})
}

func nonceOf(raw []byte) string {
	var u NonceUse
	_ = json.Unmarshal(raw, &u)
	return u.Nonce
}

func hasNonce(st *ledgerState, n string) bool { _, ok := st.uses[n]; return ok }

func readAll(l *Ledger) ([]byte, error) { return os.ReadFile(l.Path()) }

func mustJSONf(v any) []byte { b, _ := json.Marshal(v); return b }
