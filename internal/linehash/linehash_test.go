package linehash

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSealAndUnseal(t *testing.T) {
	for _, unsealed := range []string{`{"seq":1,"event":"x"}`, `{}`, `{"a":{"line_sha256x":1}}`} {
		line := Seal([]byte(unsealed))
		require.True(t, json.Valid(line), "%s", line)
		want := sha256.Sum256([]byte(unsealed))
		value, sum, ok := Unseal(line)
		require.True(t, ok, "%s", line)
		assert.Equal(t, hex.EncodeToString(want[:]), value)
		assert.Equal(t, value, sum)
	}
}

func TestUnsealRefusesOtherForms(t *testing.T) {
	h := Sum(nil)
	for name, line := range map[string]string{
		"none":           `{"seq":1}`,
		"twice":          `{"seq":1,"line_sha256":"` + h + `","line_sha256":"` + h + `"}`,
		"upper-case hex": `{"seq":1,"line_sha256":"` + "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855" + `"}`,
		"short":          `{"seq":1,"line_sha256":"abc"}`,
		"spaced":         `{"seq":1, "line_sha256":"` + h + `"}`,
		"start of text":  `"line_sha256":"` + h + `"`,
	} {
		_, _, ok := Unseal([]byte(line))
		assert.False(t, ok, name)
	}
}
