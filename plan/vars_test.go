package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

const varsModule = `
variable "replicas" {
  type        = number
  description = "How many."
}
variable "image_tag" {
  type    = string
  default = "v1"
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "ports" {
  type    = list(number)
  default = []
}
variable "settings" {
  type = object({
    name    = string
    enabled = optional(bool, true)
  })
  default = null
}
variable "anything" {}
variable "secret" {
  type      = string
  default   = "hidden-default"
  sensitive = true
}
variable "not_allowed" {
  type    = string
  default = "x"
}
`

func varsStack(t testing.TB) (*config.Stack, []Variable) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "variables.tf"), []byte(varsModule), 0o644))
	st := &config.Stack{Name: "web", Dir: dir, Variables: []string{"replicas", "image_tag", "tags", "ports", "settings", "anything", "secret", "ghost"}}
	decls, err := StackVariables(st)
	require.NoError(t, err)
	return st, decls
}

func TestStackVariables(t *testing.T) {
	_, decls := varsStack(t)
	byName := map[string]Variable{}
	for _, d := range decls {
		byName[d.Name] = d
	}
	assert.Equal(t, "number", byName["replicas"].Type)
	assert.True(t, byName["replicas"].Required)
	assert.Equal(t, "How many.", byName["replicas"].Description)
	assert.Equal(t, "map(string)", byName["tags"].Type)
	assert.Equal(t, "any", byName["anything"].Type)
	assert.True(t, byName["secret"].Sensitive)
	assert.Nil(t, byName["secret"].Default, "a sensitive default is never shown")
	assert.False(t, byName["ghost"].Declared)
	assert.NotContains(t, byName, "not_allowed", "only allowlisted variables are described")
	b, _ := json.Marshal(decls)
	assert.NotContains(t, string(b), "hidden-default")
}

func TestCheckVariables(t *testing.T) {
	st, decls := varsStack(t)
	ok := []map[string]any{
		{},
		{"replicas": 3.0},
		{"replicas": "3"}, // Terraform converts "3" to a number, and so do we
		{"image_tag": "v2.0.0"},
		{"tags": map[string]any{"team": "web", "env": "prod"}},
		{"ports": []any{80.0, 443.0}},
		{"settings": map[string]any{"name": "x"}},
		{"anything": map[string]any{"deep": []any{1.0, "two", true}}},
		{"secret": "s3cr3t"},
		{"settings": nil}, // an explicit null: reset to the stack's own value
		{"replicas": nil}, // refused later only if no var file sets it (ResolveInputs)
	}
	for _, v := range ok {
		got, err := CheckVariables(st, decls, v)
		require.NoError(t, err, "%v", v)
		assert.Equal(t, v, got)
	}
	bad := []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"replicas": "three"}, `variable "replicas" has the wrong type`},
		{map[string]any{"replicas": []any{1.0}}, "number"},
		{map[string]any{"tags": map[string]any{"a": []any{"x"}}}, `element "a"`},
		{map[string]any{"ports": []any{"http"}}, "[0]"},
		{map[string]any{"settings": map[string]any{"enabled": true}}, `attribute "name" is required`},
		{map[string]any{"not_allowed": "x"}, `may not be set on stack "web"`},
		{map[string]any{"ghost": "x"}, "does not declare it"},
		{map[string]any{"1abc": "x"}, "not a Terraform identifier"},
		{map[string]any{"a.b": "x"}, "not a Terraform identifier"},
		{map[string]any{"": "x"}, "not a Terraform identifier"},
		{map[string]any{"image_tag": "v1\nv2"}, "control character"},
		{map[string]any{"image_tag": "v1\r"}, "control character"},
		{map[string]any{"image_tag": "v1\u2028"}, "control character"},
		{map[string]any{"tags": map[string]any{"k\n": "v"}}, "control character"},
		{map[string]any{"anything": []any{"ok", "bad\x00"}}, "anything[1]"},
		{map[string]any{"not_allowed": nil}, `may not be set on stack "web"`},
	}
	for _, tc := range bad {
		_, err := CheckVariables(st, decls, tc.vars)
		require.Error(t, err, "%v", tc.vars)
		var in *InputError
		require.ErrorAs(t, err, &in)
		assert.Contains(t, err.Error(), tc.want)
	}
}

// FuzzCheckVariables feeds arbitrary JSON as the agent's variables: no
// panic, and whatever is accepted is free of control characters and only
// names allowlisted, declared variables.
func FuzzCheckVariables(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"replicas": 3}`, `{"tags": {"a": "b"}}`, `{"ports": [1, 2]}`, `{"settings": {"name": "x"}}`,
		`{"anything": {"a": [1, {"b": null}]}}`, `{"image_tag": "v1\n"}`, `{"x y": 1}`, `{"replicas": 1e400}`,
	} {
		f.Add(seed)
	}
	st, decls := varsStack(f)
	allowed := map[string]bool{}
	for _, d := range decls {
		allowed[d.Name] = d.Declared
	}
	f.Fuzz(func(t *testing.T, input string) {
		var vars map[string]any
		if json.Unmarshal([]byte(input), &vars) != nil {
			return
		}
		got, err := CheckVariables(st, decls, vars)
		if err != nil {
			var in *InputError
			if !assertAs(err, &in) {
				t.Fatalf("not an input error: %v", err)
			}
			return
		}
		for k, v := range got {
			if !allowed[k] {
				t.Fatalf("accepted variable %q that is not allowlisted and declared", k)
			}
			b, _ := json.Marshal(v)
			var round any
			_ = json.Unmarshal(b, &round)
			if _, bad := controlChars(round, k); bad {
				t.Fatalf("accepted a control character in %q", k)
			}
			if strings.ContainsAny(k, "\n\r") {
				t.Fatalf("accepted a newline in a name")
			}
		}
	})
}

func assertAs(err error, target **InputError) bool {
	e, ok := err.(*InputError)
	if ok {
		*target = e
	}
	return ok
}

// tfconfig panics on a top-level required_providers block; the server
// must answer with an error instead.
func TestStackVariablesSurvivesWhatTfconfigPanicsOn(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte("required_providers {}\n"), 0o644))
	_, err := StackVariables(&config.Stack{Name: "s", Dir: dir, Variables: []string{"x"}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the configuration cannot be read")
}
