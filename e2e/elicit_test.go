package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elicitReport is what clients/sdk_elicit.mjs prints.
type elicitReport struct {
	OK           bool   `json:"ok"`
	Error        string `json:"error"`
	Elicitations []struct {
		Mode            string         `json:"mode"`
		URL             string         `json:"url"`
		Message         string         `json:"message"`
		ElicitationID   string         `json:"elicitationId"`
		RequestedSchema map[string]any `json:"requestedSchema"`
	} `json:"elicitations"`
	AfterPlan  int `json:"afterPlan"`
	PlanChange struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
		PlanID  string `json:"planId"`
	} `json:"planChange"`
	Apply struct {
		IsError bool   `json:"isError"`
		Text    string `json:"text"`
	} `json:"apply"`
}

// startReview runs `plangate review --no-browser` for p and returns the
// URL it printed first (with its secret).
func startReview(t *testing.T, p *proj) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, binary, "review", "--config", p.cfg, "--no-browser", "--listen", "127.0.0.1:0")
	cmd.Env = env()
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case url, ok := <-lines:
		require.True(t, ok, "plangate review printed nothing")
		require.True(t, strings.HasPrefix(url, "http://localhost:"), url)
		return url
	case <-time.After(30 * time.Second):
		t.Fatal("plangate review printed no URL within 30 s")
	}
	return ""
}

// A client that declares URL-mode elicitation is asked to open the
// review page of the plan it just made, and again when it calls
// apply_plan without a token; the URL is the page of that plan, carries
// no secret, and never appears in what the agent reads.
func TestTypeScriptSDKIsOfferedTheReviewPage(t *testing.T) {
	requireClients(t)
	p := newProject(t)
	page := startReview(t, p)
	origin, _, _ := strings.Cut(page, "/review/")
	secret := page[strings.Index(page, "k=")+2:]

	var r elicitReport
	node(t, 180*time.Second, &r, "sdk_elicit.mjs", "--binary", binary, "--config", p.cfg, "--stack", "web", "--url-mode")
	require.True(t, r.OK, r.Error)
	require.False(t, r.PlanChange.IsError, r.PlanChange.Text)
	require.NotEmpty(t, r.PlanChange.PlanID)
	require.Len(t, r.Elicitations, 2, "one offer for the plan, one for the apply without a token")
	assert.Equal(t, 1, r.AfterPlan, "plan_change offered the page before it answered")
	for _, e := range r.Elicitations {
		assert.Equal(t, "url", e.Mode, "never a form")
		assert.Nil(t, e.RequestedSchema)
		assert.Equal(t, origin+"/review/plans/"+r.PlanChange.PlanID, e.URL, "the page of this plan, on the running review page")
		assert.NotContains(t, e.URL, secret, "no pre-authenticated URL")
		assert.Contains(t, e.Message, "for web")
	}
	assert.Contains(t, r.PlanChange.Text, "open the review page")
	assert.True(t, r.Apply.IsError, "still no apply without a token")
	assert.Contains(t, r.Apply.Text, "apply refused")
	for _, text := range []string{r.PlanChange.Text, r.Apply.Text} {
		assert.NotContains(t, text, origin, "the page's address goes to the client, not the agent")
		assert.NotContains(t, text, secret)
	}
}

// A client that does not declare it sees nothing new, page or not.
func TestTypeScriptSDKWithoutURLElicitationSeesNoChange(t *testing.T) {
	requireClients(t)
	p := newProject(t)
	startReview(t, p)
	var r elicitReport
	node(t, 180*time.Second, &r, "sdk_elicit.mjs", "--binary", binary, "--config", p.cfg, "--stack", "web")
	require.True(t, r.OK, r.Error)
	assert.Empty(t, r.Elicitations)
	assert.NotContains(t, r.PlanChange.Text, "review page")
	assert.NotContains(t, r.Apply.Text, "review page")
	assert.Contains(t, r.PlanChange.Text, "plangate approve "+r.PlanChange.PlanID)
}
