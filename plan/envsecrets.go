package plan

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Secrets of the environment. Terraform code can read files
// (file("/proc/self/environ")) and put what it read in a plan's values,
// unmarked: the credentials plangate holds and hands to Terraform would
// then reach the agent in a diff. Every value of a secret-looking
// variable in plangate's own environment, and in every environment it
// gives Terraform, is masked by value in everything plangate shows, like
// a value Terraform marks sensitive.

var envSecrets struct {
	sync.Mutex
	values map[string]struct{}
}

// secretEnvName reports whether an environment variable's name says its
// value is a secret.
func secretEnvName(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"SECRET", "TOKEN", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE", "ACCESS_KEY", "API_KEY", "AUTH", "_KEY"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// NoteEnvSecrets remembers the secret-looking values of env ("NAME=value"
// or a map), to be masked from then on.
func NoteEnvSecrets(env map[string]string) {
	envSecrets.Lock()
	defer envSecrets.Unlock()
	if envSecrets.values == nil {
		envSecrets.values = map[string]struct{}{}
	}
	for k, v := range env {
		if len(v) >= minSubstringSecret && secretEnvName(k) {
			envSecrets.values[v] = struct{}{}
		}
		if k == EncryptionEnvVar {
			for _, w := range EncryptionValues(v) {
				envSecrets.values[w] = struct{}{}
			}
		}
	}
}

// EncryptionEnvVar is OpenTofu's state and plan encryption configuration
// (HCL or JSON), as the server's environment gives it: its key providers'
// passphrases and keys are in it.
const EncryptionEnvVar = "TF_ENCRYPTION"

// encryptionValue is a quoted attribute value in TF_ENCRYPTION: after "="
// (HCL) or ":" (JSON), never a block label or a JSON key.
var encryptionValue = regexp.MustCompile(`[=:]\s*"((?:[^"\\]|\\.)*)"`)

// EncryptionValues returns every attribute value in a TF_ENCRYPTION
// configuration long enough to be masked by value (a passphrase, a key):
// they are secrets whatever the attribute is called, and masking a
// method's name as well costs nothing.
func EncryptionValues(config string) []string {
	var out []string
	for _, m := range encryptionValue.FindAllStringSubmatch(config, -1) {
		v := m[1]
		if u, err := strconv.Unquote(`"` + v + `"`); err == nil {
			v = u
		}
		if len(v) >= minSubstringSecret {
			out = append(out, v)
		}
	}
	return out
}

func init() {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	NoteEnvSecrets(env)
}

// seedEnvSecrets adds the environment's secrets to s.
func seedEnvSecrets(s *secretSet) {
	envSecrets.Lock()
	defer envSecrets.Unlock()
	for v := range envSecrets.values {
		s.add(v)
	}
}
