package relay

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"
)

// Reconnection delays: the first retry is quick, later ones back off.
const (
	firstRetry = 500 * time.Millisecond
	maxRetry   = 30 * time.Second
	// resumeAttempts bounds resuming a call's broken stream before the
	// call is answered with the error.
	resumeAttempts = 5
)

func backoff(failures int) time.Duration {
	d := firstRetry
	for i := 1; i < failures && d < maxRetry; i++ {
		d *= 2
	}
	return min(d, maxRetry)
}

// wait waits d, or less if ctx ends first, and reports whether ctx is
// still live.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// listen opens, once, the stream on which the server sends what no call
// asked for: progress of calls whose stream it did not use, list_changed,
// elicitation and sampling requests.
func (r *Relay) listen() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listening {
		return
	}
	r.listening = true
	r.listeners.Add(1)
	go func() {
		defer r.listeners.Done()
		r.listenLoop(r.listenCtx)
	}()
}

// listenLoop keeps the GET stream open, reconnecting with Last-Event-ID
// when it drops, until ctx ends or the server says it offers none.
func (r *Relay) listenLoop(ctx context.Context) {
	var pos streamPos
	failures := 0
	var delay time.Duration
	for wait(ctx, delay) {
		req, err := r.newRequest(ctx, http.MethodGet, nil)
		if err != nil {
			r.logger.Error("cannot listen for the server's messages", "err", err)
			return
		}
		if pos.lastID != "" {
			req.Header.Set(headerLastEventID, pos.lastID)
		}
		resp, err := r.ep.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			if failures == 1 {
				r.logger.Warn("the stream for the server's own messages broke; reconnecting", "problem", r.ep.explainDial(err).msg)
			}
			delay = backoff(failures)
			continue
		}
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		switch {
		case resp.StatusCode == http.StatusOK && ct == "text/event-stream":
			if failures > 0 {
				r.logger.Info("the stream for the server's own messages is back")
			}
			opened := time.Now()
			err := r.relayStream(ctx, resp.Body, message{}, &pos)
			resp.Body.Close()
			if ctx.Err() != nil {
				return
			}
			r.logger.Debug("the stream for the server's own messages ended; reconnecting", "err", err)
			failures = 0
			if time.Since(opened) < time.Second {
				failures = 1 // a server that closes at once is not hammered
			}
			delay = max(pos.retry, backoff(failures))
		case resp.StatusCode == http.StatusMethodNotAllowed:
			resp.Body.Close()
			r.logger.Debug("the server offers no stream of its own messages")
			return
		default:
			resp.Body.Close()
			p := r.explainStatus(resp.StatusCode, "")
			r.logger.Warn("cannot listen for the server's own messages", "problem", p.msg)
			if resp.StatusCode/100 == 4 {
				return // refused, or the session is gone: the next call says so
			}
			failures++
			delay = backoff(failures)
		}
	}
}

// resume picks a call's broken stream up where it broke, as the server's
// event IDs allow, until the call is answered; failing that, the call is
// answered with the error.
func (r *Relay) resume(ctx context.Context, m message, pos *streamPos, cause error) {
	for attempt := 1; attempt <= resumeAttempts && r.isPending(m.id); attempt++ {
		if !wait(ctx, max(pos.retry, backoff(attempt))) {
			break
		}
		req, err := r.newRequest(ctx, http.MethodGet, nil)
		if err != nil {
			break
		}
		req.Header.Set(headerLastEventID, pos.lastID)
		resp, err := r.ep.client.Do(req)
		if err != nil {
			cause = err
			continue
		}
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
			resp.Body.Close()
			r.fail(ctx, m, r.explainStatus(resp.StatusCode, ""))
			return
		}
		err = r.relayStream(ctx, resp.Body, m, pos)
		resp.Body.Close()
		if err != nil {
			cause = err
		} else if r.isPending(m.id) {
			cause = errors.New("the resumed stream ended without the result")
		}
	}
	if r.isPending(m.id) {
		r.fail(ctx, m, r.ep.explainDial(fmt.Errorf("resuming the stream: %w", cause)))
	}
}

// endSession tells the server the session is over (DELETE), so that it
// frees what it holds for it at once instead of when it expires.
func (r *Relay) endSession(ctx context.Context) {
	if r.unusable != nil || r.sessionID() == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	req, err := r.newRequest(ctx, http.MethodDelete, nil)
	if err != nil {
		return
	}
	resp, err := r.ep.client.Do(req)
	if err != nil {
		r.logger.Debug("could not end the session on the server", "problem", r.ep.explainDial(err).msg)
		return
	}
	resp.Body.Close()
	r.logger.Debug("session ended", "status", resp.StatusCode)
}
