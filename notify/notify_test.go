package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// receiver answers each POST with the next status of statuses (200 once
// they run out) and records every body.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	bodies   [][]byte
	headers  []http.Header
	got      chan struct{}
}

func newReceiver(t *testing.T, statuses ...int) (*receiver, *httptest.Server) {
	r := &receiver{statuses: statuses, got: make(chan struct{}, 100)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.got <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

var fast = []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond}

func closeNow(t *testing.T, n *Notifier) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, n.Close(ctx))
}

func TestEachEventDeliveredOnce(t *testing.T) {
	r, srv := newReceiver(t)
	n := New(Options{Backoff: fast, UserAgent: "plangate/test"})
	events := []string{EventPlanAwaitingApproval, EventPlanBlocked, EventPlanApplied, EventApplyFailed, EventStackFrozen}
	for _, e := range events {
		n.Send(srv.URL+"/hook/SECRETPATH", Message{Text: e, Event: e, Stack: "web", PlanID: "p1", Counts: &Counts{Add: 1}})
	}
	closeNow(t, n)

	require.Equal(t, len(events), r.count())
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []string
	for i, b := range r.bodies {
		var m Message
		require.NoError(t, json.Unmarshal(b, &m))
		got = append(got, m.Event)
		assert.Equal(t, "application/json", r.headers[i].Get("Content-Type"))
		assert.Equal(t, "plangate/test", r.headers[i].Get("User-Agent"))
	}
	assert.Equal(t, events, got)
}

func TestRetriesAfter500(t *testing.T) {
	r, srv := newReceiver(t, 500, 500, 200)
	var failures []Failure
	n := New(Options{Backoff: fast, OnFailure: func(f Failure) { failures = append(failures, f) }})
	n.Send(srv.URL, Message{Event: EventPlanApplied})
	closeNow(t, n)
	assert.Equal(t, 3, r.count(), "two 500s then a 200: three attempts")
	assert.Empty(t, failures)
}

func TestPermanentFailures(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		attempts int
	}{
		{"400 is not retried", []int{400}, 1},
		{"always 503 gives up after the schedule", []int{503, 503, 503, 503, 503, 503}, 5},
		{"429 is retried", []int{429, 400}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, srv := newReceiver(t, tt.statuses...)
			var logs bytes.Buffer
			var failures []Failure
			n := New(Options{Backoff: fast, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
				OnFailure: func(f Failure) { failures = append(failures, f) }})
			n.Send(srv.URL+"/services/T000/B000/XXXXSECRET", Message{Event: EventPlanBlocked, Stack: "web"})
			closeNow(t, n)
			assert.Equal(t, tt.attempts, r.count())
			require.Len(t, failures, 1)
			assert.Equal(t, tt.attempts, failures[0].Attempts)
			assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), failures[0].Host)
			assert.NotContains(t, logs.String(), "XXXXSECRET", "the webhook's path is a secret")
			assert.NotContains(t, failures[0].Err.Error(), "XXXXSECRET")
		})
	}
}

func TestNetworkErrorNeverNamesTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/services/XXXXSECRET"
	srv.Close() // nothing listens any more
	var failures []Failure
	var logs bytes.Buffer
	n := New(Options{Backoff: fast[:1], Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnFailure: func(f Failure) { failures = append(failures, f) }})
	n.Send(u, Message{Event: EventStackFrozen})
	closeNow(t, n)
	require.Len(t, failures, 1)
	assert.Equal(t, 2, failures[0].Attempts)
	assert.NotContains(t, failures[0].Err.Error(), "XXXXSECRET")
	assert.NotContains(t, logs.String(), "XXXXSECRET")
}

func TestFullQueueDropsOldest(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var events []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		<-release
		var m Message
		_ = json.NewDecoder(req.Body).Decode(&m)
		mu.Lock()
		events = append(events, m.PlanID)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	var logs bytes.Buffer
	n := New(Options{Backoff: fast, QueueSize: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	n.Send(srv.URL, Message{Event: EventPlanApplied, PlanID: "first"})
	// Wait until the worker holds "first", so the queue is empty again.
	require.Eventually(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return len(n.queue) == 0
	}, 5*time.Second, time.Millisecond)
	for _, id := range []string{"a", "b", "c"} {
		n.Send(srv.URL, Message{Event: EventPlanApplied, PlanID: id})
	}
	close(release)
	closeNow(t, n)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"first", "b", "c"}, events)
	assert.Contains(t, logs.String(), "notification queue full")
	assert.Contains(t, logs.String(), "plan_id=a")
}

func TestSendNeverBlocks(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-block }))
	t.Cleanup(func() { close(block); srv.Close() })
	n := New(Options{Backoff: fast, QueueSize: 4})
	start := time.Now()
	for range 100 {
		n.Send(srv.URL, Message{Event: EventPlanApplied})
	}
	assert.Less(t, time.Since(start), time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, n.Close(ctx), context.DeadlineExceeded, "Close gives up at its deadline")
}

func TestSetDeletionsBounded(t *testing.T) {
	var addrs []string
	for range MaxDeletions + 7 {
		addrs = append(addrs, "terraform_data.x")
	}
	var m Message
	m.SetDeletions(addrs)
	assert.Len(t, m.Deletions, MaxDeletions)
	assert.Equal(t, 7, m.More)
}
