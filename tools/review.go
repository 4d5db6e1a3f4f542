package tools

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/plan"
)

// URL elicitation (MCP 2025-11-25; the input-request form of it from
// 2026-07-28): when a plan awaits approval and a review page is reachable,
// plangate asks the client to open the page for that plan, out of band.
// The URL goes to the client, never into a tool result: the agent's text
// only says that the page was offered. The agent's flow is unchanged: the
// human still pastes the token, and a client that did not declare URL
// elicitation sees nothing new. A form elicitation is never used: the
// spec forbids asking for secrets in one, and a client-relayed answer is
// no proof of a human's consent.

// ReviewLocator gives the review page's URL for one plan, and whether a
// page is reachable now (plangate review running, or plangate server's
// own /review/).
type ReviewLocator func(planID string) (url string, ok bool)

// reviewInput keys the elicitation among a call's input requests.
const reviewInput = "review_page"

// defaultReviewWait bounds how long a call waits for the client to answer
// the elicitation (the human choosing to open the page or not).
const defaultReviewWait = 2 * time.Minute

// reviewOffer is what offerReview decided.
type reviewOffer struct {
	// Note, for the result's text: what became of the offer ("" none made).
	Note string
	// Pending, when set, is the result to return instead: an
	// input_required result for a client of protocol 2026-07-28 or later,
	// which answers it and retries the call.
	Pending *mcp.CallToolResult
}

// offerReview asks the client of the call to open the review page of rec
// when it can: the plan awaits approval, a page is reachable, and the
// client declared URL-mode elicitation. state is what a retried call needs
// to resume (signed, since a client echoes it back).
func (d *Deps) offerReview(ctx context.Context, req mcp.CallToolRequest, rec *plan.Record, state string) reviewOffer {
	if d.Review == nil || rec == nil || rec.EffectiveStatus(d.now()) != plan.StatusAwaitingApproval || !clientOpensURLs(ctx, req) {
		return reviewOffer{}
	}
	url, ok := d.Review(rec.ID)
	if !ok {
		return reviewOffer{}
	}
	params := mcp.ElicitationParams{
		Mode:          mcp.ElicitationModeURL,
		ElicitationID: "plangate-review-" + rec.ID,
		URL:           url,
		Message:       reviewMessage(rec, d.now()),
	}
	if mcp.IsModernProtocol(server.RequestProtocolVersion(ctx)) {
		if answer := server.ElicitationResponse(req.Params.InputResponses, reviewInput); answer != nil {
			return reviewOffer{Note: reviewNote(answer.Action, rec)}
		}
		b := server.NewInputRequestBuilder(d.signState(state)).Elicit(reviewInput, params)
		return reviewOffer{Pending: b.ToolResult()}
	}
	srv := server.ServerFromContext(ctx)
	session := server.ClientSessionFromContext(ctx)
	if srv == nil || session == nil {
		return reviewOffer{}
	}
	wait := d.ReviewWait
	if wait <= 0 {
		wait = defaultReviewWait
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	answer, err := srv.RequestURLElicitation(ctx, session, params.ElicitationID, params.URL, params.Message)
	if err != nil {
		// The client said it could and then did not: the call goes on as
		// it would without the page.
		d.logger().Warn("review page not offered", "plan", rec.ID, "error", err)
		return reviewOffer{}
	}
	return reviewOffer{Note: reviewNote(answer.Action, rec)}
}

func reviewMessage(rec *plan.Record, now time.Time) string {
	s := rec.Summary(now)
	return "Review and approve on plangate's review page: " + s.Headline() +
		". Approving there gives a token to paste back into the chat."
}

func reviewNote(action mcp.ElicitationResponseAction, rec *plan.Record) string {
	if action == mcp.ElicitationResponseActionAccept {
		return "plangate asked your MCP client to open the review page for plan " + plan.ShortID(rec.ID) +
			"…: the human reviews and approves it there, then pastes the token back to you."
	}
	return "The human did not open the review page; they can approve with `plangate approve " + rec.ID + "` instead."
}

// clientOpensURLs reports whether the client declared URL-mode
// elicitation: in its initialize capabilities or, from 2026-07-28, in the
// request's own. An empty elicitation capability means form mode only.
func clientOpensURLs(ctx context.Context, req mcp.CallToolRequest) bool {
	var caps *mcp.ClientCapabilities
	if mcp.IsModernProtocol(server.RequestProtocolVersion(ctx)) {
		if req.Params.Meta != nil {
			caps = req.Params.Meta.ClientCapabilities()
		}
	} else if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		c := s.GetClientCapabilities()
		caps = &c
	}
	return caps != nil && caps.Elicitation != nil && caps.Elicitation.URL != nil
}

// signState makes a call's resume state tamper-evident: a client echoes
// it back, and a forged one must not make a call act for another plan.
func (d *Deps) signState(state string) string {
	if state == "" {
		return ""
	}
	mac := hmac.New(sha256.New, d.stateKey())
	mac.Write([]byte(state))
	return state + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

var errBadState = errors.New("requestState was not made by this server (or it restarted since): call the tool again without it")

// openState returns the state signState signed.
func (d *Deps) openState(signed string) (string, error) {
	i := strings.LastIndexByte(signed, '.')
	if i <= 0 {
		return "", errBadState
	}
	state, sum := signed[:i], signed[i+1:]
	mac := hmac.New(sha256.New, d.stateKey())
	mac.Write([]byte(state))
	got, err := base64.RawURLEncoding.DecodeString(sum)
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return "", errBadState
	}
	return state, nil
}

// stateKey is this process's key for resume states, made on first use.
func (d *Deps) stateKey() []byte {
	d.keyOnce.Do(func() {
		d.key = make([]byte, 32)
		if _, err := rand.Read(d.key); err != nil {
			panic("crypto/rand: " + err.Error()) // never fails on Linux
		}
	})
	return d.key
}

// withNote appends a line to a result's text block.
func withNote(res *mcp.CallToolResult, note string) *mcp.CallToolResult {
	if note == "" || res == nil {
		return res
	}
	for i, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			t.Text = strings.TrimRight(t.Text, "\n") + "\n" + note + "\n"
			res.Content[i] = t
			return res
		}
	}
	res.Content = append(res.Content, mcp.NewTextContent(note))
	return res
}
