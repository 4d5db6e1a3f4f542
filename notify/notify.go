// Package notify owns webhook notifications: a bounded queue of messages
// and one background worker that POSTs them as JSON, retrying with backoff.
// It never blocks its caller, and it never logs or reports a webhook's full
// URL: a Slack webhook URL is itself a secret, so only its host is named.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Events a message may announce.
const (
	EventPlanAwaitingApproval = "plan_awaiting_approval"
	EventPlanBlocked          = "plan_blocked"
	EventPlanApplied          = "plan_applied"
	EventApplyFailed          = "apply_failed"
	EventStackFrozen          = "stack_frozen"
)

// MaxDeletions bounds the addresses a message lists; the rest are counted in More.
const MaxDeletions = 50

// Counts are a plan's resource changes.
type Counts struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
}

// Message is the JSON body of one notification: a Slack-compatible text
// and the same facts as fields. It carries addresses and counts only —
// never variable values, diffs or tokens.
type Message struct {
	Text      string   `json:"text"`
	Event     string   `json:"event"`
	Stack     string   `json:"stack,omitempty"`
	PlanID    string   `json:"plan_id,omitempty"`
	Counts    *Counts  `json:"counts,omitempty"`
	Deletions []string `json:"deletions,omitempty"`
	// More is how many deleted addresses Deletions leaves out.
	More      int    `json:"more,omitempty"`
	ReviewURL string `json:"review_url,omitempty"`
}

// SetDeletions sets Deletions to the first MaxDeletions addresses and More to the rest.
func (m *Message) SetDeletions(addrs []string) {
	m.Deletions, m.More = addrs, 0
	if len(addrs) > MaxDeletions {
		m.Deletions, m.More = addrs[:MaxDeletions:MaxDeletions], len(addrs)-MaxDeletions
	}
}

// DefaultBackoff is the wait before each retry: five attempts in all.
var DefaultBackoff = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}

const (
	// DefaultQueueSize bounds the messages waiting for delivery.
	DefaultQueueSize = 256
	// AttemptTimeout bounds one POST.
	AttemptTimeout = 10 * time.Second
)

// Failure is a message given up on, reported with the webhook's host only.
type Failure struct {
	Host     string
	Event    string
	Stack    string
	PlanID   string
	Attempts int
	Err      error
}

// Options configure a Notifier; the zero value of each field is a default.
type Options struct {
	Client    *http.Client    // default: http.Client with AttemptTimeout
	Backoff   []time.Duration // waits between attempts; default DefaultBackoff
	QueueSize int             // default DefaultQueueSize
	UserAgent string          // default "plangate"
	Logger    *slog.Logger
	// OnFailure, when set, is called from the worker for every message
	// given up on (to audit it).
	OnFailure func(Failure)
}

type job struct {
	url string
	msg Message
}

// Notifier delivers messages in the background. Create it with New; stop
// it with Close.
type Notifier struct {
	opts Options

	mu      sync.Mutex
	queue   []job
	closed  bool
	wake    chan struct{}
	stop    chan struct{} // closed by Close when the drain time is up
	abort   context.CancelFunc
	ctx     context.Context // cancelled with stop: ends a POST in flight
	done    chan struct{}   // closed when the worker returns
	dropped int
}

// New starts a Notifier's worker.
func New(opts Options) *Notifier {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: AttemptTimeout}
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "plangate"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{opts: opts, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	n.ctx, n.abort = context.WithCancel(context.Background())
	go n.run()
	return n
}

// Send queues msg for the webhook at rawURL and returns at once. When the
// queue is full the oldest message is dropped, and logged.
func (n *Notifier) Send(rawURL string, msg Message) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		n.opts.Logger.Warn("notification after shutdown dropped", "event", msg.Event, "webhook_host", Host(rawURL))
		return
	}
	if len(n.queue) >= n.opts.QueueSize {
		old := n.queue[0]
		n.queue = n.queue[1:]
		n.dropped++
		n.opts.Logger.Warn("notification queue full: dropped the oldest",
			"event", old.msg.Event, "stack", old.msg.Stack, "plan_id", old.msg.PlanID, "webhook_host", Host(old.url))
	}
	n.queue = append(n.queue, job{url: rawURL, msg: msg})
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Close stops taking messages and waits until the queue is delivered or
// ctx ends; then it abandons what is left, logged.
func (n *Notifier) Close(ctx context.Context) error {
	n.mu.Lock()
	already := n.closed
	n.closed = true
	n.mu.Unlock()
	if !already {
		select {
		case n.wake <- struct{}{}:
		default:
		}
	}
	select {
	case <-n.done:
		n.abort()
		return nil
	case <-ctx.Done():
	}
	n.mu.Lock()
	if !already {
		close(n.stop)
		n.abort()
	}
	n.mu.Unlock()
	<-n.done
	return ctx.Err()
}

func (n *Notifier) next() (job, bool, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) == 0 {
		return job{}, false, n.closed
	}
	j := n.queue[0]
	n.queue = n.queue[1:]
	return j, true, n.closed
}

func (n *Notifier) run() {
	defer close(n.done)
	for {
		j, ok, closed := n.next()
		if !ok {
			if closed {
				return
			}
			select {
			case <-n.wake:
			case <-n.stop:
			}
			continue
		}
		select {
		case <-n.stop:
			n.mu.Lock()
			left := len(n.queue) + 1
			n.mu.Unlock()
			n.opts.Logger.Warn("shutting down: undelivered notifications abandoned", "count", left)
			return
		default:
		}
		n.deliver(j)
	}
}

// deliver POSTs one message, retrying 429, 5xx and network errors.
func (n *Notifier) deliver(j job) {
	host := Host(j.url)
	body, err := json.Marshal(j.msg)
	if err != nil {
		n.fail(j, host, 0, err)
		return
	}
	attempts := 0
	for {
		attempts++
		retry, err := n.post(j.url, body)
		if err == nil {
			return
		}
		if !retry || attempts > len(n.opts.Backoff) {
			n.fail(j, host, attempts, err)
			return
		}
		n.opts.Logger.Info("notification failed, will retry", "event", j.msg.Event, "webhook_host", host, "attempt", attempts, "err", err)
		t := time.NewTimer(n.opts.Backoff[attempts-1])
		select {
		case <-t.C:
		case <-n.stop:
			t.Stop()
			n.fail(j, host, attempts, fmt.Errorf("shut down before retrying: %w", err))
			return
		}
	}
}

func (n *Notifier) fail(j job, host string, attempts int, err error) {
	n.opts.Logger.Error("notification not delivered", "event", j.msg.Event, "stack", j.msg.Stack,
		"plan_id", j.msg.PlanID, "webhook_host", host, "attempts", attempts, "err", err)
	if n.opts.OnFailure != nil {
		n.opts.OnFailure(Failure{Host: host, Event: j.msg.Event, Stack: j.msg.Stack, PlanID: j.msg.PlanID, Attempts: attempts, Err: err})
	}
}

// post sends body once; retry says whether a failure may pass on a retry.
// Errors never contain the URL.
func (n *Notifier) post(rawURL string, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("invalid webhook URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", n.opts.UserAgent)
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error prints the full URL
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("webhook answered %s", resp.Status)
	default:
		return false, fmt.Errorf("webhook answered %s", resp.Status)
	}
}

// Host is the part of a webhook URL that may be logged: its host, never
// the path or query, which hold the secret of a Slack-style webhook.
func Host(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}
