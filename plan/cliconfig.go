package plan

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/internal/atomicfile"
)

// Terraform's CLI configuration is plangate's to write, never the
// server's or the stack's: every Terraform process gets
// TF_CLI_CONFIG_FILE pointing at a file under the state dir with an
// explicit provider_installation (the registry, or the provider_mirror a
// human named), limited to the stack's allowed provider sources. An
// explicit provider_installation turns off Terraform's implied local
// mirrors (terraform.d/plugins in the stack dir, ~/.terraform.d/plugins,
// the XDG data dirs), and with TF_CLI_CONFIG_FILE set Terraform reads no
// ~/.terraformrc nor ~/.terraform.d/*.tfrc: no plugin placed there, and
// no dev_overrides, ever runs. The server's environment variables that
// would bring them back are not passed on (see strippedEnv).

// strippedEnv are environment variables of the server that never reach
// Terraform: they would choose its CLI configuration, plugins, data dir or
// workspace behind plangate's back.
var strippedEnv = []string{
	"TF_CLI_CONFIG_FILE", "TERRAFORM_CONFIG", "TF_PLUGIN_CACHE_DIR",
	"TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE", "TF_REATTACH_PROVIDERS",
	"TF_DATA_DIR", "TF_WORKSPACE", "TF_CLI_ARGS", "TF_SKIP_PROVIDER_VERIFY",
}

// keepFromServerEnv reports whether the server's environment variable k is
// passed on to Terraform.
func keepFromServerEnv(k string) bool {
	if strings.HasPrefix(k, "TF_VAR_") || strings.HasPrefix(k, "TF_CLI_ARGS") {
		return false
	}
	for _, s := range strippedEnv {
		if k == s {
			return false
		}
	}
	return true
}

// CLIConfig is the Terraform CLI configuration plangate writes for the
// stack: providers only from its mirror or the registry, only from its
// policy's sources (none at all when the policy allows none but the
// builtin provider, which needs no installation).
func CLIConfig(st *config.Stack) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by plangate for stack %q: Terraform installs providers only as below.\n", st.Name)
	b.WriteString("disable_checkpoint = true\n\nprovider_installation {\n")
	var pats []string
	for _, p := range st.Policy.Providers {
		for _, ip := range p.InstallPatterns() {
			if !slices.Contains(pats, ip) {
				pats = append(pats, ip)
			}
		}
	}
	if len(pats) > 0 {
		method := "  direct {\n"
		if st.ProviderMirror != "" {
			method = "  filesystem_mirror {\n    path    = " + hclQuote(st.ProviderMirror) + "\n"
		}
		b.WriteString(method)
		quoted := make([]string, len(pats))
		for i, p := range pats {
			quoted[i] = hclQuote(p)
		}
		b.WriteString("    include = [" + strings.Join(quoted, ", ") + "]\n  }\n")
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// hclQuote quotes s for the CLI configuration (HCL 1): backslashes and
// quotes escaped. Config paths and patterns hold no control characters.
func hclQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// cliConfigPath is where the stack's CLI configuration is written.
func (r *Runner) cliConfigPath(st *config.Stack) string {
	return filepath.Join(r.dataRoot, st.Name+".tfrc")
}

// writeCLIConfig writes the stack's CLI configuration when it differs
// from what is on disk (the policy or mirror may have changed).
func (r *Runner) writeCLIConfig(st *config.Stack) (string, error) {
	path := r.cliConfigPath(st)
	want := CLIConfig(st)
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, want) {
		return path, nil
	}
	if err := os.MkdirAll(r.dataRoot, 0o700); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(path, want); err != nil {
		return "", fmt.Errorf("writing Terraform's CLI configuration: %w", err)
	}
	return path, nil
}
