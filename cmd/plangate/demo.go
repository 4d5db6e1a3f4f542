package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "", "Run plangate's workflow on the embedded demo stack in a temporary directory, through an in-process MCP client, and narrate it.", stdout)
	keep := fs.Bool("keep", false, "keep the temporary directory (its path is printed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "plangate-demo-*")
	if err != nil {
		return err
	}
	if *keep {
		defer fmt.Fprintf(stdout, "\nThe demo project is kept in %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if _, err := writeDemo(dir); err != nil {
		return err
	}
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(filepath.Join(dir, "plangate.hcl"), logger)
	if err != nil {
		return err
	}
	d := &demo{out: stdout}
	d.say("plangate demo — a Terraform stack changed by an agent only through reviewed plans.")
	d.say("The project (plangate.hcl and a web stack of terraform_data resources) is in %s.", dir)

	c, err := client.NewInProcessClient(server.New(e.deps, appVersion()))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return err
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.ProtocolVersion20251125
	init.Params.ClientInfo = mcp.Implementation{Name: "plangate-demo", Version: appVersion()}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	d.step("The agent connects (MCP %s) and lists the tools", res.ProtocolVersion)
	tl, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	for _, t := range tl.Tools {
		a := t.Annotations
		d.say("  %-13s read-only=%v destructive=%v", t.Name, *a.ReadOnlyHint, *a.DestructiveHint)
	}
	d.say("  (no tool runs terraform apply without a human-approved saved plan; there is no destroy tool and no raw CLI)")

	d.step("list_stacks")
	text, _, err := d.call(ctx, c, "list_stacks", nil)
	if err != nil {
		return err
	}
	d.quote(text, 0)

	d.step("plan_change web — the first plan creates the stack")
	text, first, err := d.call(ctx, c, "plan_change", map[string]any{"stack": "web"})
	if err != nil {
		return err
	}
	d.quote(text, 28)
	d.say("  → deletions: %v", first["deletions"])

	id, _ := first["plan_id"].(string)
	d.step("A human approves and the plan is applied")
	d.say("  apply_plan and `plangate approve` (Ed25519 approval tokens) arrive with the next release;")
	d.say("  so that the next plan has something to replace, the demo applies this saved plan directly with `terraform apply`.")
	if err := demoApply(ctx, e, id); err != nil {
		return err
	}
	d.say("  applied plan %s (terraform apply of the saved plan file, SHA-256 %s…)", plan.ShortID(id), shortHash(first["plan_sha256"]))

	d.step("plan_change web {image_tag: v2.0.0, replicas: 1} — a new image and one server fewer")
	text, second, err := d.call(ctx, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v2.0.0", "replicas": 1}})
	if err != nil {
		return err
	}
	d.quote(text, 40)
	d.say("  → deletions: %v (every one listed by address; the first line says so before anything else)", second["deletions"])

	d.step("A bad request: a variable the agent may not set")
	text, _, err = d.call(ctx, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"db_password": "hunter2"}})
	if err != nil {
		return err
	}
	d.quote(text, 0)

	d.step("list_plans")
	text, _, err = d.call(ctx, c, "list_plans", nil)
	if err != nil {
		return err
	}
	d.quote(text, 0)
	d.say("\nDone. A human reviews a pending plan with `plangate show <id>`; the agent pages through it with get_plan.")
	return nil
}

type demo struct {
	out io.Writer
	n   int
}

func (d *demo) say(format string, a ...any) { fmt.Fprintf(d.out, format+"\n", a...) }

func (d *demo) step(format string, a ...any) {
	d.n++
	fmt.Fprintf(d.out, "\n── %d. %s\n", d.n, fmt.Sprintf(format, a...))
}

// quote prints a tool's text block indented, at most max lines (0: all).
func (d *demo) quote(text string, max int) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i, l := range lines {
		if max > 0 && i == max {
			fmt.Fprintf(d.out, "  │ … (%d more lines)\n", len(lines)-max)
			break
		}
		fmt.Fprintf(d.out, "  │ %s\n", l)
	}
}

// call calls a tool and returns its text and structured content. A tool
// error is returned as text (the demo shows it); a protocol error fails.
func (d *demo) call(ctx context.Context, c *client.Client, name string, args map[string]any) (string, map[string]any, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	var text string
	for _, ct := range res.Content {
		if tc, ok := ct.(mcp.TextContent); ok {
			text += tc.Text
		}
	}
	if res.IsError {
		return "isError: " + text, nil, nil
	}
	var structured map[string]any
	if res.StructuredContent != nil {
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &structured)
	}
	return text, structured, nil
}

// demoApply applies a recorded plan's saved file. It stands in for
// apply_plan until approvals exist, and is used by the demo alone.
func demoApply(ctx context.Context, e *env, id string) error {
	rec, err := e.store.Get(id)
	if err != nil {
		return err
	}
	st, ok := e.cfg.Stack(rec.Stack)
	if !ok {
		return fmt.Errorf("stack %q is gone from the config", rec.Stack)
	}
	unlock, err := e.planner.Runner.Lock(ctx, st)
	if err != nil {
		return err
	}
	defer unlock()
	out, err := e.planner.Runner.ApplySaved(ctx, st, filepath.Join(e.store.Dir(id), plan.PlanFile), nil)
	if err != nil {
		return err
	}
	if out.Failed {
		return fmt.Errorf("terraform apply failed: %v", out.Diagnostics)
	}
	_, err = e.store.Update(id, func(r *plan.Record) error {
		r.Status = plan.StatusApplied
		r.Summary.Status = plan.StatusApplied
		r.StatusNote = "applied by plangate demo"
		return nil
	})
	return err
}

func shortHash(v any) string {
	s, _ := v.(string)
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
