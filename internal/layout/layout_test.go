// Package layout holds tests of the repository's shape: which package may
// import which, and how long a source file may grow.
package layout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/tftest"
)

const module = "github.com/plangate/plangate/"

// allowed lists, for every package of the module, the module's packages it
// may import (tests aside). Dependencies point one way:
// cmd → server → tools → gate → {plan, approvals, audit, freeze, awsguard};
// plan and approvals import only config (approvals also passkey) and
// their own subpackages. An
// entry ending in "/" allows every package under it; "*" allows anything.
var allowed = map[string][]string{
	"cmd/plangate":             {"*"},
	"internal/gen/benchreport": {"*"},
	// plangate doctor --server: the server runs doctor for the agent at the other end.
	"server": {"tools", "gate", "plan", "audit", "config", "approvals", "doctor", "review", "internal/"},
	// The review page shows the gate's plans and runs the passkey ceremonies.
	"review":    {"gate", "plan", "approvals", "audit", "config", "passkey", "internal/"},
	"tools":     {"gate", "plan", "audit", "freeze", "config", "internal/"},
	"gate":      {"plan", "approvals", "audit", "freeze", "awsguard", "config", "notify", "internal/"},
	"plan":      {"config", "internal/", "plan/"},
	"approvals": {"config", "internal/", "approvals/", "passkey"},
	// Audit events carry a plan's counts and AWS identity.
	"audit":    {"plan", "internal/"},
	"awsguard": {"config", "internal/"},
	// plangate doctor reads IAM with the server's credentials, found as awsguard finds them.
	"doctor": {"config", "awsguard", "internal/"},
	"freeze": {"internal/"},
	// Webhooks carry facts the gate hands over; notify needs none of its packages.
	"notify": {"internal/"},
	"config": {"internal/", "passkey"},
	// WebAuthn passkeys: credentials, ceremonies, pgt2 tokens; no plangate policy.
	"passkey":  {"internal/"},
	"fixtures": {},
	"e2e":      {},
	// Test support and helpers below internal/ import nothing above them.
	"internal/agenttoken": {"internal/"},
	"internal/atomicfile": {},
	"internal/flock":      {},
	"internal/gen":        {},
	// The bare mcp-go server benchreport -startup times plangate against.
	"internal/gen/bareserver": {},
	"internal/linehash":       {},
	"internal/lazyre":         {},
	"internal/tmpfstest":      {},
	"internal/layout":         {"internal/"},
	"internal/moto":           {"internal/"},
	"internal/passkeytest":    {},
	"internal/peer":           {},
	"internal/sandbox":        {},
	"internal/startgc":        {},
	"internal/tfbin":          {},
	"internal/tfscan":         {},
	"internal/testprogress":   {},
	"internal/tftest":         {"internal/"},
	// The stdio relay speaks to a server over HTTP; it needs none of its packages.
	"internal/relay": {"internal/"},
}

type goPackage struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T, root string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	require.NoError(t, err, "go list")
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p goPackage
		require.NoError(t, dec.Decode(&p))
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	return pkgs
}

func permits(rules []string, pkg string) bool {
	for _, r := range rules {
		if r == "*" || r == pkg || strings.HasSuffix(r, "/") && strings.HasPrefix(pkg, r) {
			return true
		}
	}
	return false
}

func TestImportsPointOneWay(t *testing.T) {
	for _, p := range listPackages(t, tftest.RepoRoot(t)) {
		name := strings.TrimPrefix(p.ImportPath, module)
		rules, ok := allowed[name]
		if !ok {
			t.Errorf("package %s has no entry in internal/layout's allowed imports: add one that keeps dependencies pointing one way", name)
			continue
		}
		for _, imp := range p.Imports {
			dep, ours := strings.CutPrefix(imp, module)
			if ours && !permits(rules, dep) {
				t.Errorf("%s imports %s, which the layout forbids (it may import %v)", name, dep, rules)
			}
		}
	}
}

func TestPermits(t *testing.T) {
	require.True(t, permits([]string{"config", "internal/"}, "internal/atomicfile"))
	require.True(t, permits([]string{"*"}, "gate"))
	require.False(t, permits([]string{"config", "internal/"}, "awsguard"))
	require.False(t, permits([]string{"plan/"}, "plangate"))
	require.False(t, permits(nil, "config"))
}

// maxLines bounds a non-test Go file: a file that does two jobs tends to
// be a long one, and is split by job.
const maxLines = 700

func TestSourceFilesStayShort(t *testing.T) {
	root := tftest.RepoRoot(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "bin" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		n, err := countLines(path)
		if err != nil {
			return err
		}
		if n > maxLines {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s has %d lines, more than %d: split it by job", rel, n, maxLines)
		}
		return nil
	})
	require.NoError(t, err)
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}
