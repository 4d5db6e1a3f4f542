package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/gen"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/tools"
)

// resultStacks are the plans of the result-size figure: real Terraform
// plans of 0 to 2,000 deletions (a Replace stack replaces every instance).
var resultStacks = []struct {
	name string
	spec gen.Spec
	sc   gen.Scenario
}{
	{"d0", gen.Spec{Modules: 1, PerModule: 10}, gen.Create},
	{"d10", gen.Spec{Modules: 1, PerModule: 10}, gen.Replace},
	{"d50", gen.Spec{Modules: 2, PerModule: 25}, gen.Replace},
	{"d300", gen.Spec{Modules: 3, PerModule: 100}, gen.Replace},
	{"d2000", gen.Spec{Modules: 10, PerModule: 200}, gen.Replace},
}

// wire is a tool result's size as JSON-RPC carries it, and its text and
// structured content's shares.
type wire struct{ all, text, structured int }

func wireOf(res *mcp.CallToolResult) wire {
	all, _ := json.Marshal(res)
	sc, _ := json.Marshal(res.StructuredContent)
	var text strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			text.WriteString(t.Text)
		}
	}
	tb, _ := json.Marshal(text.String())
	return wire{len(all), len(tb), len(sc)}
}

func callInProcess(ctx context.Context, st server.ServerTool, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = st.Tool.Name
	req.Params.Arguments = args
	res, err := st.Handler(ctx, req)
	if err == nil && res.IsError {
		err = fmt.Errorf("%s: %v", st.Tool.Name, res.Content)
	}
	return res, err
}

// reportResults plans each generated stack through plan_change (in
// process, the real gate and Terraform), pages through it with get_plan,
// and prints the size on the wire of every result (target ≤ 24 KiB).
func reportResults(ctx context.Context, tf *gen.Terraform, dir string) error {
	project := filepath.Join(dir, "results-project")
	if err := os.RemoveAll(project); err != nil {
		return err
	}
	var src strings.Builder
	src.WriteString("state_dir = \"state\"\n")
	for _, s := range resultStacks {
		if err := s.spec.Write(filepath.Join(project, s.name), s.sc); err != nil {
			return err
		}
		fmt.Fprintf(&src, "stack %q {\n  dir = %q\n}\n", s.name, s.name)
	}
	cfgPath := filepath.Join(project, "plangate.hcl")
	if err := os.WriteFile(cfgPath, []byte(src.String()), 0o644); err != nil {
		return err
	}
	for _, kv := range tf.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && (strings.HasPrefix(k, "TF_CLI_CONFIG_FILE") || k == "CHECKPOINT_DISABLE") {
			if err := os.Setenv(k, v); err != nil {
				return err
			}
		}
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	store, err := plan.OpenStore(cfg.StateDir)
	if err != nil {
		return err
	}
	ledger, err := approvals.OpenLedger(cfg.StateDir)
	if err != nil {
		return err
	}
	g := &gate.Gate{Config: cfg, Store: store, Ledger: ledger, Audit: audit.Open(cfg.StateDir),
		Runner: plan.NewRunner(func() (string, error) { return tf.Bin, nil }, cfg.StateDir, nil)}
	d := &tools.Deps{Config: cfg, Gate: g, Store: store}

	fmt.Printf("Tool results on the wire (JSON-RPC bytes: text block + structured content), real plans of generated stacks; budget %d B each\n", tools.ResultBudget)
	fmt.Printf("  %-6s %9s %9s | %-24s | %-24s | %9s %9s | %s\n", "plan", "deletions", "diff", "plan_change all/text/sc", "largest get_plan page", "del pages", "diff pgs", "show_stack largest page")
	worst := 0
	for _, s := range resultStacks {
		res, err := callInProcess(ctx, tools.PlanChange(g, store, d), map[string]any{"stack": s.name})
		if err != nil {
			return err
		}
		pc := wireOf(res)
		sum := res.StructuredContent.(plan.Summary)
		if want := s.spec.Expected(s.sc); sum.Counts.Add != want.Add || sum.Deletions != want.Destroy {
			return fmt.Errorf("plan_change of %s counted %+v, want %+v", s.name, sum.Counts, want)
		}
		worst = max(worst, pc.all)
		largest, delPages, diffPages, seen := 0, 0, 0, 0
		for off := 0; ; delPages++ {
			res, err := callInProcess(ctx, tools.GetPlan(store, d), map[string]any{"plan_id": sum.PlanID, "deletions_offset": off})
			if err != nil {
				return err
			}
			largest = max(largest, wireOf(res).all)
			p := res.StructuredContent.(plan.Summary)
			seen += len(p.Deleted)
			if p.NextDeletionsOffset == 0 {
				delPages++
				break
			}
			off = p.NextDeletionsOffset
		}
		if seen != sum.Deletions {
			return fmt.Errorf("get_plan of %s paged %d deleted addresses, want %d", s.name, seen, sum.Deletions)
		}
		for off := 0; ; diffPages++ {
			res, err := callInProcess(ctx, tools.GetPlan(store, d), map[string]any{"plan_id": sum.PlanID, "offset": off})
			if err != nil {
				return err
			}
			largest = max(largest, wireOf(res).all)
			p := res.StructuredContent.(plan.Summary)
			if !p.DiffTruncated {
				diffPages++
				break
			}
			off = p.NextOffset
		}
		worst = max(worst, largest)
		showLargest := 0
		if s.sc != gen.Create {
			for off := 0; ; {
				res, err := callInProcess(ctx, tools.ShowStack(g, d), map[string]any{"stack": s.name, "offset": off})
				if err != nil {
					return err
				}
				showLargest = max(showLargest, wireOf(res).all)
				v := res.StructuredContent.(tools.StackView)
				if v.NextOffset == 0 {
					break
				}
				off = v.NextOffset
			}
		}
		worst = max(worst, showLargest)
		show := "- (no state)"
		if showLargest > 0 {
			show = fmt.Sprintf("%d (%d resources)", showLargest, s.spec.Resources())
		}
		fmt.Printf("  %-6s %9d %9d | %7d / %6d / %6d | %24d | %9d %9d | %s\n", s.name, sum.Deletions, sum.DiffTotal,
			pc.all, pc.text, pc.structured, largest, delPages, diffPages, show)
	}
	res, err := callInProcess(ctx, tools.ListPlans(store, d), map[string]any{})
	if err != nil {
		return err
	}
	lp := wireOf(res)
	worst = max(worst, lp.all)
	fmt.Printf("  list_plans (%d plans): %d B; largest result of all %d B (budget %d)\n", len(resultStacks), lp.all, worst, tools.ResultBudget)
	if worst > tools.ResultBudget {
		return fmt.Errorf("a tool result of %d B is over the %d B budget", worst, tools.ResultBudget)
	}
	return nil
}
