package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/internal/tftest"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
	"github.com/plangate/plangate/tools"
)

// harness is a plangate server on a temporary project (the demo web stack
// plus test stacks), reached through mcp-go's in-process client.
type harness struct {
	t    *testing.T
	dir  string
	cfg  *config.Config
	deps *tools.Deps
	c    *client.Client
	init *mcp.InitializeResult
	// keys of the configured approvers, alice and bob
	keys map[string]*approvals.PrivateKey
	// logs is everything the server logged (stderr in production)
	logs *syncBuffer
}

const testConfig = `
state_dir = ".plangate"

stack "web" {
  dir         = "stacks/web"
  description = "demo web tier"
  variables   = ["replicas", "image_tag", "network_cidr"]
  policy {
    approvals          = 1
    deletion_approvals = 2
    protected          = ["terraform_data.database"]
    plan_ttl           = "30m"
  }
}

stack "broken" {
  dir = "stacks/broken"
}

stack "failing" {
  dir       = "stacks/failing"
  variables = ["healthy"]
}

stack "slow" {
  dir       = "stacks/slow"
  variables = ["n"]
}

stack "applyfail" {
  dir = "stacks/applyfail"
  # Its provisioners are the point of the fixture.
  policy {
    allow_provisioners = true
  }
}

stack "slowapply" {
  dir = "stacks/slowapply"
  # Its provisioners are the point of the fixture.
  policy {
    allow_provisioners = true
  }
}
`

type harnessOption func(*harnessOpts)

type harnessOpts struct {
	find       func() (string, error)
	diffBudget int
	extra      string            // more plangate.hcl
	copies     map[string]string // stack dir (under stacks/) -> fixture dir (under the repo root)
	aws        *awsguard.Guards
}

// withStacks adds config (stack blocks) and copies fixtures into
// stacks/<name> for them.
func withStacks(config string, copies map[string]string) harnessOption {
	return func(o *harnessOpts) { o.extra, o.copies = config, copies }
}

// withAWS gives the planner and the gate these AWS guards.
func withAWS(g *awsguard.Guards) harnessOption { return func(o *harnessOpts) { o.aws = g } }

func withTerraform(find func() (string, error)) harnessOption {
	return func(o *harnessOpts) { o.find = find }
}

func withDiffBudget(n int) harnessOption { return func(o *harnessOpts) { o.diffBudget = n } }

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	tftest.Setup(t)
	o := harnessOpts{find: tfbin.Find}
	for _, f := range opts {
		f(&o)
	}
	root := tftest.RepoRoot(t)
	dir := t.TempDir()
	tftest.CopyDir(t, filepath.Join(root, "fixtures", "demo", "stacks", "web"), filepath.Join(dir, "stacks", "web"))
	for _, s := range []string{"broken", "failing", "slow", "applyfail", "slowapply"} {
		tftest.CopyDir(t, filepath.Join(root, "fixtures", "stacks", s), filepath.Join(dir, "stacks", s))
	}
	for name, fixture := range o.copies {
		tftest.CopyDir(t, filepath.Join(root, fixture), filepath.Join(dir, "stacks", name))
	}
	keys := map[string]*approvals.PrivateKey{}
	cfgText := testConfig + o.extra
	for _, name := range []string{"alice", "bob"} {
		pub, priv, err := approvals.GenerateKey()
		require.NoError(t, err)
		keys[name] = &approvals.PrivateKey{Approver: name, Key: priv}
		cfgText += fmt.Sprintf("\napprover %q {\n  public_key = %q\n}\n", name, config.FormatPublicKey(pub))
	}
	cfgPath := filepath.Join(dir, "plangate.hcl")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfgText), 0o644))
	cfg, err := config.Load(cfgPath)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	runner := plan.NewRunner(o.find, cfg.StateDir, logger)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	auditLog := audit.Open(cfg.StateDir)
	deps := &tools.Deps{
		Config:     cfg,
		Store:      store,
		Logger:     logger,
		DiffBudget: o.diffBudget,
		Gate:       &gate.Gate{Config: cfg, Store: store, Runner: runner, Ledger: ledger, Audit: auditLog, Logger: logger, AWS: o.aws},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	c, err := client.NewInProcessClient(server.New(deps, "test"))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	req.Params.ClientInfo = mcp.Implementation{Name: "plangate-test", Version: "1"}
	res, err := c.Initialize(ctx, req)
	require.NoError(t, err)
	return &harness{t: t, dir: dir, cfg: cfg, deps: deps, c: c, init: res, keys: keys, logs: logs}
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// approve signs a token for a plan as the named approver, exactly as
// `plangate approve` does.
func (h *harness) approve(id, approver string) string {
	h.t.Helper()
	rec, err := h.deps.Store.Get(id)
	require.NoError(h.t, err)
	now := time.Now()
	token, _, err := approvals.Issue(h.keys[approver], rec.ID, rec.PlanSHA256, rec.Stack, rec.ExpiresAt, now, rec.ExpiresAt.Sub(now))
	require.NoError(h.t, err)
	return token
}

// applyWith calls apply_plan and returns the result.
func (h *harness) applyWith(id string, tokens ...string) *mcp.CallToolResult {
	h.t.Helper()
	if tokens == nil {
		tokens = []string{}
	}
	return h.call("apply_plan", map[string]any{"plan_id": id, "approval_tokens": tokens})
}

// stateList is `terraform state list` for a stack, run by the test itself.
func (h *harness) stateList(stack string) []string {
	h.t.Helper()
	st, _ := h.cfg.Stack(stack)
	view, err := h.deps.Gate.Runner.State(context.Background(), st)
	require.NoError(h.t, err)
	var out []string
	for _, r := range view.Resources {
		out = append(out, r.Address)
	}
	return out
}

// call calls a tool; protocol errors fail the test, tool errors come back
// as results with IsError.
func (h *harness) call(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := h.c.CallTool(ctx, req)
	require.NoError(h.t, err, "calling %s", name)
	return res
}

// ok calls a tool that must succeed and decodes its structured content.
func (h *harness) ok(name string, args map[string]any, out any) string {
	h.t.Helper()
	res := h.call(name, args)
	require.False(h.t, res.IsError, "%s failed: %s", name, textOf(res))
	if out != nil {
		b, err := json.Marshal(res.StructuredContent)
		require.NoError(h.t, err)
		require.NoError(h.t, json.Unmarshal(b, out))
	}
	return textOf(res)
}

// fails calls a tool that must fail and returns its message.
func (h *harness) fails(name string, args map[string]any) string {
	h.t.Helper()
	res := h.call(name, args)
	require.True(h.t, res.IsError, "%s should fail, got: %s", name, textOf(res))
	return textOf(res)
}

func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// applyDirectly applies a recorded plan's saved file with terraform, as a
// stand-in for apply_plan (which needs approvals, a later feature) so that
// tests can build state to change.
func (h *harness) applyDirectly(id string) {
	h.t.Helper()
	rec, err := h.deps.Store.Get(id)
	require.NoError(h.t, err)
	st, _ := h.cfg.Stack(rec.Stack)
	ctx := context.Background()
	unlock, err := h.deps.Gate.Runner.Lock(ctx, st)
	require.NoError(h.t, err)
	defer unlock()
	out, err := h.deps.Gate.Runner.ApplySaved(ctx, st, filepath.Join(h.deps.Store.Dir(rec.ID), plan.PlanFile))
	require.NoError(h.t, err)
	require.False(h.t, out.Failed, "apply: %v", out.Diagnostics)
	_, err = h.deps.Store.Update(rec.ID, func(r *plan.Record) error { r.Status = plan.StatusApplied; return nil })
	require.NoError(h.t, err)
}

// planDirFiles returns the text of every file plangate keeps for a plan
// except Terraform's own binary plan file.
func (h *harness) planDirFiles(id string) map[string]string {
	h.t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(h.deps.Store.Dir(id))
	require.NoError(h.t, err)
	for _, e := range entries {
		if e.Name() == plan.PlanFile {
			continue
		}
		b, err := os.ReadFile(filepath.Join(h.deps.Store.Dir(id), e.Name()))
		require.NoError(h.t, err)
		out[e.Name()] = string(b)
	}
	return out
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return fmt.Sprintf("%s", b)
}

func decode(t *testing.T, v any, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, out))
}
