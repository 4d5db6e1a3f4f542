package plan

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/moto"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
)

// ProviderSchemas asks Terraform once for a stack's provider schemas (the
// real AWS provider, from the local mirror; no cloud needed), answers from
// the data dir after that, and asks again when the dependency lock file
// changes.
func TestProviderSchemasCached(t *testing.T) {
	tftest.Setup(t) // sets the environment: not parallel
	dir := moto.FixtureStack(t)
	st := &config.Stack{Name: "aws", Dir: dir, Workspace: "default", ProviderMirror: moto.BothRegistriesMirror(t),
		Policy: config.Policy{Providers: config.DefaultProviders()}}
	r := NewRunner(tfbin.Find, t.TempDir(), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	unlock, err := r.Lock(ctx, st)
	require.NoError(t, err)
	defer unlock()
	require.NoError(t, r.ready(ctx))
	require.NoError(t, r.ensureInit(ctx, st, false, nil))

	raw, err := r.ProviderSchemas(ctx, st, nil)
	require.NoError(t, err)
	aws := "registry.terraform.io/hashicorp/aws"
	if tftest.Product(t) == tfbin.OpenTofu {
		aws = "registry.opentofu.org/hashicorp/aws" // as OpenTofu reads hashicorp/aws
	}
	s, err := ReadSchemas(raw, SchemaWant{aws: {"resource.aws_instance": true}})
	require.NoError(t, err)
	require.NotNil(t, s.Providers[aws], "the AWS provider's schemas")
	require.NotNil(t, s.Providers[aws].Resources["aws_instance"], "the AWS provider's schema of aws_instance")

	cached, err := filepath.Glob(filepath.Join(r.dataDir(st), "plangate-schemas", "*.json"))
	require.NoError(t, err)
	require.Len(t, cached, 1)
	// The second answer is the kept one (marked here), not Terraform's.
	marked := []byte(`{"format_version":"1.0","provider_schemas":{}}`)
	require.NoError(t, os.WriteFile(cached[0], marked, 0o600))
	again, err := r.ProviderSchemas(ctx, st, nil)
	require.NoError(t, err)
	assert.Equal(t, marked, again)

	// Another lock file: other providers, maybe; Terraform is asked again,
	// and only the new answer is kept.
	lock := filepath.Join(dir, ".terraform.lock.hcl")
	b, err := os.ReadFile(lock)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(lock, append(b, "\n# changed\n"...), 0o644))
	fresh, err := r.ProviderSchemas(ctx, st, nil)
	require.NoError(t, err)
	assert.Greater(t, len(fresh), 1<<20, "Terraform's own answer (the AWS provider's schemas are megabytes)")
	after, err := filepath.Glob(filepath.Join(r.dataDir(st), "plangate-schemas", "*.json"))
	require.NoError(t, err)
	require.Len(t, after, 1)
	assert.NotEqual(t, cached[0], after[0])
}
