// Package sandbox runs Terraform where the files of the user it runs as
// are out of its sight: the Terraform code an agent writes is evaluated
// by Terraform, and its file functions (file, fileset, templatefile) read
// whatever the server's user can read: other stacks' plan files and
// state, the approval ledger, the accepted-config record, the user's
// shared AWS credentials.
//
// On Linux a sandboxed command runs in new user, mount and PID
// namespaces, without privileges: each hidden directory is covered by an
// empty tmpfs and each hidden file by /dev/null, the paths the command
// needs are bound back, /proc shows only the sandbox's own processes,
// and the command runs in a second, nested user namespace, so the mounts
// are locked together and cannot be undone from inside. The network is
// not touched: providers need it.
//
// The program to run goes through the plangate binary itself (exe): it
// calls Main first thing, which runs the sandbox's stages and exits.
package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// Environment variables between the stages. SpecEnv carries the Spec as
// JSON; both are removed before the program starts.
const (
	SpecEnv  = "PLANGATE_SANDBOX_SPEC"
	stageEnv = "PLANGATE_SANDBOX_STAGE"
	probeEnv = "PLANGATE_SANDBOX_PROBE"
)

// Spec is what one sandboxed program sees.
type Spec struct {
	// Path is the program to run.
	Path string `json:"path"`
	// Hide lists directories (covered by an empty directory) and files
	// (read as empty) the program must not read. Missing ones are skipped.
	Hide []string `json:"hide"`
	// Keep lists paths under a hidden directory that stay as they are,
	// read-write where they were.
	Keep []string `json:"keep,omitempty"`
	// UID and GID are the caller's: the program runs as them.
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// Encode returns the value of SpecEnv for spec, with the caller's uid
// and gid and the paths cleaned: a process started as exe with it in its
// environment runs spec.Path, with the arguments it was given, inside the
// sandbox. The caller starts exe as it would have started spec.Path
// (same directory, standard streams and signals: the stages forward
// SIGINT, SIGTERM, SIGHUP and SIGQUIT to the program, and exit with its
// status).
func Encode(spec Spec) (string, error) {
	if spec.Path == "" {
		return "", errors.New("sandbox: no program to run")
	}
	spec.UID, spec.GID = os.Getuid(), os.Getgid()
	spec.Hide, spec.Keep = clean(spec.Hide), clean(spec.Keep)
	b, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Command returns the path, arguments and environment that run
// spec.Path with args inside the sandbox, through exe (see Encode).
func Command(exe string, spec Spec, args, env []string) (path string, argv, environ []string, err error) {
	v, err := Encode(spec)
	if err != nil {
		return "", nil, nil, err
	}
	environ = make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !isOurs(kv) {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, SpecEnv+"="+v)
	return exe, append([]string{exe}, args...), environ, nil
}

// clean makes paths absolute and resolves their symbolic links (a mount
// follows them, and a Keep must match its hidden parent), drops
// duplicates, and sorts them shortest first.
func clean(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// under reports whether p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func isOurs(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	return k == SpecEnv || k == stageEnv || k == probeEnv
}

// programEnv is the environment the program gets: the caller's, without
// the stages' own variables.
func programEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !isOurs(kv) {
			out = append(out, kv)
		}
	}
	return out
}

var (
	probeOnce sync.Map // exe -> *probeResult
)

type probeResult struct {
	once sync.Once
	err  error
}

// Probe reports whether a sandbox can be made here, running exe through
// every stage once (cached per exe for the process).
func Probe(exe string) error {
	v, _ := probeOnce.LoadOrStore(exe, &probeResult{})
	r := v.(*probeResult)
	r.once.Do(func() { r.err = probe(exe) })
	return r.err
}

// UnavailableError says why Terraform cannot be sandboxed here.
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("Terraform cannot run in a sandbox on this machine (%v): unprivileged user namespaces are needed (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1 where it exists, and no AppArmor restriction on them: kernel.apparmor_restrict_unprivileged_userns=0)", e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }
