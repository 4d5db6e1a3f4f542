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
	fs := newFlags("demo", "", "Run plangate's whole workflow on the embedded demo stack in a temporary directory, through an in-process MCP client, and narrate it.", stdout, stderr)
	keep := fs.Bool("keep", false, "keep the temporary directory (its path is printed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
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
	// The demo's records live and go with its temporary directory, not in
	// the user's state directory where `plangate init` puts a project's.
	cfgPath := filepath.Join(dir, "plangate.hcl")
	if err := appendFile(cfgPath, "\n# plangate demo: the records live in the demo's temporary directory.\nstate_dir = \"state\"\n"); err != nil {
		return err
	}
	d := &demo{out: stdout}
	d.say("plangate demo — a Terraform stack changed by an agent only through plans a human approved.")
	d.say("The project (plangate.hcl and a web stack of terraform_data resources) is in %s.", dir)

	keyPath := filepath.Join(dir, "demo-approver.key")
	d.step("A human creates an approver key: plangate keygen --name oncall")
	var keygenOut strings.Builder
	if err := runKeygen(ctx, []string{"--name", "oncall", "--out", keyPath}, &keygenOut, io.Discard); err != nil {
		return err
	}
	block := keygenOut.String()[strings.Index(keygenOut.String(), "approver \"oncall\" {"):]
	d.quote(block, 0)
	d.say("  (the demo key is unencrypted and lives in the temp dir; real keys get --passphrase and stay out of the agent's reach)")
	if err := appendFile(cfgPath, "\n"+block); err != nil {
		return err
	}

	logger, _ := newLogger(stderr, "warn")
	demoRecordDir = filepath.Join(dir, "state")
	defer func() { demoRecordDir = "" }()
	e, err := openEnv(cfgPath, stderr, logger)
	if err != nil {
		return err
	}
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
	init.Params.ClientInfo = mcp.Implementation{Name: "plangate-demo-agent", Version: appVersion()}
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
		d.say("  %-13s read-only=%-5v destructive=%v", t.Name, *a.ReadOnlyHint, *a.DestructiveHint)
	}
	d.say("  (there is no destroy tool and no raw CLI; apply_plan only applies a saved plan a human approved)")

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
	d.quote(text, 14)
	d.say("  → deletions: %v", first["deletions"])
	id, _ := first["plan_id"].(string)

	d.step("The agent tries apply_plan without a token")
	text, _, err = d.call(ctx, c, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{}})
	if err != nil {
		return err
	}
	d.quote(text, 0)

	if err := d.approveAndApply(ctx, c, cfgPath, keyPath, id); err != nil {
		return err
	}

	d.step("plan_change web {image_tag: v2.0.0, replicas: 1} — a new image and one server fewer")
	text, second, err := d.call(ctx, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v2.0.0", "replicas": 1}})
	if err != nil {
		return err
	}
	d.quote(text, 12)
	d.say("  → deletions: %v (every one listed by address; the first line says so before anything else)", second["deletions"])
	if err := d.approveAndApply(ctx, c, cfgPath, keyPath, second["plan_id"].(string)); err != nil {
		return err
	}

	d.step("plan_change web {image_tag: v2.1.0} — a replacing change")
	text, third, err := d.call(ctx, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"image_tag": "v2.1.0", "replicas": 1}})
	if err != nil {
		return err
	}
	d.quote(text, 3)
	d.say("  → deletions: %v", third["deletions"])

	d.step("plan_change web {network_cidr: 10.1.0.0/16} — \"delete and recreate the environment\"")
	text, fourth, err := d.call(ctx, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"network_cidr": "10.1.0.0/16", "replicas": 1, "image_tag": "v2.0.0"}})
	if err != nil {
		return err
	}
	d.quote(text, 14)
	d.say("  → status: %v, deletions: %v — no approval can apply it", fourth["status"], fourth["deletions"])

	d.step("The human approves the blocked plan anyway: plangate approve %s", plan.ShortID(fourth["plan_id"].(string)))
	var sink strings.Builder
	if err := runApprove(ctx, []string{"--config", cfgPath, "--key", keyPath, "--yes", fourth["plan_id"].(string)}, &sink, stderr); err != nil {
		d.say("  refused: %v", err)
	} else {
		return fmt.Errorf("a blocked plan was approved")
	}

	d.step("discard_plan %s — the replacing change is not wanted after all", plan.ShortID(third["plan_id"].(string)))
	text, _, err = d.call(ctx, c, "discard_plan", map[string]any{"plan_id": third["plan_id"]})
	if err != nil {
		return err
	}
	d.quote(text, 0)

	d.step("plangate audit, then plangate audit verify")
	var auditOut strings.Builder
	if err := runAudit(ctx, []string{"--config", cfgPath}, &auditOut, stderr); err != nil {
		return err
	}
	d.quote(auditOut.String(), 0)
	var verifyOut strings.Builder
	if err := runAudit(ctx, []string{"--config", cfgPath, "verify"}, &verifyOut, stderr); err != nil {
		return err
	}
	d.quote(verifyOut.String(), 0)
	d.say("\nDone. Humans review with `plangate show <id>` or `plangate approve <id>`; `plangate freeze web --reason ...` stops every apply.")
	return nil
}

// approveAndApply narrates the human approving a plan and the agent applying it.
func (d *demo) approveAndApply(ctx context.Context, c *client.Client, cfgPath, keyPath, id string) error {
	d.step("The human reviews and approves: plangate approve %s --yes", plan.ShortID(id))
	var out strings.Builder
	if err := runApprove(ctx, []string{"--config", cfgPath, "--key", keyPath, "--yes", id}, &out, d.out); err != nil {
		return fmt.Errorf("approve: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	token := lines[len(lines)-1]
	d.say("  (the review printed the summary, the deletions and the diff; the token is the last line)")
	d.say("  %s", lines[len(lines)-2])
	d.say("  %s…%s  ← pasted back into the chat", token[:16], token[len(token)-6:])

	d.step("apply_plan %s with the pasted token", plan.ShortID(id))
	text, _, err := d.call(ctx, c, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	if err != nil {
		return err
	}
	d.quote(text, 0)
	if strings.HasPrefix(text, "isError") {
		return fmt.Errorf("apply failed")
	}
	if d.replayed {
		return nil
	}
	d.replayed = true
	d.step("The agent replays the same token")
	text, _, err = d.call(ctx, c, "apply_plan", map[string]any{"plan_id": id, "approval_tokens": []string{token}})
	if err != nil {
		return err
	}
	d.quote(text, 0)
	return nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type demo struct {
	out      io.Writer
	n        int
	replayed bool
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
