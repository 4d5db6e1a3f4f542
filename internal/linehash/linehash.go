// Package linehash is the hashing rule of plangate's hash-chained JSON
// Lines files (the audit log and the approval ledger): every hash is over
// a line's exact bytes, never over a re-encoding of what it decodes to, so
// a line written by a newer plangate, with fields an older one does not
// know, verifies in the older one too.
//
// A line's own hash, its line_sha256 member, is the SHA-256 of the line
// with that member ("line_sha256":"<64 lower-case hex digits>") and the
// comma joining it to its neighbour cut out of the text. Seal writes it as
// the last member.
package linehash

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
)

// Zero is the prev_sha256 of a chain's first line.
const Zero = "0000000000000000000000000000000000000000000000000000000000000000"

// prefix starts the line_sha256 member.
const prefix = `"line_sha256":"`

// Sum is the hex SHA-256 of b.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Seal returns the JSON object unsealed (which has no line_sha256) with its
// line_sha256 added as the last member.
func Seal(unsealed []byte) []byte {
	n := len(unsealed)
	line := make([]byte, 0, n+len(prefix)+67)
	line = append(line, unsealed[:n-1]...) // without the closing brace
	if n > 2 {                             // not {}
		line = append(line, ',')
	}
	return append(line, prefix+Sum(unsealed)+`"}`...)
}

// Unseal finds raw's line_sha256 member and returns its value and the
// SHA-256 of raw without it. ok is false unless raw holds exactly one
// such member, with a value of 64 lower-case hex digits, joined to its
// neighbours by a comma as a JSON encoder writes it.
func Unseal(raw []byte) (value, sum string, ok bool) {
	i := bytes.Index(raw, []byte(prefix))
	if i < 1 || bytes.Contains(raw[i+1:], []byte(prefix)) {
		return "", "", false
	}
	start := i + len(prefix)
	end := start + 65 // the value and its closing quote
	if end > len(raw) || raw[end-1] != '"' || !isLowerHex(raw[start:end-1]) {
		return "", "", false
	}
	var unsealed []byte
	switch {
	case raw[i-1] == ',':
		unsealed = append(bytes.Clone(raw[:i-1]), raw[end:]...)
	case raw[i-1] == '{' && end < len(raw) && raw[end] == ',':
		unsealed = append(bytes.Clone(raw[:i]), raw[end+1:]...)
	case raw[i-1] == '{' && end < len(raw) && raw[end] == '}':
		unsealed = append(bytes.Clone(raw[:i]), raw[end:]...)
	default:
		return "", "", false
	}
	return string(raw[start : end-1]), Sum(unsealed), true
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
