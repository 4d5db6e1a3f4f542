package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/plangate/plangate/notify"
)

// notifyDrain bounds how long a stopping plangate waits for notifications
// still queued or being retried.
const notifyDrain = 15 * time.Second

// startNotifier gives the env's gate a webhook notifier and returns what
// stops it. It starts whatever the config says now: the gate picks each
// event's webhook from the config as it is at that moment (a webhook
// added later applies once accepted), and a notifier with nothing to send
// is one idle goroutine.
func startNotifier(e *env, logger *slog.Logger) (stop func()) {
	n := notify.New(notify.Options{
		UserAgent: "plangate/" + appVersion(),
		Logger:    logger,
		OnFailure: e.gate.NotifyFailed,
	})
	e.gate.Notify = n
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), notifyDrain)
		defer cancel()
		if err := n.Close(ctx); err != nil {
			logger.Warn("stopped before every notification was delivered", "err", err)
		}
	}
}
