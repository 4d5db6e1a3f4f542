package tools

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/plan"
)

// elicitations records what a client was asked to open, and answers.
type elicitations struct {
	mu     sync.Mutex
	asked  []mcp.ElicitationParams
	answer mcp.ElicitationResponseAction
}

func (e *elicitations) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asked = append(e.asked, req.Params)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: e.answer}}, nil
}

func (e *elicitations) seen() []mcp.ElicitationParams {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]mcp.ElicitationParams(nil), e.asked...)
}

// reviewClient connects an in-process mcp-go client to the tools, with
// the given protocol version and elicitation capability (nil: none).
func reviewClient(t *testing.T, d *Deps, version string, caps *mcp.ElicitationCapability, e *elicitations) *client.Client {
	t.Helper()
	srv := server.NewMCPServer("plangate-test", "test", server.WithToolCapabilities(false))
	srv.AddTools(All(d)...)
	tr := transport.NewInProcessTransportWithOptions(srv, transport.WithElicitationHandler(e))
	c := client.NewClient(tr, client.WithElicitationHandler(e), client.WithProtocolVersion(version))
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { _ = c.Close() })
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = version
	init.Params.ClientInfo = mcp.Implementation{Name: "review-test", Version: "1"}
	init.Params.Capabilities.Elicitation = caps
	_, err := c.Initialize(context.Background(), init)
	require.NoError(t, err)
	return c
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err)
	return res
}

func TestApplyWithoutTokensOffersTheReviewPage(t *testing.T) {
	urlMode := &mcp.ElicitationCapability{URL: &struct{}{}}
	for _, version := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(version, func(t *testing.T) {
			f := newFixture(t)
			rec := f.commit(t, "web", plan.StatusAwaitingApproval, "diff", 2)
			other := f.commit(t, "web", plan.StatusAwaitingApproval, "diff", 0)
			f.deps.Review = func(id string) (string, bool) {
				return "http://localhost:4242/review/plans/" + id + "?k=secret", true
			}
			e := &elicitations{answer: mcp.ElicitationResponseActionAccept}
			c := reviewClient(t, f.deps, version, urlMode, e)

			res := callTool(t, c, "apply_plan", map[string]any{"plan_id": rec.ID})
			out := errorText(t, res)
			assert.Contains(t, out, "apply refused", "the apply is still refused without a token")
			assert.Contains(t, out, "open the review page for plan "+plan.ShortID(rec.ID))
			assert.NotContains(t, out, "k=secret", "the page's URL goes to the client, never to the agent")

			asked := e.seen()
			require.Len(t, asked, 1, "one elicitation per call")
			assert.Equal(t, mcp.ElicitationModeURL, asked[0].Mode, "never a form: a form must not ask for a token")
			assert.Nil(t, asked[0].RequestedSchema)
			assert.Equal(t, "http://localhost:4242/review/plans/"+rec.ID+"?k=secret", asked[0].URL, "the page of this plan, not another")
			assert.NotContains(t, asked[0].URL, other.ID)
			assert.Contains(t, asked[0].Message, "DELETES 2", "the human is told what they are asked to review")

			e.answer = mcp.ElicitationResponseActionDecline
			out = errorText(t, callTool(t, c, "apply_plan", map[string]any{"plan_id": rec.ID}))
			assert.Contains(t, out, "did not open the review page")
			assert.Contains(t, out, "plangate approve "+rec.ID)
		})
	}
}

func TestNoReviewOfferWithoutURLElicitation(t *testing.T) {
	cases := map[string]struct {
		caps   *mcp.ElicitationCapability
		review bool
		status plan.Status
	}{
		"client without elicitation":        {caps: nil, review: true, status: plan.StatusAwaitingApproval},
		"client with form elicitation only": {caps: &mcp.ElicitationCapability{}, review: true, status: plan.StatusAwaitingApproval},
		"no review page running":            {caps: &mcp.ElicitationCapability{URL: &struct{}{}}, review: false, status: plan.StatusAwaitingApproval},
		"blocked plan":                      {caps: &mcp.ElicitationCapability{URL: &struct{}{}}, review: true, status: plan.StatusBlocked},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rec := f.commit(t, "web", tc.status, "diff", 1)
			f.deps.Review = func(id string) (string, bool) { return "http://localhost:1/review/plans/" + id, tc.review }
			e := &elicitations{answer: mcp.ElicitationResponseActionAccept}
			c := reviewClient(t, f.deps, mcp.ProtocolVersion20251125, tc.caps, e)
			out := errorText(t, callTool(t, c, "apply_plan", map[string]any{"plan_id": rec.ID}))
			assert.Contains(t, out, "apply refused")
			assert.NotContains(t, out, "review page")
			assert.Empty(t, e.seen(), "nothing new for a client that cannot open the page")
		})
	}
}

func TestForgedResumeStateIsRefused(t *testing.T) {
	f := newFixture(t)
	rec := f.commit(t, "web", plan.StatusAwaitingApproval, "diff", 0)
	signed := f.deps.signState(rec.ID)
	got, err := f.deps.openState(signed)
	require.NoError(t, err)
	assert.Equal(t, rec.ID, got)
	for _, forged := range []string{rec.ID, rec.ID + ".AAAA", signed[:len(signed)-2] + "xx", "." + signed} {
		_, err := f.deps.openState(forged)
		assert.ErrorIs(t, err, errBadState, forged)
	}
	other := &Deps{}
	_, err = other.openState(signed)
	assert.ErrorIs(t, err, errBadState, "another server's key")
}

// A plan awaiting approval is offered for review once, and the retry a
// 2026-07-28 client makes after answering does not plan again.
func TestPlanChangeOffersTheReviewPageOnce(t *testing.T) {
	urlMode := &mcp.ElicitationCapability{URL: &struct{}{}}
	for _, version := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(version, func(t *testing.T) {
			f := newFixture(t)
			st, ok := f.deps.Config.Stack("web")
			require.True(t, ok)
			require.NoError(t, os.WriteFile(filepath.Join(st.Dir, "main.tf"), []byte(`variable "n" {
  type    = number
  default = 1
}
resource "terraform_data" "x" {
  input = var.n
}
`), 0o644))
			f.deps.Review = func(id string) (string, bool) { return "http://localhost:4242/review/plans/" + id + "?k=s", true }
			e := &elicitations{answer: mcp.ElicitationResponseActionAccept}
			c := reviewClient(t, f.deps, version, urlMode, e)

			res := callTool(t, c, "plan_change", map[string]any{"stack": "web", "variables": map[string]any{"n": 2}})
			require.False(t, res.IsError, text(res))
			recs, err := f.deps.Store.List()
			require.NoError(t, err)
			require.Len(t, recs, 1, "one plan, however many round trips")
			rec := recs[0]
			assert.Contains(t, text(res), "Plan "+plan.ShortID(rec.ID), "the summary still comes back to the agent")
			assert.Contains(t, text(res), "open the review page for plan "+plan.ShortID(rec.ID))
			asked := e.seen()
			require.Len(t, asked, 1)
			assert.Equal(t, "http://localhost:4242/review/plans/"+rec.ID+"?k=s", asked[0].URL)
		})
	}
}
