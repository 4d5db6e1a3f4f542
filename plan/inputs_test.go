package plan

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
)

const inputsModule = `
variable "image_tag" {
  type    = string
  default = "v1"
}
variable "replicas" {
  type    = number
  default = 2
}
variable "size" {
  type = string
}
variable "token" {
  type      = string
  sensitive = true
  default   = "default-token-value"
}
`

func inputsStack(t *testing.T, files map[string]string, varFiles ...string) (*config.Stack, []Variable) {
	t.Helper()
	dir := t.TempDir()
	files["main.tf"] = inputsModule
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	st := &config.Stack{Name: "web", Dir: dir, Variables: []string{"image_tag", "replicas", "size", "token"}}
	for _, f := range varFiles {
		st.VarFiles = append(st.VarFiles, filepath.Join(dir, f))
	}
	decls, err := StackVariables(st)
	require.NoError(t, err)
	return st, decls
}

// Terraform's own order: terraform.tfvars, terraform.tfvars.json, the
// *.auto.tfvars files by name, then the stack's var_files; the last file
// that sets a variable is the one Terraform uses.
func TestVarFileValues(t *testing.T) {
	st, _ := inputsStack(t, map[string]string{
		"terraform.tfvars":      "image_tag = \"from-default-file\"\nsize = \"s\"\n",
		"b.auto.tfvars.json":    `{"image_tag": "from-b-auto", "replicas": 4}`,
		"a.auto.tfvars":         "image_tag = \"from-a-auto\"\n",
		"prod.tfvars":           "replicas = 7\n",
		"ignored.tfvars":        "size = \"never read\"\n",
		"notes.auto.tfvars.bak": "size = \"nor this\"\n",
	}, "prod.tfvars")
	got := VarFileValues(st)
	assert.Equal(t, map[string]VarFileValue{
		"image_tag": {File: "b.auto.tfvars.json", Value: "from-b-auto"},
		"replicas":  {File: "prod.tfvars", Value: float64(7)},
		"size":      {File: "terraform.tfvars", Value: "s"},
	}, got)
}

func TestResolveInputsPrecedence(t *testing.T) {
	st, decls := inputsStack(t, map[string]string{"prod.tfvars": "replicas = 3\nsize = \"m\"\n"}, "prod.tfvars")
	files := VarFileValues(st)
	const from = "0193aaaa-0000-4000-8000-000000000000"
	tests := []struct {
		name     string
		agent    map[string]any
		carried  map[string]any
		want     map[string]Origin
		wantVars map[string]any
	}{
		{
			name: "nothing set: files, then defaults",
			want: map[string]Origin{"image_tag": OriginDefault, "replicas": OriginVarFile, "size": OriginVarFile, "token": OriginDefault},
		},
		{
			name:     "carried values stand in for defaults only",
			carried:  map[string]any{"image_tag": "v2", "token": "carried-token"},
			want:     map[string]Origin{"image_tag": OriginLastApplied, "replicas": OriginVarFile, "size": OriginVarFile, "token": OriginLastApplied},
			wantVars: map[string]any{"image_tag": "v2", "token": "carried-token"},
		},
		{
			name:     "the agent's value beats a file and a carried value",
			agent:    map[string]any{"replicas": 9.0, "image_tag": "v3"},
			carried:  map[string]any{"image_tag": "v2"},
			want:     map[string]Origin{"image_tag": OriginAgent, "replicas": OriginAgent, "size": OriginVarFile, "token": OriginDefault},
			wantVars: map[string]any{"image_tag": "v3", "replicas": 9.0},
		},
		{
			name:    "null resets to the file's value or the default, never the carried one",
			agent:   map[string]any{"image_tag": nil, "replicas": nil},
			carried: map[string]any{"image_tag": "v2"},
			want:    map[string]Origin{"image_tag": OriginDefault, "replicas": OriginVarFile, "size": OriginVarFile, "token": OriginDefault},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ResolveInputs(decls, tt.agent, files, tt.carried, from)
			require.NoError(t, err)
			got := map[string]Origin{}
			var names []string
			for _, in := range set.Inputs {
				got[in.Name] = in.Origin
				names = append(names, in.Name)
				if in.Origin == OriginLastApplied {
					assert.Equal(t, from, in.Source)
				}
				if in.Origin == OriginVarFile {
					assert.Equal(t, "prod.tfvars", in.Source)
				}
			}
			assert.Equal(t, []string{"image_tag", "replicas", "size", "token"}, names, "every settable variable, in the stack's order")
			assert.Equal(t, tt.want, got)
			want := tt.wantVars
			if want == nil {
				want = map[string]any{}
			}
			assert.Equal(t, want, set.Vars, "only the agent's and the carried values go to Terraform")
		})
	}

	// Only variables that neither the agent nor a file sets can be carried.
	assert.Equal(t, []string{"token"}, Uncarried(decls, map[string]any{"image_tag": nil}, files))

	// A null for a variable with no default and no file: nothing to reset to.
	_, decls2 := inputsStack(t, map[string]string{})
	_, err := ResolveInputs(decls2, map[string]any{"size": nil}, nil, nil, "")
	var in *InputError
	require.ErrorAs(t, err, &in)
	assert.Contains(t, in.Msg, `variable "size" is null, but the stack declares no default for it and no var file sets it`)
}

// What is recorded and shown: sensitive values masked, the others with the
// plan's secrets masked, values as the plan JSON holds them.
func TestInputsShownAreMasked(t *testing.T) {
	_, decls := inputsStack(t, map[string]string{})
	set, err := ResolveInputs(decls, map[string]any{"image_tag": "tag-with-carried-token-inside"}, nil, map[string]any{"token": "carried-token"}, "0193aaaa")
	require.NoError(t, err)
	m := NewMasker()
	m.AddValue("carried-token")
	shown := set.Shown(nil, m)
	b, err := json.Marshal(shown)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "carried-token")
	byName := map[string]Input{}
	for _, in := range shown {
		byName[in.Name] = in
	}
	assert.Equal(t, SensitiveMask, byName["token"].Value)
	assert.Equal(t, SensitiveMask, byName["image_tag"].Value, "a value holding a secret is masked, as in the diff")
	assert.Equal(t, float64(2), byName["replicas"].Value)
	assert.Nil(t, byName["size"].Value, "no default: null")
	assert.Equal(t, "carried-token", set.Vars["token"], "Terraform gets the value itself")

	// From a real plan's JSON: its values, sensitive ones masked.
	raw, err := os.ReadFile(filepath.Join(plansDir, "sensitive.json"))
	require.NoError(t, err)
	a, err := AnalyzeBytes(raw)
	require.NoError(t, err)
	recorded := []Input{{Name: "api_token", Origin: OriginVarFile, Value: "x"}, {Name: "rev", Origin: OriginAgent, Value: 1}, {Name: "missing", Origin: OriginDefault}}
	got := a.Inputs(recorded)
	assert.Equal(t, SensitiveMask, got[0].Value)
	assert.Equal(t, json.Number("2"), got[1].Value, "the plan file's value, not the record's")
	assert.Nil(t, got[2].Value)
	assert.Equal(t, OriginAgent, got[1].Origin)
	v, ok := a.ClearVariable("api_token")
	assert.True(t, ok)
	assert.Equal(t, "s3cr3t-PLANTED-token-v2", v, "carried forward in clear, never shown")
}

func TestReportListsInputs(t *testing.T) {
	rec := &Record{ID: "0193aaaa-1111-4000-8000-000000000000", Stack: "web", Status: StatusNoChanges, Deleted: []Deletion{},
		Inputs: []Input{
			{Name: "image_tag", Value: "v2.0.0", Origin: OriginLastApplied, Source: "0193bbbb-2222-4000-8000-000000000000"},
			{Name: "replicas", Value: 3.0, Origin: OriginAgent},
			{Name: "db_password", Value: SensitiveMask, Origin: OriginVarFile, Source: "prod.tfvars"},
			{Name: "network_cidr", Value: "10.0.0.0/16", Origin: OriginDefault},
		}}
	s := rec.Summary(time.Now())
	for _, opts := range [][]ReportOption{nil, {ForApprover()}} {
		var b strings.Builder
		WriteReport(&b, &s, time.Now(), opts...)
		assert.Contains(t, b.String(), "\nInputs:\n"+
			"  image_tag    = \"v2.0.0\"  (last_applied, plan 0193bbbb)\n"+
			"  replicas     = 3  (agent)\n"+
			"  db_password  = (sensitive value)  (var_file prod.tfvars)\n"+
			"  network_cidr = \"10.0.0.0/16\"  (default)\n")
	}
}

// A record from before inputs were kept lists the agent's variables.
func TestLegacyRecordInputs(t *testing.T) {
	r, err := decodeRecord([]byte(`{"id": "x", "stack": "web", "variables": {"replicas": 3, "token": "(sensitive value)"}, "status": "applied"}`))
	require.NoError(t, err)
	assert.Equal(t, []Input{
		{Name: "replicas", Value: float64(3), Origin: OriginAgent},
		{Name: "token", Value: SensitiveMask, Origin: OriginAgent},
	}, r.Inputs)
	r, err = decodeRecord([]byte(`{"id": "x", "stack": "web", "status": "applied"}`))
	require.NoError(t, err)
	assert.Equal(t, []Input{}, r.Summary(time.Now()).Inputs, "always a list")
	r, err = decodeRecord([]byte(`{"id": "x", "stack": "web", "variables": {"n": 1}, "inputs": [], "status": "applied"}`))
	require.NoError(t, err)
	assert.Equal(t, []Input{}, r.Inputs, "a record's own inputs are kept, even empty")
}
