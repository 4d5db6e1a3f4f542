package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	// binary is the plangate built from this tree by TestMain.
	binary string
	// repoRoot is the module root (the directory holding go.mod).
	repoRoot string
	// clientsDir holds the Node clients and their node_modules.
	clientsDir string
	// tfrc is an empty Terraform CLI config: no developer's config, plugin
	// cache or credentials leak into any terraform these tests start.
	tfrc string
	// terraform is the terraform plangate will run ("" when none is found).
	terraform string
	// stateHome is every child's $XDG_STATE_HOME: a config without
	// state_dir keeps its records there, never in the developer's home.
	stateHome string
)

func TestMain(m *testing.M) {
	code, err := setup(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setup(m *testing.M) (int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			repoRoot = d
			break
		}
		if filepath.Dir(d) == d {
			return 0, fmt.Errorf("go.mod not found above %s", wd)
		}
	}
	clientsDir = filepath.Join(repoRoot, "e2e", "clients")
	tmp, err := os.MkdirTemp("", "plangate-e2e-*")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)

	binary = filepath.Join(tmp, "plangate")
	build := exec.Command("go", "build", "-o", binary, "./cmd/plangate")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building plangate: %v\n%s", err, out)
	}
	stateHome = filepath.Join(tmp, "state")
	tfrc = filepath.Join(tmp, "terraformrc")
	if err := os.WriteFile(tfrc, nil, 0o600); err != nil {
		return 0, err
	}
	// The terraform plangate finds: $PLANGATE_TERRAFORM, else PATH, else
	// the one `make terraform` builds into ./bin.
	switch p := os.Getenv("PLANGATE_TERRAFORM"); {
	case p != "":
		terraform = p
	default:
		if p, err := exec.LookPath("terraform"); err == nil {
			terraform = p
		} else if p := filepath.Join(repoRoot, "bin", "terraform"); fileExists(p) {
			terraform = p
		}
	}
	return m.Run(), nil
}

// env is the environment of every child process: ours, with the empty
// Terraform CLI config, a user state directory of the tests' own, and the
// terraform to use.
func env(extra ...string) []string {
	e := append(os.Environ(), "TF_CLI_CONFIG_FILE="+tfrc, "CHECKPOINT_DISABLE=1", "NO_COLOR=1", "XDG_STATE_HOME="+stateHome)
	if terraform != "" {
		e = append(e, "PLANGATE_TERRAFORM="+terraform)
	}
	return append(e, extra...)
}

func requireTerraform(t *testing.T) {
	t.Helper()
	if terraform == "" {
		t.Fatal("terraform not found: put Terraform >= 1.5 on PATH, set PLANGATE_TERRAFORM, or run `make terraform`")
	}
}

// requireClients fails (never skips) when Node or the pinned client
// packages are missing or stale.
func requireClients(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node not found on PATH: these tests run real MCP clients on Node >= 20 (install Node 20 and npm, then run `make e2e-deps`)")
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(clientsDir, "package.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &pkg))
	for name, want := range pkg.Dependencies {
		var installed struct {
			Version string `json:"version"`
		}
		b, err := os.ReadFile(filepath.Join(clientsDir, "node_modules", filepath.FromSlash(name), "package.json"))
		if err != nil {
			t.Fatalf("%s is not installed in %s: run `make e2e-deps` (npm ci from the committed lockfile)", name, filepath.Join(clientsDir, "node_modules"))
		}
		require.NoError(t, json.Unmarshal(b, &installed))
		if installed.Version != want {
			t.Fatalf("%s %s is installed but package.json pins %s: run `make e2e-deps`", name, installed.Version, want)
		}
	}
}

// proj is a plangate project made by `plangate init`, with one approver
// made by `plangate keygen` and a state_dir of its own outside it.
type proj struct {
	dir, cfg, key, state string
}

// newProject runs `plangate init` in a temp dir, adds an approver key with
// `plangate keygen`, and copies the named fixture stacks in (each becomes
// a stack of the same name).
func newProject(t *testing.T, stacks ...string) *proj {
	t.Helper()
	requireTerraform(t)
	p := &proj{dir: filepath.Join(t.TempDir(), "proj")}
	p.cfg = filepath.Join(p.dir, "plangate.hcl")
	p.key = filepath.Join(t.TempDir(), "oncall.key")
	p.state = filepath.Join(t.TempDir(), "state")
	mustRun(t, "init", p.dir)
	out := mustRun(t, "keygen", "--name", "oncall", "--out", p.key)
	i := strings.Index(out, `approver "oncall" {`)
	require.GreaterOrEqual(t, i, 0, "keygen prints the approver block:\n%s", out)
	extra := fmt.Sprintf("\nstate_dir = %q\n\n", p.state) + out[i:]
	for _, s := range stacks {
		copyDir(t, filepath.Join(repoRoot, "fixtures", "stacks", s), filepath.Join(p.dir, "stacks", s))
		// The fixtures' provisioners are what these tests are about.
		extra += fmt.Sprintf("\nstack %q {\n  dir = \"stacks/%s\"\n  policy {\n    allow_provisioners = true\n  }\n}\n", s, s)
	}
	f, err := os.OpenFile(p.cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(extra)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return p
}

// plangate runs the binary with args and returns its combined output.
func plangate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := plangate(t, args...)
	require.NoError(t, err, "plangate %s:\n%s", strings.Join(args, " "), out)
	return out
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == ".terraform" || d.Name() == ".plangate" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		if strings.HasPrefix(d.Name(), "done-") || strings.HasSuffix(d.Name(), ".tfstate") {
			return nil // leftovers of a run by hand
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	require.NoError(t, err)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// node runs a script from clients/ and decodes the JSON report it prints
// on stdout into v.
func node(t *testing.T, timeout time.Duration, v any, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(clientsDir, script)}, args...)...)
	cmd.Dir = clientsDir
	cmd.Env = env()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s: no report within %s\nstdout:\n%s\nstderr:\n%s", script, timeout, stdout.String(), stderr.String())
	}
	require.NoError(t, err, "node %s failed\nstdout (report):\n%s\nstderr:\n%s", script, stdout.String(), stderr.String())
	require.NoError(t, json.Unmarshal(stdout.Bytes(), v), "node %s printed no JSON report\nstdout:\n%s\nstderr:\n%s", script, stdout.String(), stderr.String())
}

// sdkReport is what clients/sdk_loop.mjs prints.
type sdkReport struct {
	OK              bool              `json:"ok"`
	Error           string            `json:"error"`
	Server          map[string]any    `json:"server"`
	ProtocolVersion string            `json:"protocolVersion"`
	Instructions    string            `json:"instructions"`
	Tools           []sdkTool         `json:"tools"`
	Plan            sdkCall           `json:"plan"`
	PendingListed   bool              `json:"pendingListed"`
	Templates       []string          `json:"templates"`
	TokenPrefix     string            `json:"tokenPrefix"`
	Apply           sdkCall           `json:"apply"`
	Resource        sdkResource       `json:"resource"`
	Slow            sdkSlow           `json:"slow"`
	Logs            []map[string]any  `json:"logs"`
	ClientErrors    []string          `json:"clientErrors"`
	Notifications   map[string]int    `json:"notifications"`
	Timings         map[string]uint64 `json:"timingsMs"`
}

type sdkTool struct {
	Name         string          `json:"name"`
	Annotations  map[string]any  `json:"annotations"`
	OutputSchema bool            `json:"outputSchema"`
	InputSchema  json.RawMessage `json:"inputSchema"`
}

type sdkCall struct {
	IsError    bool             `json:"isError"`
	Structured map[string]any   `json:"structured"`
	Text       string           `json:"text"`
	Progress   []map[string]any `json:"progress"`
}

type sdkResource struct {
	URI      string `json:"uri"`
	MIMEType string `json:"mimeType"`
	Text     string `json:"text"`
}

type sdkSlow struct {
	PlanID          string           `json:"planId"`
	Counts          map[string]any   `json:"counts"`
	Progress        []map[string]any `json:"progress"`
	AbortedAtMs     uint64           `json:"abortedAtMs"`
	Rejection       string           `json:"rejection"`
	RejectionCode   any              `json:"rejectionCode"`
	InterruptedSeen bool             `json:"interruptedSeen"`
	InterruptedMs   uint64           `json:"interruptedAfterAbortMs"`
	PingAfter       bool             `json:"pingAfterCancel"`
	ListPlans       map[string]any   `json:"listPlans"`
	Cancel          struct {
		RequestID *float64         `json:"requestId"`
		SentAtMs  uint64           `json:"sentAtMs"`
		After     []map[string]any `json:"after"`
	} `json:"cancel"`
}

// The official TypeScript SDK runs the whole loop against the real binary:
// tools with annotations, plan with progress, an out-of-band human
// approval, apply with progress, the plan resource, and a cancelled apply
// that leaves Terraform's state matching what actually finished.
func TestTypeScriptSDKFullLoop(t *testing.T) {
	t.Parallel()
	requireClients(t)
	p := newProject(t, "slowapply")

	var r sdkReport
	node(t, 120*time.Second, &r, "sdk_loop.mjs", "--binary", binary, "--config", p.cfg, "--key", p.key)
	checkSDKLoop(t, p, &r)
}

// The same loop through the boundary: the SDK spawns the stdio relay
// (plangate serve --connect) to a plangate server on a unix socket, and
// the human approves through the server (plangate approve --server).
func TestTypeScriptSDKThroughTheRelay(t *testing.T) {
	t.Parallel()
	requireClients(t)
	p := newProject(t, "slowapply")
	sock := filepath.Join(t.TempDir(), "plangate.sock")
	srv := exec.Command(binary, "server", "--config", p.cfg, "--listen", "unix:"+sock)
	srv.Env = env()
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	require.NoError(t, srv.Start())
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	require.Eventually(t, func() bool { _, err := os.Stat(sock); return err == nil }, time.Minute, 50*time.Millisecond, "server did not start: %s", &logs)

	var r sdkReport
	node(t, 120*time.Second, &r, "sdk_loop.mjs", "--binary", binary, "--config", p.cfg, "--key", p.key, "--connect", "unix:"+sock)
	checkSDKLoop(t, p, &r)
}

// checkSDKLoop asserts what sdk_loop.mjs reported and what Terraform's
// state says afterwards.
func checkSDKLoop(t *testing.T, p *proj, r *sdkReport) {
	t.Helper()
	require.True(t, r.OK, "sdk_loop failed: %s", r.Error)
	t.Logf("SDK: server %v, protocol %s; timings %v; notifications %v; log messages %v", r.Server, r.ProtocolVersion, r.Timings, r.Notifications, r.Logs)

	// Tools: all seven, every annotation set explicitly.
	names := []string{}
	for _, tl := range r.Tools {
		names = append(names, tl.Name)
		for _, h := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			assert.IsType(t, true, tl.Annotations[h], "%s sets %s", tl.Name, h)
		}
		assert.True(t, tl.OutputSchema, "%s has an output schema", tl.Name)
	}
	sort.Strings(names)
	assert.Equal(t, []string{"apply_plan", "check_drift", "discard_plan", "get_plan", "list_plans", "list_stacks", "plan_change", "show_stack"}, names)
	for _, tl := range r.Tools {
		if tl.Name == "apply_plan" {
			assert.Equal(t, true, tl.Annotations["destructiveHint"])
			assert.Equal(t, false, tl.Annotations["readOnlyHint"])
		}
	}
	assert.Contains(t, r.Instructions, "plangate approve")

	// Plan on web, with progress.
	require.False(t, r.Plan.IsError, r.Plan.Text)
	id, _ := r.Plan.Structured["plan_id"].(string)
	require.NotEmpty(t, id)
	assert.Equal(t, "awaiting_approval", r.Plan.Structured["status"])
	assert.Equal(t, float64(5), r.Plan.Structured["counts"].(map[string]any)["add"])
	assert.True(t, strings.HasPrefix(r.Plan.Text, "Plan "+id[:8]+"… for web: 5 to add, 0 to change, 0 to destroy"), r.Plan.Text)
	assert.NotEmpty(t, r.Plan.Progress, "plan_change sends progress when asked")
	assert.True(t, r.PendingListed, "resources/list shows the pending plan")
	assert.Contains(t, r.Templates, "plangate://plans/{plan_id}")
	assert.Contains(t, r.Templates, "plangate://plans/{plan_id}/plan.json")
	assert.Equal(t, "pgt1.", r.TokenPrefix, "approve --yes prints the token last")

	// Apply with the human's token, with progress.
	require.False(t, r.Apply.IsError, r.Apply.Text)
	assert.Equal(t, "applied", r.Apply.Structured["status"])
	assert.NotEmpty(t, r.Apply.Progress, "apply_plan sends progress during apply")
	assert.Contains(t, r.Apply.Text, "approved by oncall")
	for _, line := range []string{r.Apply.Text, r.Plan.Text, r.Resource.Text} {
		assert.NotContains(t, line, "demo-only-not-a-secret")
	}

	// The plan resource: the full diff.
	assert.Equal(t, "plangate://plans/"+id, r.Resource.URI)
	assert.Equal(t, "text/plain", r.Resource.MIMEType)
	assert.Contains(t, r.Resource.Text, id[:8])
	assert.Contains(t, r.Resource.Text, "# terraform_data.web[1] will be created")

	// The cancelled apply.
	s := r.Slow
	require.NotEmpty(t, s.PlanID)
	assert.Equal(t, float64(4), s.Counts["add"])
	assert.True(t, s.InterruptedSeen, "`plangate plans --status interrupted` lists the cancelled plan")
	assert.True(t, s.PingAfter, "the session survives a cancelled request")
	assert.NotEmpty(t, s.Rejection, "the aborted call rejects in the client")
	status := map[string]any{}
	plans, _ := s.ListPlans["plans"].([]any)
	for _, p := range plans {
		if m, ok := p.(map[string]any); ok {
			status[fmt.Sprint(m["plan_id"])] = m["status"]
		}
	}
	assert.Equal(t, "interrupted", status[s.PlanID], "list_plans shows the cancelled plan interrupted: %v", s.ListPlans)
	t.Logf("cancel: aborted after progress %v; rejection %q; interrupted %d ms after abort", s.Progress, s.Rejection, s.InterruptedMs)

	stackDir := filepath.Join(p.dir, "stacks", "slowapply")
	state := stateList(t, stackDir, filepath.Join(p.state, "terraform", "slowapply"))
	t.Logf("state after cancel: %v", state)
	for _, r := range []string{"a", "b", "c", "d"} {
		if fileExists(filepath.Join(stackDir, "done-"+r)) {
			assert.Contains(t, state, "terraform_data."+r, "step %s finished (done-%s exists) but is not in state", r, r)
		}
	}
	assert.Contains(t, state, "terraform_data.a", "the first step had finished when the client cancelled")
	assert.NotContains(t, state, "terraform_data.d", "the last step never started")
	assert.NoFileExists(t, filepath.Join(stackDir, "done-d"))

	out := mustRun(t, "audit", "--config", p.cfg)
	assert.Contains(t, out, "apply_interrupted")
	assert.Contains(t, out, "client=plangate-e2e-sdk/1.0.0")
	assert.NotContains(t, out, "pgt1.", "no token in the audit log")
	out = mustRun(t, "audit", "verify", "--config", p.cfg)
	assert.Contains(t, out, "hash chain intact")

	// What the real client saw that it did not ask for: the protocol errors
	// it reported on its onerror hook. After notifications/cancelled the
	// server sends nothing more about that request (no response, no
	// progress): any report here is a plangate bug.
	require.NotNil(t, s.Cancel.RequestID, "the SDK sent notifications/cancelled")
	t.Logf("server messages about request %v after notifications/cancelled: %v", *s.Cancel.RequestID, s.Cancel.After)
	for _, e := range r.ClientErrors {
		t.Errorf("the SDK client reported a protocol error: %s", e)
	}
}

// stateList runs `terraform state list` in the stack dir with plangate's
// data dir (where it keeps Terraform's workspace and backend settings).
func stateList(t *testing.T, dir, dataDir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, terraform, "state", "list")
	cmd.Dir = dir
	cmd.Env = env("TF_DATA_DIR=" + dataDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "terraform state list (the state lock must be released):\n%s", stderr.String())
	return strings.Fields(string(out))
}

// The MCP Inspector CLI (a client we did not write) lists the tools and
// calls list_stacks and plan_change.
func TestInspectorCLI(t *testing.T) {
	t.Parallel()
	requireClients(t)
	p := newProject(t)
	server := []string{binary, "serve", "--config", p.cfg}

	// The Inspector's launcher has a --config option of its own (a JSON
	// file of servers), so the server's command line goes after `--`; and
	// --tool-arg takes several values, so it goes before the other options.
	inspector := func(t *testing.T, v any, opts ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		args := append([]string{"--no-install", "@modelcontextprotocol/inspector", "--cli"}, opts...)
		args = append(append(args, "--"), server...)
		cmd := exec.CommandContext(ctx, "npx", args...)
		cmd.Dir = clientsDir
		cmd.Env = env()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		require.NoError(t, err, "npx %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
		require.NoError(t, json.Unmarshal(stdout.Bytes(), v), "the Inspector prints JSON\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		return stdout.String()
	}

	t.Run("tools/list", func(t *testing.T) {
		var res struct {
			Tools []struct {
				Name         string          `json:"name"`
				Annotations  map[string]any  `json:"annotations"`
				InputSchema  json.RawMessage `json:"inputSchema"`
				OutputSchema json.RawMessage `json:"outputSchema"`
			} `json:"tools"`
		}
		inspector(t, &res, "--method", "tools/list")
		require.Len(t, res.Tools, 8)
		byName := map[string]int{}
		for i, tl := range res.Tools {
			byName[tl.Name] = i
			assert.Len(t, tl.Annotations, 5, "%s: a title and all four hints", tl.Name)
			assert.NotEmpty(t, tl.OutputSchema, "%s has an output schema", tl.Name)
		}
		for name, readOnly := range map[string]bool{"list_stacks": true, "show_stack": true, "get_plan": true, "list_plans": true, "check_drift": true, "plan_change": false, "discard_plan": false, "apply_plan": false} {
			require.Contains(t, byName, name)
			ann := res.Tools[byName[name]].Annotations
			assert.Equal(t, readOnly, ann["readOnlyHint"], name)
			assert.Equal(t, name == "apply_plan", ann["destructiveHint"], name)
		}
		var schema struct {
			Required   []string       `json:"required"`
			Properties map[string]any `json:"properties"`
		}
		require.NoError(t, json.Unmarshal(res.Tools[byName["plan_change"]].InputSchema, &schema))
		assert.Equal(t, []string{"stack"}, schema.Required)
		assert.Contains(t, schema.Properties, "variables")
	})

	t.Run("tools/call list_stacks", func(t *testing.T) {
		var res struct {
			IsError           bool `json:"isError"`
			Content           []struct{ Type, Text string }
			StructuredContent struct {
				Stacks []struct {
					Name      string `json:"name"`
					Variables []struct {
						Name string `json:"name"`
						Type string `json:"type"`
					} `json:"variables"`
				} `json:"stacks"`
			} `json:"structuredContent"`
		}
		inspector(t, &res, "--method", "tools/call", "--tool-name", "list_stacks")
		require.False(t, res.IsError)
		require.Len(t, res.StructuredContent.Stacks, 1)
		assert.Equal(t, "web", res.StructuredContent.Stacks[0].Name)
		vars := map[string]string{}
		for _, v := range res.StructuredContent.Stacks[0].Variables {
			vars[v.Name] = v.Type
		}
		assert.Equal(t, map[string]string{"replicas": "number", "image_tag": "string", "network_cidr": "string"}, vars)
		require.NotEmpty(t, res.Content)
		assert.True(t, strings.HasPrefix(res.Content[0].Text, "1 stack(s):"), res.Content[0].Text)
	})

	t.Run("tools/call plan_change", func(t *testing.T) {
		var res struct {
			IsError           bool `json:"isError"`
			Content           []struct{ Type, Text string }
			StructuredContent map[string]any `json:"structuredContent"`
		}
		inspector(t, &res, "--tool-arg", "stack=web", "--method", "tools/call", "--tool-name", "plan_change")
		require.False(t, res.IsError, "%v", res.Content)
		sc := res.StructuredContent
		id, _ := sc["plan_id"].(string)
		require.NotEmpty(t, id)
		assert.Equal(t, "awaiting_approval", sc["status"])
		assert.Equal(t, float64(5), sc["counts"].(map[string]any)["add"])
		assert.Equal(t, float64(0), sc["deletions"])
		assert.Equal(t, "plangate approve "+id, sc["approve_command"])
		require.NotEmpty(t, res.Content)
		assert.True(t, strings.HasPrefix(res.Content[0].Text, "Plan "+id[:8]+"… for web: 5 to add, 0 to change, 0 to destroy — no deletions"), res.Content[0].Text)

		// The plan is on the record, and its resource reads back through
		// the Inspector too.
		out := mustRun(t, "plans", "--config", p.cfg, "--status", "awaiting_approval")
		assert.Contains(t, out, id)
		var rr struct {
			Contents []sdkResource `json:"contents"`
		}
		inspector(t, &rr, "--method", "resources/read", "--uri", "plangate://plans/"+id)
		require.Len(t, rr.Contents, 1)
		assert.Contains(t, rr.Contents[0].Text, "# terraform_data.web[0] will be created")
	})
}
