package plan

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

// plangateSGR are the colour sequences plangate writes itself.
var plangateSGR = regexp.MustCompile("\x1b\\[[0-9;]*m")

// A value an agent writes can hold terminal control sequences (clear the
// screen, move the cursor up over the deletion lines) and bidi overrides
// (show text in another order than it is). plangate approve prints the
// diff on the approver's terminal and the review page reads its colour
// codes: such a value must reach neither as anything but visible escapes,
// on both ways multi-line strings are printed (created, and changed line
// by line). Terraform's own addresses already quote them.
func TestRenderDiffEscapesControlCharacters(t *testing.T) {
	bin := tftest.Find(t)
	env := terraformEnv(t)
	fixture := t.TempDir()
	write := func(step, input string) {
		dir := filepath.Join(fixture, step)
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "doc" {
  input = "`+input+`"
}
resource "terraform_data" "fresh" {
  input = "`+input+`"
  triggers_replace = ["`+input+`"]
  provisioner "local-exec" {
    command = "true \u001b[1A\u001b[2K"
  }
}
`), 0o644))
	}
	write("step1", `first\nsecond\n`)
	write("step2", `first\n\u001b[2J\u001b[Hlooks harmless\nwhat \u202eevil si\nend\u0007\n`)
	// step2 adds the control characters: "doc" changes line by line, and
	// "fresh" is replaced, so its new value prints whole.
	run := runFixture(t, bin, env, fixture)
	a, err := AnalyzeBytes(run.planJSON)
	require.NoError(t, err)

	for _, colour := range []bool{false, true} {
		var b bytes.Buffer
		var opts []RenderOption
		if colour {
			opts = append(opts, WithColour())
		}
		require.NoError(t, a.RenderDiff(&b, opts...))
		out := plangateSGR.ReplaceAllString(b.String(), "")
		assert.NotContains(t, out, "\x1b", "colour=%v: a raw ESC from a value", colour)
		assert.NotContains(t, out, "\u202e", "colour=%v: a raw bidi override", colour)
		assert.NotContains(t, out, "\a", "colour=%v: a raw BEL", colour)
		assert.Contains(t, out, `\x1b[2J\x1b[Hlooks harmless`, "shown, escaped, where it is")
		assert.Contains(t, out, `what \u202eevil si`)
		assert.True(t, strings.Contains(out, "first"), out)
	}
	require.NotEmpty(t, a.Code, "the provisioner is listed")
	for _, c := range a.Code {
		assert.Equal(t, `true \x1b[1A\x1b[2K`, c.Detail, "the code it runs, as a human must see it")
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, tabs\tand\nlines": "plain text, tabs\tand\nlines",
		"\x1b[2J\x1b[H":                `\x1b[2J\x1b[H`,
		"a\u202eb\u2066c":              `a\u202eb\u2066c`,
		"bell\a nul\x00":               `bell\a nul\x00`,
		"bad \xff utf-8":               `bad \xff utf-8`,
		"naïve 日本 ✓":                   "naïve 日本 ✓",
	} {
		assert.Equal(t, want, Printable(in), "%q", in)
	}
}
