package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/server"
	"github.com/plangate/plangate/tools"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// Even usage goes to stderr: a client reads stdout as JSON-RPC.
	fs := newFlags("serve", "", "Serve plangate's MCP tools over stdio. MCP clients start this command; stdout carries only MCP messages, logs go to stderr.\n"+
		"With --connect, relay them to a plangate server instead (for MCP clients that speak only stdio).", stderr, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	logLevel := fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	connect := fs.String("connect", "", "relay to the plangate server at `addr`: unix:/path/to.sock, https://host:port, or http://127.0.0.1:port")
	tokenFile := fs.String("token-file", "", "with --connect: read the agent token (from plangate agent-token add) from the first line of `file`, which only you may read (chmod 600)")
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
	if *connect != "" {
		if *configFlag != "" {
			return usageError(fs, "--config and --connect exclude each other: the server reads its own config")
		}
		return runRelay(ctx, *connect, *tokenFile, stdout, logger)
	}
	if *tokenFile != "" {
		return usageError(fs, "--token-file goes with --connect")
	}
	var s *mcpserver.MCPServer
	// The tools' schemas are derived while the config and state open.
	prepared := make(chan struct{})
	go func() { tools.Prepare(); close(prepared) }()
	e, broken := openEnv(*configFlag, stderr, logger)
	<-prepared
	if broken == nil {
		broken = checkServable(e)
	}
	if broken != nil {
		// The MCP client started this process and shows its user only
		// what comes over stdout: exiting would read "connection closed".
		// The server answers instead, and says what is wrong; it exits
		// non-zero once the client is gone.
		problem := unservable(broken)
		logger.Error("plangate cannot work; serving only this error to the client", "problem", problem)
		s = server.NewUnavailable(problem, appVersion(), logger)
		broken = errors.New(problem)
	} else {
		// Applies that Terraform still runs for a plangate that died are
		// recorded as they end.
		defer startNotifier(e, logger)()
		go e.gate.WatchApplies(ctx, 2*time.Second)
		// A review page this user runs (plangate review) is offered to
		// clients that open URLs; located again on every offer.
		e.deps.Review = localReviewPage(e.cfg.StateDir)
		s = server.New(e.deps, appVersion())
		logger.Info("plangate serving over stdio", "version", appVersion(), "config", e.cfg.Path, "state_dir", e.cfg.StateDir, "stacks", len(e.cfg.Stacks))
	}
	err = server.ServeStdio(ctx, s, os.Stdin, stdout, logger)
	if ctx.Err() != nil {
		// SIGTERM or SIGINT: in-flight Terraform runs got SIGINT through
		// their contexts; this is an orderly shutdown.
		logger.Info("plangate stopped by signal")
		return broken
	}
	if err != nil {
		return err
	}
	return broken
}

// unservable says what stops plangate from serving and who fixes it.
// Neither a config nor a state dir that cannot be opened is the agent's to
// fix, nor should it try: plangate reads them again only when restarted.
func unservable(err error) string {
	var st *stateError
	if errors.As(err, &st) {
		return fmt.Sprintf("plangate cannot open its %v. Nothing can be planned or applied: a human fixes it "+
			"(the state dir and what it holds, plans/, %s and %s, must be there, of their kind, and readable and writable by the user plangate runs as) "+
			"and restarts plangate (reconnects it in the MCP client)", err, approvals.LedgerFile, audit.FileName)
	}
	return fmt.Sprintf("plangate cannot read its config: %v. Nothing can be planned or applied: a human fixes plangate.hcl or the file named "+
		"(or the --config path or PLANGATE_CONFIG the MCP client starts plangate with) and restarts plangate (reconnects it in the MCP client)", err)
}

// checkServable checks what a server writes to and the CLI only reads:
// the state dir and the plans directory take new files, and the audit
// log, when there is one, can be appended to. Found now, at start, such
// a problem is named at once instead of at the first plan or apply.
func checkServable(e *env) error {
	for _, dir := range []string{e.cfg.StateDir, filepath.Join(e.cfg.StateDir, "plans")} {
		f, err := os.CreateTemp(dir, ".plangate-probe-*")
		if err != nil {
			return &stateError{Dir: e.cfg.StateDir, Err: fmt.Errorf("cannot create files in %s: %w", dir, unwrapPath(err))}
		}
		name := f.Name()
		f.Close()
		_ = os.Remove(name)
	}
	f, err := os.OpenFile(e.audit.Path(), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return &stateError{Dir: e.cfg.StateDir, Err: fmt.Errorf("cannot append to the audit log %s: %w", e.audit.Path(), unwrapPath(err))}
	}
	if f != nil {
		f.Close()
	}
	return nil
}

// unwrapPath drops an *os.PathError's operation and path, which the
// message around it names already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
