package tools

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/plan"
)

// progressInterval bounds how often progress notifications go out: mcp-go
// queues notifications in a 100-slot channel and drops them when it is
// full, and Terraform can report thousands of resources a second.
const progressInterval = 100 * time.Millisecond

// progress turns Terraform's machine-readable UI stream into MCP progress
// notifications (when the request carries a progress token) and logging
// notifications (at the level the client chose).
type progress struct {
	ctx   context.Context
	srv   *server.MCPServer
	token mcp.ProgressToken
	total float64
	// apply counts applied resources; a plan counts planned ones.
	apply bool

	mu      sync.Mutex
	done    float64
	last    time.Time
	pending string
	stopped bool
}

func newProgress(ctx context.Context, req mcp.CallToolRequest, total int, apply bool) *progress {
	p := &progress{ctx: ctx, srv: server.ServerFromContext(ctx), total: float64(total), apply: apply}
	if req.Params.Meta != nil {
		p.token = req.Params.Meta.ProgressToken
	}
	return p
}

// event handles one UI message; safe to call from Terraform's reader goroutine.
func (p *progress) event(m plan.UIMessage) {
	if p == nil || p.srv == nil {
		return
	}
	addr, action := m.Resource()
	var msg string
	step := false
	switch m.Type {
	case "refresh_start":
		msg = "refreshing " + addr
	case "refresh_complete":
		msg, step = "refreshed "+addr, !p.apply
	case "planned_change":
		if p.apply {
			return // apply -json repeats the saved plan's changes first
		}
		msg, step = fmt.Sprintf("planned: %s %s", action, addr), true
	case "apply_start":
		msg = fmt.Sprintf("%s %s…", action, addr)
	case "apply_complete":
		msg, step = fmt.Sprintf("%s %s: done", action, addr), true
	case "apply_errored":
		msg, step = fmt.Sprintf("%s %s: failed", action, addr), true
	case "change_summary":
		msg = m.Message
	case "diagnostic":
		p.log(m)
		return
	default:
		return
	}
	p.mu.Lock()
	if p.stopped || p.ctx.Err() != nil {
		// A cancelled request gets no more notifications: its client has
		// forgotten the token.
		p.mu.Unlock()
		return
	}
	if step {
		p.done++
	}
	now := time.Now()
	if now.Sub(p.last) < progressInterval && m.Type != "change_summary" {
		p.pending = msg
		p.mu.Unlock()
		return
	}
	p.last, p.pending = now, ""
	done, total := p.done, p.total
	p.mu.Unlock()
	p.send(done, total, msg)
}

// finish sends the last progress (if any was held back) and stops further
// notifications: none may follow the response.
func (p *progress) finish(msg string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	done, total := p.done, p.total
	if msg == "" {
		msg = p.pending
	}
	p.mu.Unlock()
	if msg != "" && p.ctx.Err() == nil {
		p.send(done, total, msg)
	}
}

func (p *progress) send(done, total float64, msg string) {
	if p.token == nil {
		return
	}
	params := map[string]any{"progressToken": p.token, "progress": done, "message": msg}
	if total > 0 && done <= total {
		params["total"] = total
	}
	_ = p.srv.SendNotificationToClient(p.ctx, "notifications/progress", params)
}

// log forwards Terraform's warnings and errors as MCP log messages; the
// session's level decides whether they are sent.
func (p *progress) log(m plan.UIMessage) {
	if m.Diagnostic == nil {
		return
	}
	level := mcp.LoggingLevelWarning
	if m.Diagnostic.Severity == "error" {
		level = mcp.LoggingLevelError
	}
	_ = p.srv.SendLogMessageToClient(p.ctx, mcp.NewLoggingMessageNotification(level, "terraform", m.Diagnostic.Summary))
}
