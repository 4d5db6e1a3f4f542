package plan

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/plangate/plangate/config"
)

func TestCLIConfig(t *testing.T) {
	st := &config.Stack{Name: "web", Policy: config.DefaultPolicy()}
	assert.Equal(t, `# Written by plangate for stack "web": Terraform installs providers only as below.
disable_checkpoint = true

provider_installation {
  direct {
    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*"]
  }
}
`, string(CLIConfig(st)))

	st.ProviderMirror = `/opt/my "mirror"`
	st.Policy.Providers = append(st.Policy.Providers, config.ProviderPattern{Host: "example.com", Namespace: "acme", Type: "*"})
	assert.Contains(t, string(CLIConfig(st)), `  filesystem_mirror {
    path    = "/opt/my \"mirror\""
    include = ["registry.terraform.io/hashicorp/*", "registry.opentofu.org/hashicorp/*", "example.com/acme/*"]
  }`)
	assert.NotContains(t, string(CLIConfig(st)), "direct")

	st.Policy.Providers = nil
	assert.Contains(t, string(CLIConfig(st)), "provider_installation {\n}\n", "no sources: nothing can be installed")
}

func TestServerEnvironmentThatNeverReachesTerraform(t *testing.T) {
	for _, k := range []string{"TF_CLI_CONFIG_FILE", "TERRAFORM_CONFIG", "TF_PLUGIN_CACHE_DIR", "TF_REATTACH_PROVIDERS", "TF_DATA_DIR", "TF_WORKSPACE", "TF_VAR_x", "TF_CLI_ARGS_plan"} {
		assert.False(t, keepFromServerEnv(k), k)
	}
	for _, k := range []string{"PATH", "HOME", "AWS_REGION", "TF_TOKEN_app_terraform_io", "TF_LOG"} {
		assert.True(t, keepFromServerEnv(k), k)
	}
}
