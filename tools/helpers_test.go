package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/tfbin"
	"github.com/plangate/plangate/plan"
)

// fixture is a real config, plan store and gate on a temporary state dir,
// with stacks "web" and "db". Plans are recorded into the store directly:
// these tests exercise the handlers, not Terraform (the server and e2e
// tests run the tools against real Terraform).
type fixture struct {
	deps *Deps
	now  time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	for _, s := range []string{"web", "db"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, s), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, s, "main.tf"), []byte(`variable "n" {
  type    = number
  default = 1
}
`), 0o644))
	}
	path := filepath.Join(dir, "plangate.hcl")
	// An explicit state_dir: the default is in the user's home.
	require.NoError(t, os.WriteFile(path, []byte(`state_dir = "state"
stack "web" {
  dir       = "web"
  variables = ["n"]
}
stack "db" {
  dir = "db"
}
`), 0o644))
	cfg, err := config.Load(path)
	require.NoError(t, err)
	store, err := plan.OpenStore(cfg.StateDir)
	require.NoError(t, err)
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	require.NoError(t, err)
	f := &fixture{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return f.now }
	g := &gate.Gate{Config: cfg, Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir),
		Runner: plan.NewRunner(tfbin.Find, cfg.StateDir, nil), Now: clock}
	f.deps = &Deps{Config: cfg, Gate: g, Store: store, Now: clock}
	return f
}

// commit records a plan of stack with the given status, diff and
// deletions.
func (f *fixture) commit(t *testing.T, stack string, status plan.Status, diff string, deleted int) *plan.Record {
	t.Helper()
	d, err := f.deps.Store.NewDraft()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(d.PlanFile(), []byte("plan "+d.ID), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(d.Dir, plan.DiffFile), []byte(diff), 0o600))
	sum, err := plan.FileSHA256(d.PlanFile())
	require.NoError(t, err)
	rec := &plan.Record{Stack: stack, Status: status, CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour),
		PlanSHA256: sum, ApprovalsRequired: 1, Deleted: []plan.Deletion{}}
	for i := range deleted {
		rec.Deleted = append(rec.Deleted, plan.Deletion{Address: fmt.Sprintf("terraform_data.item[%d]", i), Action: "delete", Actions: []string{"delete"}})
	}
	rec.Counts.Destroy = deleted
	require.NoError(t, d.Commit(rec))
	return rec
}

// call runs a tool's handler as mcp-go would after validating the input.
func call(t *testing.T, st server.ServerTool, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = st.Tool.Name
	req.Params.Arguments = args
	res, err := st.Handler(context.Background(), req)
	require.NoError(t, err, "handlers report failures as isError results, never as Go errors")
	require.NotNil(t, res)
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// errorText is the message of an isError result (failing if it is not one).
func errorText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	require.True(t, res.IsError, "want an isError result, got: %s", text(res))
	return text(res)
}
