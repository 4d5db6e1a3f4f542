package main

import (
	"context"
	"io"
	"os"

	"github.com/plangate/plangate/server"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", "", "Serve plangate's MCP tools over stdio. MCP clients start this command; stdout carries only MCP messages, logs go to stderr.", stdout)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	logLevel := fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	e, err := openEnv(*configFlag, logger)
	if err != nil {
		return err
	}
	s := server.New(e.deps, appVersion())
	logger.Info("plangate serving over stdio", "version", appVersion(), "config", e.cfg.Path, "stacks", len(e.cfg.Stacks))
	return server.ServeStdio(ctx, s, os.Stdin, stdout, logger)
}
