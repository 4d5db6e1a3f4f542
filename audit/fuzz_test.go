package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// FuzzVerify feeds arbitrary file contents to Verify. Whatever the input,
// Verify must not panic, and it must never pass content that a simple,
// independent reading of the chain rules rejects:
//
//	go test ./audit -run '^$' -fuzz FuzzVerify -fuzztime 1m
func FuzzVerify(f *testing.F) {
	// Seeds: real logs and near misses of them.
	for _, n := range []int{0, 1, 3} {
		l := Open(f.TempDir())
		for i := 1; i <= n; i++ {
			if _, err := l.Append(sampleEvent(i)); err != nil {
				f.Fatal(err)
			}
		}
		b, _ := os.ReadFile(l.Path())
		f.Add(b, []byte(nil))
		if h, err := os.ReadFile(l.headPath()); err == nil {
			f.Add(b, h)
			if len(b) > 0 {
				f.Add(b[:bytes.LastIndexByte(b[:len(b)-1], '\n')+1], h) // newest line removed
			}
		}
		if len(b) > 0 {
			f.Add(b[:len(b)-1], []byte(nil))
			f.Add(append(bytes.Clone(b), b...), []byte(nil))
			f.Add(bytes.ReplaceAll(b, []byte(`"seq":1`), []byte(`"SEQ":1`)), []byte(nil))
		}
	}
	f.Add([]byte("\n"), []byte(nil))
	f.Add([]byte(`{"seq":1,"prev_sha256":"`+ZeroHash+`"}`+"\n"), []byte(nil))
	f.Add([]byte(`{"seq":1,"time":"0001-01-01T00:00:00Z","event":"x","prev_sha256":"`+ZeroHash+`"}`+"\n"), []byte(nil))

	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content, headContent []byte) {
		l := Open(dir)
		// A new file each time: ext4 flushes a file truncated and rewritten
		// in place on close, which would stall the fuzzer on disk writes.
		for _, p := range []string{l.Path(), l.headPath()} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(l.Path(), content, 0o600); err != nil {
			t.Fatal(err)
		}
		if headContent != nil {
			if err := os.WriteFile(l.headPath(), headContent, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		n, err := l.Verify()

		// Read never panics either, and reads every line of a valid log.
		read := 0
		rerr := l.Read(func(line int, e Event, raw []byte) error { read = line; return nil })

		want, firstBad := independentCheck(content)
		if err == nil {
			if firstBad != 0 {
				t.Fatalf("Verify passed %d lines, but line %d breaks the chain", n, firstBad)
			}
			if n != want {
				t.Fatalf("Verify counted %d lines, the file has %d", n, want)
			}
			if rerr != nil || read != n {
				t.Fatalf("Read stopped after %d of %d verified lines: %v", read, n, rerr)
			}
			return
		}
		be, ok := err.(*BrokenError)
		if !ok {
			t.Fatalf("Verify failed without naming a line: %v", err)
		}
		if be.Line < 1 || be.Line != n+1 {
			t.Fatalf("Verify broke at line %d after verifying %d", be.Line, n)
		}
		if firstBad != 0 && be.Line > firstBad {
			t.Fatalf("Verify named line %d; line %d already breaks the chain", be.Line, firstBad)
		}
	})
}

// independentCheck reads content as a chain by the rules alone: newline
// terminated lines, each a JSON object whose "seq" is its line number and
// whose "prev_sha256" is the hex SHA-256 of the previous line (64 zeros on
// line 1). It returns the number of lines and the first line breaking a
// rule (0 if none).
func independentCheck(content []byte) (lines, firstBad int) {
	if len(content) == 0 {
		return 0, 0
	}
	parts := bytes.Split(content, []byte{'\n'})
	last := len(parts) - 1
	if len(parts[last]) != 0 { // no final newline
		return len(parts), len(parts)
	}
	parts = parts[:last]
	prev := make([]byte, 32)
	for i, p := range parts {
		line := i + 1
		var m map[string]any
		if err := json.Unmarshal(p, &m); err != nil {
			return len(parts), line
		}
		seq, ok := m["seq"].(float64)
		if !ok || seq != float64(line) {
			return len(parts), line
		}
		h, ok := m["prev_sha256"].(string)
		if !ok {
			return len(parts), line
		}
		if line == 1 {
			if h != ZeroHash {
				return len(parts), line
			}
		} else if h != hex.EncodeToString(prev) {
			return len(parts), line
		}
		sum := sha256.Sum256(p)
		prev = sum[:]
	}
	return len(parts), 0
}
