package plan

import (
	"os"
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
	}
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
