package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// TestStateMasksUnmarkedOutputs applies testdata/state, whose plain
// (non-sensitive) outputs echo sensitive values through terraform_data's
// unmarked output, and greps show_stack's view for them.
func TestStateMasksUnmarkedOutputs(t *testing.T) {
	bin := tftest.Setup(t)
	dir := t.TempDir()
	tftest.CopyDir(t, filepath.Join("testdata", "state"), dir)
	terraform := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "terraform %s\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
		return stdout.Bytes()
	}
	terraform("init", "-input=false", "-no-color")
	terraform("apply", "-auto-approve", "-input=false", "-no-color")

	// Terraform itself shows the secrets in the plain outputs: the test
	// plants what it means to.
	var shown tfjson.State
	require.NoError(t, json.Unmarshal(terraform("show", "-json"), &shown))
	for _, name := range []string{"pw_echo", "pin_echo", "pin_as_string", "inner_echo"} {
		o := shown.Values.Outputs[name]
		require.NotNil(t, o, name)
		require.False(t, o.Sensitive, "%s is not marked sensitive", name)
		v, _ := json.Marshal(o.Value)
		assert.True(t, bytes.Contains(v, []byte(plantedSecret)) || bytes.Contains(v, []byte(plantedNumber)),
			"terraform shows %s in clear: %s", name, v)
	}

	r := NewRunner(tfbin.Find, t.TempDir(), nil)
	st := &config.Stack{Name: "state", Dir: dir, Workspace: "default"}
	view, err := r.State(context.Background(), st)
	require.NoError(t, err)

	js, err := json.Marshal(view)
	require.NoError(t, err)
	assertNoSecret(t, "state view JSON", js)
	text := FormatState(view)
	assertNoSecret(t, "state view text", []byte(text))

	// What is not secret stays.
	outputs := map[string]StateOutput{}
	for _, o := range view.Outputs {
		outputs[o.Name] = o
	}
	assert.Equal(t, StateOutput{Name: "pw_sensitive", Sensitive: true, Value: SensitiveMask}, outputs["pw_sensitive"])
	assert.Equal(t, StateOutput{Name: "pw_echo", Value: SensitiveMask}, outputs["pw_echo"])
	assert.Equal(t, StateOutput{Name: "pin_as_string", Value: SensitiveMask}, outputs["pin_as_string"])
	assert.Equal(t, StateOutput{Name: "inner_echo", Value: SensitiveMask}, outputs["inner_echo"], "a secret of a child module, inside a longer string")
	assert.Equal(t, StateOutput{Name: "pin_echo", Value: map[string]any{
		"note": SensitiveMask, "pin": SensitiveMask, "user": "visible-user",
	}}, outputs["pin_echo"])
	assert.Equal(t, StateOutput{Name: "plain", Value: "visible-output"}, outputs["plain"])
	assert.Equal(t, StateOutput{Name: "count", Value: json.Number("42")}, outputs["count"])
	assert.Contains(t, text, `plain = "visible-output"`)
	assert.Contains(t, text, `pw_echo = "(sensitive value)"`)
	assert.Len(t, view.Resources, 3)
}

// TestStateMaskerFromJSON covers what the live fixture does not: a deposed
// object's marks, marks of an unexpected shape (every value of the resource
// counts as secret), bools and short numbers (not masked by value), and a
// state with no values.
func TestStateMaskerFromJSON(t *testing.T) {
	const state = `{
  "format_version": "1.0",
  "values": {
    "outputs": {
      "echo":   {"sensitive": false, "value": ["s3cr3t-PLANTED-deposed", 1234567, true, null, 12]},
      "broken": {"sensitive": false, "value": {"k": "s3cr3t-PLANTED-broken-marks"}},
      "plain":  {"sensitive": false, "value": {"n": 10, "s": "visible"}}
    },
    "root_module": {"resources": [
      {"address": "terraform_data.a", "mode": "managed", "type": "terraform_data", "name": "a", "deposed_key": "0badcafe",
       "values": {"input": ["s3cr3t-PLANTED-deposed", 1234567]}, "sensitive_values": {"input": [true, true]}},
      {"address": "terraform_data.b", "mode": "managed", "type": "terraform_data", "name": "b",
       "values": {"input": {"k": "s3cr3t-PLANTED-broken-marks"}}, "sensitive_values": "true"}
    ]}
  }
}`
	view, masker, err := readState(&config.Stack{Name: "x", Workspace: "default"}, []byte(state))
	require.NoError(t, err)
	assert.Equal(t, "pw is (sensitive value)", masker.MaskText("pw is s3cr3t-PLANTED-deposed"), "the state's secrets mask diagnostics too")
	js, err := json.Marshal(view)
	require.NoError(t, err)
	assertNoSecret(t, "state view JSON", js)
	assert.NotContains(t, string(js), "1234567")
	assert.Contains(t, string(js), `{"name":"echo","sensitive":false,"value":["(sensitive value)","(sensitive value)",true,null,12]}`)
	assert.Contains(t, string(js), `{"name":"plain","sensitive":false,"value":{"n":10,"s":"visible"}}`)

	empty, _, err := readState(&config.Stack{Name: "x"}, []byte(`{"format_version":"1.0"}`))
	require.NoError(t, err)
	assert.Empty(t, empty.Outputs)
	assert.NotNil(t, empty.Resources)

	_, _, err = readState(&config.Stack{Name: "x"}, []byte(`{"values":{"outputs":{"a":{},"a":{}}}}`))
	assert.ErrorContains(t, err, `reading the state of stack "x" (terraform show -json): invalid JSON at byte`)
	assert.ErrorContains(t, err, `the member "a" appears twice`)
}
