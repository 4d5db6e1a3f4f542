package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/plangate/plangate/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Even usage goes to stderr: a client reads stdout as JSON-RPC.
	fs := newFlags("serve", "", "Serve plangate's MCP tools over stdio. MCP clients start this command; stdout carries only MCP messages, logs go to stderr.", stderr, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	logLevel := fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	// Applies that Terraform still runs for a plangate that died are
	// recorded as they end.
	go e.gate.WatchApplies(ctx, 2*time.Second)
	s := server.New(e.deps, appVersion())
	logger.Info("plangate serving over stdio", "version", appVersion(), "config", e.cfg.Path, "state_dir", e.cfg.StateDir, "stacks", len(e.cfg.Stacks))
	err = server.ServeStdio(ctx, s, os.Stdin, stdout, logger)
	if ctx.Err() != nil {
		// SIGTERM or SIGINT: in-flight Terraform runs got SIGINT through
		// their contexts; this is an orderly shutdown.
		logger.Info("plangate stopped by signal")
		return nil
	}
	return err
}
