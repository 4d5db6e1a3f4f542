package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// A registry provider (hashicorp/aws, from a local mirror) under the
// default providers policy, with whichever program the tests run
// (make test-opentofu: OpenTofu, which reads hashicorp/aws as
// registry.opentofu.org/hashicorp/aws): the plan is made, not refused, and
// its diff is rendered with the provider's schema (the tags map's keys
// quoted), in plan_change and in approve alike. Planning a bucket's
// creation asks AWS nothing, so no emulator is needed.
func TestRegistryProviderUnderDefaultPolicy(t *testing.T) {
	t.Parallel()
	mirror := moto.BothRegistriesMirror(t)

	dir := filepath.Join(t.TempDir(), "proj")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bucket"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bucket", "main.tf"), []byte(`
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "AKIAREGISTRYTEST0000"
  secret_key                  = "registry-test-not-a-secret"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

resource "aws_s3_bucket" "logs" {
  bucket = "plangate-registry-test"
  tags   = { Team = "web", Tier = "gold" }
}
`), 0o644))
	cfg := filepath.Join(dir, "plangate.hcl")
	hcl := "state_dir = \".plangate\"\nprovider_mirror = \"" + mirror + "\"\n\nstack \"bucket\" {\n  dir = \"bucket\"\n}\n"
	require.NoError(t, os.WriteFile(cfg, []byte(hcl), 0o644))
	key := filepath.Join(t.TempDir(), "oncall.key")
	out, err := exec.Command(binary, "keygen", "--name", "oncall", "--out", key).CombinedOutput()
	require.NoError(t, err, string(out))
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + string(out[strings.Index(string(out), "approver \"oncall\" {"):]))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	r := serve(t, dir)
	r.initialize()
	id, sum, text := planOK(t, r, "bucket", nil)
	add, change, destroy := counts(sum)
	assert.Equal(t, []int{1, 0, 0}, []int{add, change, destroy})
	host := "registry.terraform.io"
	if tftest.Product(t) == tfbin.OpenTofu {
		host = "registry.opentofu.org"
	}
	assert.Contains(t, text, `+ resource "aws_s3_bucket" "logs" {`)
	assert.Regexp(t, `\+ tags +(= )?\{\s+\+ "Team" = "web"\s+\+ "Tier" = "gold"`, text, "the tags map rendered with the provider's schema")
	schema, err := os.ReadFile(filepath.Join(dir, ".plangate", "plans", id, "schema.json"))
	require.NoError(t, err)
	assert.Contains(t, string(schema), `"`+host+`/hashicorp/aws"`, "the provider as the program in use names it")

	_, approveOut := approve(t, cfg, key, id)
	assert.Regexp(t, `\+ "Team" = "web"`, approveOut)
}
