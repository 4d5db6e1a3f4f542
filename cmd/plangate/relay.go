package main

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/plangate/plangate/internal/relay"
)

// runRelay is `plangate serve --connect`: the MCP client's stdio, carried
// to a plangate server over streamable HTTP. A --connect or --token-file
// that cannot be used is answered to every call, as serve answers a config
// it cannot open: an MCP client shows an exiting server only as
// "connection closed".
func runRelay(ctx context.Context, connect, tokenFile string, stdout io.Writer, logger *slog.Logger) error {
	ua := relay.WithUserAgent("plangate-relay/" + appVersion())
	r, problem := newRelay(connect, tokenFile, logger, ua)
	if problem != "" {
		logger.Error("plangate relay cannot work; answering every call with this error", "problem", problem)
		r = relay.Unusable(problem, relay.WithLogger(logger), ua)
	}
	return r.Run(ctx, os.Stdin, stdout)
}

func newRelay(connect, tokenFile string, logger *slog.Logger, opts ...relay.Option) (*relay.Relay, string) {
	ep, err := relay.ParseEndpoint(connect)
	if err != nil {
		return nil, err.Error()
	}
	opts = append(opts, relay.WithLogger(logger))
	if tokenFile != "" {
		tok, err := relay.ReadToken(tokenFile)
		if err != nil {
			return nil, err.Error()
		}
		opts = append(opts, relay.WithToken(tok, tokenFile))
	} else if ep.TCP() {
		logger.Warn("no --token-file: a plangate server on TCP refuses calls without an agent token (`plangate agent-token add --name NAME` makes one)")
	}
	logger.Info("plangate relaying stdio", "version", appVersion(), "server", ep.Addr, "url", ep.URL)
	return relay.New(ep, opts...), ""
}
