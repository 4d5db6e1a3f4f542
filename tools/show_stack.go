package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/plan"
)

// stateReader reads a stack's state: gate.Gate.
type stateReader interface {
	State(ctx context.Context, st *config.Stack) (*plan.StateView, error)
}

// ShowStack shows which resources a stack's state holds, and its outputs.
func ShowStack(states stateReader, d *Deps) server.ServerTool {
	tool := mcp.NewTool("show_stack",
		mcp.WithDescription("Show a stack's current Terraform state: the address and type of every resource instance, and the outputs "+
			"(sensitive outputs are masked; attribute values are never shown). Use it to see what exists before proposing a change."),
		mcp.WithString("stack", mcp.Required(), mcp.Description("Stack name, from list_stacks."), mcp.MinLength(1), mcp.MaxLength(64)),
		annotations("Show a stack's state", true, false, true, true),
		mcp.WithOutputSchema[plan.StateView](),
	)
	return server.ServerTool{Tool: tool, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var args struct {
			Stack string `json:"stack"`
		}
		if err := bind(req, &args); err != nil {
			return d.errorResult("show_stack", err), nil
		}
		st, err := d.stack(ctx, args.Stack)
		if err != nil {
			return d.errorResult("show_stack", err), nil
		}
		view, err := states.State(ctx, st)
		if err != nil {
			return d.errorResult("show_stack", err), nil
		}
		return mcp.NewToolResultStructured(view, plan.FormatState(view)), nil
	}}
}
