package tools

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Unavailable returns every tool as All lists it, each answering every
// call with problem as an isError result, and the plan resource
// templates, each read failing with it: the tools of a server that
// cannot open its state. An agent that lists them sees plangate as it
// always is; one that calls them learns what is wrong and who fixes it.
func Unavailable(problem string) ([]server.ServerTool, []server.ServerResourceTemplate) {
	d := &Deps{}
	tools := All(d)
	for i := range tools {
		tools[i].Handler = func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultError(problem), nil
		}
	}
	templates := ResourceTemplates(d)
	for i := range templates {
		templates[i].Handler = func(context.Context, mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
			return nil, errors.New(problem)
		}
	}
	return tools, templates
}
