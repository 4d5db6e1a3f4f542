// Command bareserver is the baseline of `make bench`'s start-up figure: a
// bare mcp-go server with seven tools, served over stdio, and nothing
// else (no config, no state, no Terraform). benchreport -startup times
// process start → initialize → tools/list answer for it and for
// `plangate serve` side by side.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Output is each tool's structured content.
type Output struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Count  int    `json:"count"`
}

func main() {
	s := server.NewMCPServer("bare", "1.0.0", server.WithToolCapabilities(false))
	for i := range 7 {
		s.AddTool(mcp.NewTool(fmt.Sprintf("tool_%d", i),
			mcp.WithDescription("A tool of the bare baseline server."),
			mcp.WithString("id", mcp.Required(), mcp.Description("An id.")),
			mcp.WithOutputSchema[Output](),
		), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultStructured(Output{ID: req.GetString("id", ""), Status: "ok"}, "ok"), nil
		})
	}
	if err := server.ServeStdio(s); err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		os.Exit(1)
	}
}
