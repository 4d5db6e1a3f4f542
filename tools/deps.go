// Package tools defines plangate's MCP tools: one file per tool, each a
// constructor returning the tool's definition (schema, annotations) with
// its handler. Handlers are thin: they parse input, call the plan package
// and render the result as structured content plus a readable text block.
package tools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/plan"
)

// Deps are what every tool shares: the config, the clock, the logger and
// the size of a diff page, and the gate and plan store that All hands to
// each tool as the small interface it needs. Tools keep no package-level
// state.
type Deps struct {
	Config *config.Config
	// Gate proposes, discards and applies plans and reads stacks' state.
	Gate *gate.Gate
	// Store holds the plan records, which the tools only read.
	Store  *plan.Store
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DiffBudget bounds the diff bytes in one tool result (default 16 KiB).
	DiffBudget int
	// Review, when set, finds the review page of a plan, for clients that
	// open URLs (URL elicitation); ReviewWait bounds the wait for the
	// client's answer (default 2 minutes).
	Review     ReviewLocator
	ReviewWait time.Duration

	keyOnce sync.Once
	key     []byte // signs resume states (review.go)
}

// planReader reads recorded plans: plan.Store.
type planReader interface {
	Get(idOrPrefix string) (*plan.Record, error)
	List() ([]*plan.Record, error)
	ListAll() ([]*plan.Record, []*plan.CorruptRecord, error)
	ReadDiff(id string, offset, limit int) (plan.DiffPage, error)
	PlanJSON(id string) ([]byte, error)
}

// clientOf names the MCP client of the session, for the audit log.
func clientOf(ctx context.Context) audit.Client {
	var c audit.Client
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		info := s.GetClientInfo()
		c = audit.Client{Name: info.Name, Version: info.Version}
	}
	if a := AgentFrom(ctx); a != nil {
		c.Agent = a.Name
	}
	return c
}

func (d *Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (d *Deps) diffBudget() int {
	if d.DiffBudget > 0 {
		return d.DiffBudget
	}
	return plan.DefaultDiffBudget
}

// All returns every tool plangate serves, in the order clients list them.
func All(d *Deps) []server.ServerTool {
	return []server.ServerTool{
		ListStacks(d),
		ShowStack(d.Gate, d),
		PlanChange(d.Gate, d.Store, d),
		GetPlan(d.Store, d),
		ListPlans(d.Store, d),
		DiscardPlan(d.Gate, d),
		ApplyPlan(d.Gate, d.Store, d),
	}
}

// annotations sets all four hints explicitly: mcp-go defaults
// destructiveHint and openWorldHint to true, which would mislabel every
// read-only tool.
func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcp.ToBoolPtr(readOnly),
		DestructiveHint: mcp.ToBoolPtr(destructive),
		IdempotentHint:  mcp.ToBoolPtr(idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(openWorld),
	})
}

// stack resolves a stack name from tool input, for the request's agent.
func (d *Deps) stack(ctx context.Context, name string) (*config.Stack, error) {
	if err := allowStack(ctx, name); err != nil {
		return nil, err
	}
	if name == "" {
		return nil, &plan.InputError{Msg: "stack is required: call list_stacks to see the stacks you may plan"}
	}
	cfg, err := d.current()
	if err != nil {
		return nil, err
	}
	st, ok := cfg.Stack(name)
	if !ok {
		return nil, &plan.InputError{Msg: fmt.Sprintf("unknown stack %q: the configured stacks are %s (list_stacks describes them)", clip(name), strings.Join(cfg.StackNames(), ", "))}
	}
	return st, nil
}

// current is the config plangate enforces now (re-read on every call
// when the gate has a live config). A config that cannot be read stops
// every tool: it is the human's to fix.
func (d *Deps) current() (*config.Config, error) {
	if d.Gate == nil || d.Gate.Live == nil {
		return d.Config, nil
	}
	cfg, err := d.Gate.Current()
	if err != nil {
		return nil, &plan.InputError{Msg: "plangate cannot use its config now, so nothing was run: " + err.Error() +
			". Tell a human: they fix plangate.hcl (or the record named), and the next call reads it again"}
	}
	return cfg, nil
}

// bind decodes the tool arguments into v, as an input error when they do not fit.
func bind(req mcp.CallToolRequest, v any) error {
	if err := req.BindArguments(v); err != nil {
		return &plan.InputError{Msg: "invalid arguments: " + err.Error() + " (see the tool's input schema)"}
	}
	return nil
}

// errorResult turns an error into an isError tool result that says what
// went wrong and what to do. Unexpected errors are logged in full and
// reported without internals.
func (d *Deps) errorResult(tool string, err error) *mcp.CallToolResult {
	var (
		in      *plan.InputError
		te      *plan.TerraformError
		busy    *plan.BusyError
		guard   *gate.GuardError
		locked  *plan.StateLockError
		damaged *plan.CorruptRecord
	)
	switch {
	case errors.As(err, &in):
		return mcp.NewToolResultError(in.Msg)
	case errors.As(err, &busy):
		return mcp.NewToolResultError(busy.Error())
	case errors.Is(err, context.Canceled):
		return mcp.NewToolResultError(tool + " was cancelled; nothing was recorded")
	case errors.As(err, &guard):
		return mcp.NewToolResultError(guard.Error() + "\n\nThis needs a human: the agent cannot fix AWS credentials or accounts. Tell them the message above.")
	case errors.As(err, &locked):
		return mcp.NewToolResultError(locked.Error())
	case errors.Is(err, plan.ErrPlanNotFound), errors.Is(err, plan.ErrAmbiguousPlan), errors.Is(err, plan.ErrMalformedID):
		return mcp.NewToolResultError(err.Error())
	case errors.As(err, &damaged):
		return mcp.NewToolResultError(damaged.Error() + ". This needs a human: tell them the message above")
	case errors.As(err, &te):
		return mcp.NewToolResultError(te.Error() + "\n\n" + nextStep(te))
	case errors.Is(err, context.DeadlineExceeded):
		return mcp.NewToolResultError(tool + " timed out; nothing was recorded")
	}
	d.logger().Error("tool failed", "tool", tool, "err", err)
	return mcp.NewToolResultError(fmt.Sprintf("%s failed: %v", tool, err))
}

// clip keeps untrusted text short and free of control characters in messages.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
	return plan.Truncate(s, 64)
}

// planIDProperty is the schema of a plan_id argument.
func planIDProperty(desc string) mcp.ToolOption {
	return mcp.WithString("plan_id", mcp.Required(), mcp.Description(desc),
		mcp.MinLength(plan.MinPrefix), mcp.MaxLength(36))
}

// nextStep says what to do about a Terraform command that failed.
func nextStep(te *plan.TerraformError) string {
	switch {
	case te.Stack == "":
		return "A human must install Terraform (>= 1.5) where the server runs, or set PLANGATE_TERRAFORM; then try again."
	case strings.HasPrefix(te.Op, "workspace"):
		return "A human must create the workspace (or fix `workspace` in plangate.hcl); then try again."
	case te.Op == "init":
		return "terraform init failed: fix the configuration, backend or provider requirements it names (or ask a human to, if it is a network or credentials problem), then try again."
	default:
		return "Fix the Terraform configuration it names (or ask a human to), then try again."
	}
}

// Usage describes a tool's arguments from its input schema, for error
// messages that tell an agent how to call it right.
func Usage(t mcp.Tool) string {
	names := make([]string, 0, len(t.InputSchema.Properties))
	for name := range t.InputSchema.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	required := map[string]bool{}
	for _, r := range t.InputSchema.Required {
		required[r] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s takes:", t.Name)
	if len(names) == 0 {
		b.WriteString(" no arguments")
	}
	for _, name := range names {
		prop, _ := t.InputSchema.Properties[name].(map[string]any)
		fmt.Fprintf(&b, "\n  %s (%v", name, prop["type"])
		if required[name] {
			b.WriteString(", required")
		}
		if v, ok := prop["minimum"]; ok {
			fmt.Fprintf(&b, ", >= %v", v)
		}
		if v, ok := prop["minLength"]; ok {
			fmt.Fprintf(&b, ", %v", v)
			if m, ok := prop["maxLength"]; ok {
				fmt.Fprintf(&b, "-%v", m)
			}
			b.WriteString(" characters")
		}
		if v, ok := prop["enum"]; ok {
			fmt.Fprintf(&b, ", one of %v", v)
		}
		b.WriteString(")")
		if d, ok := prop["description"].(string); ok {
			b.WriteString(": " + d)
		}
	}
	return b.String()
}

// configState is the live config's reading; nil without one.
func (d *Deps) configState() (*config.State, error) {
	if d.Gate == nil {
		return nil, nil
	}
	return d.Gate.ConfigState()
}
