package tfscan

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// writeTree writes files (slash paths relative to the returned directory).
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func sources(r *Report) []string {
	out := []string{}
	for _, p := range r.Providers {
		out = append(out, p.Source)
	}
	return out
}

func addresses(r *Report) []string {
	out := []string{}
	for _, u := range r.External {
		out = append(out, u.Address)
	}
	return out
}

const (
	aws      = "registry.terraform.io/hashicorp/aws"
	external = "registry.terraform.io/hashicorp/external"
)

func TestScan(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		providers []string
		external  []string
	}{
		{
			name: "required_providers with two- and three-part sources, in any case",
			files: map[string]string{"main.tf": `
terraform {
  required_providers {
    aws   = { source = "HashiCorp/AWS", version = "~> 5.0" }
    thing = { source = "Example.COM/Corp/Thing" }
    one   = { source = "random" }
  }
}
resource "aws_instance" "x" {}
resource "thing_widget" "w" {}
`},
			providers: []string{"example.com/corp/thing", "registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/random"},
		},
		{
			name: "legacy version-only entry implies the source from its name",
			files: map[string]string{"main.tf": `
terraform {
  required_providers {
    google = "~> 4.0"
  }
}
`},
			providers: []string{"registry.terraform.io/hashicorp/google"},
		},
		{
			name: "implied by resource, data, ephemeral and provider blocks",
			files: map[string]string{"main.tf": `
resource "random_id" "r" {}
data "http" "h" { url = "https://example.com" }
ephemeral "vault_secret" "s" {}
provider "kubernetes" {}
resource "nounderscore" "n" {}
`},
			providers: []string{
				"registry.terraform.io/hashicorp/http", "registry.terraform.io/hashicorp/kubernetes",
				"registry.terraform.io/hashicorp/nounderscore", "registry.terraform.io/hashicorp/random",
				"registry.terraform.io/hashicorp/vault",
			},
		},
		{
			name: "aliased provider: the provider argument's local name, not the type's prefix",
			files: map[string]string{"main.tf": `
terraform {
  required_providers {
    corp = { source = "corp/aws", configuration_aliases = [corp.west] }
  }
}
resource "aws_instance" "x" { provider = corp.west }
data "aws_ami" "y" { provider = "corp.west" }
`},
			providers: []string{"registry.terraform.io/corp/aws"},
		},
		{
			name: "import block's provider and check block's scoped data source",
			files: map[string]string{"main.tf": `
import {
  to       = awsx_instance.x
  id       = "i-1"
  provider = awsx.eu
}
check "up" {
  data "external" "probe" { program = ["probe"] }
  assert {
    condition     = data.external.probe.result.ok == "1"
    error_message = "down"
  }
}
`},
			providers: []string{"registry.terraform.io/hashicorp/awsx", external},
			external:  []string{"data.external.probe"},
		},
		{
			name: "a data source of a provider whose type is external, under another name",
			files: map[string]string{"main.tf": `
terraform {
  required_providers {
    run = { source = "evil/external" }
  }
}
data "run_thing" "x" {}
ephemeral "anything" "y" { provider = run }
data "http" "z" { url = "https://example.com" }
`},
			providers: []string{"registry.terraform.io/evil/external", "registry.terraform.io/hashicorp/http"},
			external:  []string{"data.run_thing.x", "ephemeral.anything.y"},
		},
		{
			name: "nested local modules, two levels, with data external at the bottom",
			files: map[string]string{
				"stack/main.tf":          "module \"net\" {\n  source = \"../modules/net\"\n}\n",
				"modules/net/main.tf":    "resource \"null_resource\" \"n\" {}\nmodule \"ip\" {\n  source = \"./ip/\"\n}\n",
				"modules/net/ip/main.tf": "data \"external\" \"ip\" {\n  program = [\"curl\"]\n}\n",
			},
			providers: []string{external, "registry.terraform.io/hashicorp/null"},
			external:  []string{"module.net.module.ip.data.external.ip"},
		},
		{
			name: "the same module called twice is scanned at both addresses",
			files: map[string]string{
				"stack/main.tf":   "module \"a\" {\n  source = \"./m\"\n}\nmodule \"b\" {\n  source = \"./m\"\n}\n",
				"stack/m/main.tf": "data \"external\" \"e\" {}\n",
			},
			providers: []string{external},
			external:  []string{"module.a.data.external.e", "module.b.data.external.e"},
		},
		{
			name: ".tf.json file",
			files: map[string]string{"main.tf.json": `{
  "//": "generated",
  "terraform": {"required_providers": {"aws": {"source": "corp/aws"}}},
  "resource": {"aws_instance": {"x": {"provider": "aws.west"}}},
  "data": {"external": {"ip": {"program": ["curl"]}}},
  "module": {"m": {"source": "./m"}}
}`, "m/main.tf.json": `{"resource": {"random_id": {"r": {}}}}`},
			providers: []string{"registry.terraform.io/corp/aws", external, "registry.terraform.io/hashicorp/random"},
			external:  []string{"data.external.ip"},
		},
		{
			name: "override file: its source is reported with the one it replaces, its module source wins",
			files: map[string]string{
				"main.tf": `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
resource "aws_instance" "x" {}
module "m" { source = "./base" }
`,
				"evil_override.tf": `
terraform {
  required_providers {
    aws = { source = "evil/aws" }
  }
}
module "m" { source = "./other" }
`,
				"base/main.tf":  "resource \"random_id\" \"r\" {}\n",
				"other/main.tf": "data \"external\" \"e\" {}\n",
			},
			providers: []string{"registry.terraform.io/evil/aws", aws, external},
			external:  []string{"module.m.data.external.e"},
		},
		{
			name:      "terraform_data only: the builtin provider",
			files:     map[string]string{"main.tf": "resource \"terraform_data\" \"t\" {}\ndata \"terraform_remote_state\" \"s\" {\n  backend = \"local\"\n}\n"},
			providers: []string{BuiltinTerraform},
		},
		{
			name: "test files: run blocks' modules are installed by init",
			files: map[string]string{
				"main.tf":                 "resource \"terraform_data\" \"t\" {}\n",
				"tests/a.tftest.hcl":      "run \"setup\" {\n  module {\n    source = \"./setup\"\n  }\n}\nrun \"main\" {}\n",
				"setup/main.tf":           "data \"external\" \"seed\" {}\nresource \"random_id\" \"r\" {}\n",
				"tests/deep/x.tftest.hcl": "run \"ignored\" {\n  module {\n    source = \"./nowhere\"\n  }\n}\n",
			},
			providers: []string{external, "registry.terraform.io/hashicorp/random", BuiltinTerraform},
			external:  []string{"test.tests.a.run.setup.data.external.seed"},
		},
		{
			name: "hidden, backup and other files are not configuration",
			files: map[string]string{
				"main.tf":        "resource \"terraform_data\" \"t\" {}\n",
				".hidden.tf":     "resource \"aws_x\" \"y\" {}\n",
				"main.tf~":       "resource \"aws_x\" \"y\" {}\n",
				"notes.txt":      "resource \"aws_x\" \"y\" {}\n",
				"sub/ignored.tf": "resource \"aws_x\" \"y\" {}\n",
			},
			providers: []string{BuiltinTerraform},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			if _, ok := tt.files["stack/main.tf"]; ok {
				dir = filepath.Join(dir, "stack")
			}
			r, err := Scan(dir, "")
			require.NoError(t, err)
			assert.Equal(t, tt.providers, sources(r))
			if tt.external == nil {
				tt.external = []string{}
			}
			assert.Equal(t, tt.external, addresses(r))
			assert.Empty(t, r.RemoteModules)
		})
	}
}

func TestScanPositions(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"stack/main.tf": `terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
provider "aws" {
  alias = "west"
}
resource "aws_instance" "x" {
  provider = aws.west
}
module "net" {
  source = "../net"
}
`,
		"net/main.tf": "\ndata \"external\" \"ip\" {}\n",
	})
	r, err := Scan(filepath.Join(dir, "stack"), "")
	require.NoError(t, err)
	assert.Equal(t, []Provider{
		{Source: aws, Where: []Pos{{"main.tf", 3}, {"main.tf", 6}, {"main.tf", 10}}},
		{Source: external, Where: []Pos{{"../net/main.tf", 2}}},
	}, r.Providers)
	assert.Equal(t, []Use{{Address: "module.net.data.external.ip", Pos: Pos{"../net/main.tf", 2}}}, r.External)
}

func TestScanRemoteModules(t *testing.T) {
	dir := writeTree(t, map[string]string{"main.tf": `
module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.1.0"
}
module "abs" { source = "/srv/modules/x" }
module "git" { source = "git::https://example.com/m.git" }
`})
	r, err := Scan(dir, ".terraform") // no modules.json there: nothing downloaded
	require.NoError(t, err)
	assert.Empty(t, r.Providers)
	assert.Equal(t, []Module{
		{Address: "module.abs", Source: "/srv/modules/x", Pos: Pos{"main.tf", 6}},
		{Address: "module.git", Source: "git::https://example.com/m.git", Pos: Pos{"main.tf", 7}},
		{Address: "module.vpc", Source: "terraform-aws-modules/vpc/aws", Version: "5.1.0", Pos: Pos{"main.tf", 2}},
	}, r.RemoteModules)
}

// manifestStack is a stack whose remote module terraform init downloaded
// (written by hand as terraform init writes it: see TestScanAgreesWithTerraform
// for the real thing).
func manifestStack(t *testing.T, manifest string) (string, string) {
	t.Helper()
	dir := writeTree(t, map[string]string{
		"stack/main.tf":                           "module \"net\" {\n  source = \"git::https://example.com/net.git\"\n}\nmodule \"gone\" {\n  source = \"app.terraform.io/corp/gone/aws\"\n}\nmodule \"loc\" {\n  source = \"./loc\"\n}\n",
		"stack/loc/main.tf":                       "resource \"terraform_data\" \"t\" {}\n",
		"stack/.terraform/modules/net/main.tf":    "resource \"null_resource\" \"n\" {}\nmodule \"ip\" {\n  source = \"./ip\"\n}\n",
		"stack/.terraform/modules/net/ip/main.tf": "data \"external\" \"ip\" {}\n",
		"data/modules/net/main.tf":                "resource \"random_id\" \"r\" {}\n",
	})
	stack := filepath.Join(dir, "stack")
	for _, d := range []string{filepath.Join(stack, ".terraform"), filepath.Join(dir, "data")} {
		require.NoError(t, os.MkdirAll(filepath.Join(d, "modules"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(d, "modules", "modules.json"), []byte(manifest), 0o644))
	}
	return stack, filepath.Join(dir, "data")
}

func TestScanDownloadedModules(t *testing.T) {
	stack, _ := manifestStack(t, `{"Modules":[{"Key":"","Source":"","Dir":"."},
		{"Key":"net","Source":"git::https://example.com/net.git","Dir":".terraform/modules/net"},
		{"Key":"net.ip","Source":"./ip","Dir":".terraform/modules/net/ip"},
		{"Key":"loc","Source":"./loc","Dir":"loc"}]}`)
	r, err := Scan(stack, ".terraform")
	require.NoError(t, err)
	assert.Equal(t, []string{external, "registry.terraform.io/hashicorp/null", BuiltinTerraform}, sources(r))
	assert.Equal(t, []string{"module.net.module.ip.data.external.ip"}, addresses(r))
	require.Len(t, r.RemoteModules, 1)
	assert.Equal(t, "module.gone", r.RemoteModules[0].Address)
	assert.Equal(t, Pos{".terraform/modules/net/ip/main.tf", 1}, r.External[0].Pos)

	t.Run("TF_DATA_DIR elsewhere: Dir is absolute, under the data dir", func(t *testing.T) {
		stack, data := manifestStack(t, "")
		abs := filepath.ToSlash(filepath.Join(data, "modules", "net"))
		require.NoError(t, os.WriteFile(filepath.Join(data, "modules", "modules.json"),
			[]byte(`{"Modules":[{"Key":"net","Source":"git::https://example.com/net.git","Dir":"`+abs+`"}]}`), 0o644))
		r, err := Scan(stack, data)
		require.NoError(t, err)
		assert.Equal(t, []string{"registry.terraform.io/hashicorp/random", BuiltinTerraform}, sources(r))
		assert.Empty(t, r.External, "the stack's own .terraform is not the data dir")
	})

	t.Run("a local module that modules.json places elsewhere", func(t *testing.T) {
		stack, _ := manifestStack(t, `{"Modules":[{"Key":"loc","Source":"./loc","Dir":".terraform/modules/net"}]}`)
		_, err := Scan(stack, ".terraform")
		var cerr *ConfigError
		require.ErrorAs(t, err, &cerr)
		assert.Contains(t, err.Error(), "main.tf:7: Module directory differs from modules.json")
	})

	t.Run("a downloaded module outside the data dir and the stack", func(t *testing.T) {
		stack, _ := manifestStack(t, `{"Modules":[{"Key":"net","Source":"x","Dir":"../../../../../../etc"}]}`)
		_, err := Scan(stack, ".terraform")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "module.net: modules.json places the module in")
	})

	t.Run("malformed modules.json", func(t *testing.T) {
		stack, _ := manifestStack(t, `{"Modules":[`)
		_, err := Scan(stack, ".terraform")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "modules.json")
	})
}

func TestScanRefuses(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error
	}{
		{
			name:  "parse error, with file and line",
			files: map[string]string{"main.tf": "resource \"terraform_data\" \"ok\" {}\n\nresource \"aws_instance\" \"x\" {\n  ami = \n}\n"},
			want:  "main.tf:4: Invalid expression",
		},
		{
			name:  "JSON parse error",
			files: map[string]string{"main.tf.json": "{\"resource\": {\n\"aws_x\": }"},
			want:  "main.tf.json:2:",
		},
		{
			name:  "missing local module",
			files: map[string]string{"main.tf": "\nmodule \"net\" {\n  source = \"./nope\"\n}\n"},
			want:  "main.tf:2: Module directory not found: module.net: source \"./nope\" resolves to nope, which is not a directory",
		},
		{
			name: "module cycle",
			files: map[string]string{
				"main.tf":   "module \"a\" {\n  source = \"./a\"\n}\n",
				"a/main.tf": "module \"b\" {\n  source = \"../b\"\n}\n",
				"b/main.tf": "module \"a\" {\n  source = \"../a\"\n}\n",
			},
			want: "b/main.tf:1: Module cycle: module.a.module.b.module.a is in a",
		},
		{
			name:  "module calling its own directory",
			files: map[string]string{"main.tf": "module \"me\" {\n  source = \"./\"\n}\n"},
			want:  "Module cycle",
		},
		{
			name:  "non-literal module source",
			files: map[string]string{"main.tf": "variable \"s\" {}\nmodule \"m\" {\n  source = var.s\n}\n"},
			want:  "main.tf:3: Invalid module source",
		},
		{
			name:  "module without source",
			files: map[string]string{"main.tf": "module \"m\" {}\n"},
			want:  "Missing module source",
		},
		{
			name:  "non-literal provider source",
			files: map[string]string{"main.tf": "terraform {\n  required_providers {\n    aws = { source = \"${\"evil\"}/aws\" }\n  }\n}\n"},
			want:  "main.tf:3: Invalid provider source",
		},
		{
			name:  "template in a JSON provider source",
			files: map[string]string{"main.tf.json": `{"terraform": {"required_providers": {"aws": {"source": "${\"evil\"}/aws"}}}}`},
			want:  "Invalid provider source",
		},
		{
			name:  "provider source with too many parts",
			files: map[string]string{"main.tf": "terraform {\n  required_providers {\n    aws = { source = \"a/b/c/d\" }\n  }\n}\n"},
			want:  "must be [HOSTNAME/]NAMESPACE/TYPE",
		},
		{
			name:  "non-ASCII provider source",
			files: map[string]string{"main.tf": "terraform {\n  required_providers {\n    aws = { source = \"ｈashicorp/aws\" }\n  }\n}\n"},
			want:  "Invalid provider source",
		},
		{
			name:  "computed required_providers entry",
			files: map[string]string{"main.tf": "terraform {\n  required_providers {\n    aws = local.req\n  }\n}\n"},
			want:  "Invalid required_providers entry",
		},
		{
			name:  "invalid provider reference",
			files: map[string]string{"main.tf": "resource \"aws_x\" \"y\" {\n  provider = aws[0]\n}\n"},
			want:  "main.tf:2: Invalid provider reference",
		},
		{
			name:  "non-ASCII provider local name",
			files: map[string]string{"main.tf": "resource \"ünï_x\" \"y\" {}\n"},
			want:  "Invalid provider local name",
		},
		{
			name:  "resource type that is not an identifier",
			files: map[string]string{"main.tf": "resource \"aws/../x\" \"y\" {}\n"},
			want:  "Invalid resource label",
		},
		{
			name:  "missing module of a test file",
			files: map[string]string{"main.tf": "", "a.tftest.hcl": "run \"r\" {\n  module {\n    source = \"./nope\"\n  }\n}\n"},
			want:  "a.tftest.hcl:2: Module directory not found: test.a.run.r",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Scan(writeTree(t, tt.files), "")
			require.Error(t, err)
			assert.Nil(t, r)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestScanConfigErrorCarriesDiagnostics(t *testing.T) {
	dir := writeTree(t, map[string]string{"a.tf": "resource \"x\" {}\n", "b.tf": "data \"y\" \"z\" {\n"})
	_, err := Scan(dir, "")
	var cerr *ConfigError
	require.True(t, errors.As(err, &cerr))
	require.Len(t, cerr.Diagnostics, 2)
	assert.Equal(t, "a.tf", cerr.Diagnostics[0].Subject.Filename)
	assert.Equal(t, "b.tf", cerr.Diagnostics[1].Subject.Filename)
}

func TestScanRefusesOddFiles(t *testing.T) {
	t.Run("symlink loop as a module directory", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"main.tf": "module \"l\" {\n  source = \"./loop\"\n}\n"})
		require.NoError(t, os.Symlink("loop", filepath.Join(dir, "loop")))
		_, err := Scan(dir, "")
		require.Error(t, err)
	})
	t.Run("symlinked directory back to an ancestor", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"main.tf": "module \"l\" {\n  source = \"./up\"\n}\n"})
		require.NoError(t, os.Symlink(".", filepath.Join(dir, "up")))
		_, err := Scan(dir, "")
		assert.ErrorContains(t, err, "Module cycle")
	})
	t.Run("a .tf file that is not a regular file", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"main.tf": ""})
		require.NoError(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero.tf")))
		_, err := Scan(dir, "")
		assert.ErrorContains(t, err, "not a regular file")
	})
	t.Run("missing stack directory", func(t *testing.T) {
		_, err := Scan(filepath.Join(t.TempDir(), "nope"), "")
		require.Error(t, err)
	})
}

func TestParseProviderSource(t *testing.T) {
	tests := []struct{ in, want string }{
		{"hashicorp/aws", aws},
		{"aws", aws},
		{"HashiCorp/AWS", aws},
		{"registry.terraform.io/hashicorp/aws", aws},
		{"Registry.Terraform.IO:443/hashicorp/aws", aws},
		{"example.com:8443/corp/thing", "example.com:8443/corp/thing"},
		{"terraform.io/builtin/terraform", BuiltinTerraform},
		{"hashicorp/terraform", "registry.terraform.io/hashicorp/terraform"}, // as Terraform reads it
	}
	for _, tt := range tests {
		got, err := parseProviderSource(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
	for _, bad := range []string{"", "/aws", "a//b", "a/b/c/d", "-corp/aws", "corp/aws-", "corp/a_b", "exa mple.com/a/b", "example.com:/a/b", "example.com:x/a/b", "ｈashicorp/aws"} {
		_, err := parseProviderSource(bad)
		assert.Error(t, err, bad)
	}
}

func TestScanJSONEscapedTemplate(t *testing.T) {
	// "\u0024{" decodes to "${": HCL would evaluate the string as a template.
	dir := writeTree(t, map[string]string{"main.tf.json": `{"terraform": {"required_providers": {"aws": {"source": "\u0024{\"evil\"}/aws"}}}}`})
	_, err := Scan(dir, "")
	assert.ErrorContains(t, err, "Invalid provider source")
}
