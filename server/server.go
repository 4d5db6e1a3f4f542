// Package server builds plangate's MCP server: it registers the tools,
// carries the instructions that teach an agent the workflow, adds recovery
// and request logging, and serves it over stdio. Stdout is the protocol's
// alone; everything else goes to the logger (stderr).
package server

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/tools"
)

// Name is the MCP server name clients see.
const Name = "plangate"

// Instructions teach an agent the workflow in a few lines. Clients put them
// in the model's context when it connects.
const Instructions = `plangate lets you change infrastructure only through reviewed Terraform plans.
Workflow:
1. list_stacks: see the stacks and the variables you may set (show_stack shows what exists).
2. plan_change(stack, variables): runs terraform plan and records the plan. Nothing changes yet. Variables you leave out keep their last applied values (null resets one); the result's inputs say where each value came from.
3. Show the human the result's first line and EVERY deletion it lists (deletions are exact counts; never summarise them away). get_plan pages through long diffs.
4. Ask the human to review and run "plangate approve <plan_id>" in their terminal, and to paste the approval token back. You cannot create tokens; never try.
5. Only with the human's token(s), call apply_plan(plan_id, approval_tokens). A blocked, failed, expired or discarded plan can never be applied: propose a new plan instead.
Discard plans you no longer want with discard_plan. check_drift(stack) shows what changed outside Terraform (read-only; never approvable).`

// New returns the MCP server with every plangate tool registered.
func New(d *tools.Deps, version string) *mcpserver.MCPServer {
	logger := d.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hooks := &mcpserver.Hooks{}
	hooks.AddAfterInitialize(func(ctx context.Context, id any, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
		logger.Info("client connected", "client", req.Params.ClientInfo.Name, "client_version", req.Params.ClientInfo.Version,
			"protocol", res.ProtocolVersion)
	})
	all := tools.All(d)
	hooks.AddAfterCallTool(explainSchemaErrors(all))
	s := mcpserver.NewMCPServer(Name, version,
		mcpserver.WithInstructions(Instructions),
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithResourceCapabilities(false, true),
		mcpserver.WithLogging(),
		mcpserver.WithRecovery(),
		mcpserver.WithInputSchemaValidation(),
		mcpserver.WithOutputSchemaValidation(),
		mcpserver.WithHooks(hooks),
		mcpserver.WithToolHandlerMiddleware(logCalls(logger)),
	)
	s.AddTools(all...)
	s.AddResourceTemplates(tools.ResourceTemplates(d)...)
	tools.SyncResources(s, d)
	return s
}

// NewUnavailable returns the MCP server of a plangate that cannot work:
// its config or state could not be opened. It answers initialize and
// lists the tools as New does, and every tool call with an isError
// result that is problem (what is wrong and who fixes it), instead of
// exiting: an MCP client shows a server that exits only as "connection
// closed". Arguments are not checked against the schemas, so that every
// call gets problem.
func NewUnavailable(problem, version string, logger *slog.Logger) *mcpserver.MCPServer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hooks := &mcpserver.Hooks{}
	hooks.AddAfterInitialize(func(ctx context.Context, id any, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
		logger.Warn("client connected to a plangate that cannot work", "client", req.Params.ClientInfo.Name, "problem", problem)
	})
	s := mcpserver.NewMCPServer(Name, version,
		mcpserver.WithInstructions("plangate cannot work now: "+problem+
			"\nEvery tool call answers with this message. Tell the human; do not try to work around plangate.\n\n"+Instructions),
		mcpserver.WithToolCapabilities(false),
		mcpserver.WithResourceCapabilities(false, true),
		mcpserver.WithLogging(),
		mcpserver.WithRecovery(),
		mcpserver.WithHooks(hooks),
		mcpserver.WithToolHandlerMiddleware(logCalls(logger)),
	)
	unavailable, templates := tools.Unavailable(problem)
	s.AddTools(unavailable...)
	s.AddResourceTemplates(templates...)
	return s
}

// explainSchemaErrors turns mcp-go's terse input-validation failures
// ("/offset: &{Got:-1/1 Want:0/1}") into a message that says what the
// tool expects, so that the agent can fix its call.
func explainSchemaErrors(all []mcpserver.ServerTool) func(ctx context.Context, id any, req *mcp.CallToolRequest, result any) {
	usage := map[string]string{}
	for _, st := range all {
		usage[st.Tool.Name] = tools.Usage(st.Tool)
	}
	return func(ctx context.Context, id any, req *mcp.CallToolRequest, result any) {
		res, ok := result.(*mcp.CallToolResult)
		if !ok || res == nil || !res.IsError || len(res.Content) != 1 {
			return
		}
		tc, ok := res.Content[0].(mcp.TextContent)
		if !ok || !strings.HasPrefix(tc.Text, "input schema validation failed") {
			return
		}
		detail := strings.TrimPrefix(tc.Text, "input schema validation failed: ")
		detail = gotWantRE.ReplaceAllStringFunc(detail, func(m string) string {
			p := gotWantRE.FindStringSubmatch(m)
			return fmt.Sprintf("got %s, want %s", ratio(p[1]), ratio(p[2]))
		})
		detail = missingRE.ReplaceAllString(detail, "missing required argument(s) $1")
		detail = strings.ReplaceAll(detail, "<root>: ", "")
		tc.Text = fmt.Sprintf("invalid arguments for %s: %s.\n%s", req.Params.Name, detail, usage[req.Params.Name])
		res.Content[0] = tc
	}
}

var (
	gotWantRE = regexp.MustCompile(`&\{Got:(.*?) Want:(.*?)\}`)
	missingRE = regexp.MustCompile(`&\{Missing:\[(.*?)\]\}`)
)

// ratio prints the validator's big.Rat numbers ("-1/1") as plain numbers.
func ratio(s string) string { return strings.TrimSuffix(s, "/1") }

// logCalls logs every tool call's name, duration and outcome (never its
// arguments or results, which may carry values a log must not keep).
func logCalls(logger *slog.Logger) mcpserver.ToolHandlerMiddleware {
	return func(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := time.Now()
			res, err := next(ctx, req)
			isErr := err != nil || res != nil && res.IsError
			logger.Info("tool call", "tool", req.Params.Name, "duration", time.Since(start).Round(time.Millisecond), "is_error", isErr)
			return res, err
		}
	}
}

// ServeStdio serves s over in/out until in ends or ctx is cancelled.
// Cancelling ctx cancels in-flight tool calls, which stop Terraform with
// SIGINT.
func ServeStdio(ctx context.Context, s *mcpserver.MCPServer, in io.Reader, out io.Writer, logger *slog.Logger) error {
	stdio := mcpserver.NewStdioServer(s)
	stdio.SetErrorLogger(log.New(slogWriter{logger}, "", 0))
	// More workers than mcp-go's default 5: a plan waiting for its stack
	// holds a worker, and reads must still be answered meanwhile.
	mcpserver.WithWorkerPoolSize(32)(stdio)
	mcpserver.WithQueueSize(256)(stdio)
	// rpcGuard, between the client and mcp-go: strict JSON-RPC ids, no
	// answers to responses or to cancelled requests, bounded error
	// messages.
	g := newRPCGuard(out, func(msg string, args ...any) {
		if logger != nil {
			logger.Debug(msg, args...)
		}
	})
	guarded := g.Reader(in)
	defer guarded.Close()
	return stdio.Listen(ctx, guarded, g.Writer())
}

type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	if w.l != nil {
		w.l.Warn("mcp transport", "msg", string(p))
	}
	return len(p), nil
}
