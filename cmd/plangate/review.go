package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/review"
	"github.com/plangate/plangate/server"
)

func runReview(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("review", "", "Serve the review page on this machine: the plans awaiting approval with every deletion, the code they run, their inputs, the policy and the diff. "+
		"Key approvers copy the plangate approve command from it; passkey approvers approve in it. "+
		"Its URL, with a secret of this run, is the first line of stdout; the page opens in the browser unless --no-browser. Stop it with Ctrl-C.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	listen := fs.String("listen", review.DefaultListen, "loopback address to serve on; passkeys approve only on the port they were registered on")
	noBrowser := fs.Bool("no-browser", false, "do not open the browser")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	ln, err := review.ListenLoopback(*listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	logger, _ := newLogger(stderr, "info")
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	h, err := review.New(review.Options{
		Gate: e.gate, Origin: loopbackOrigin(ln), Secret: review.NewSecret(), Actor: freeze.CurrentUser(), Logger: logger,
		// Passkeys for this page are registered on it (a passkey counts
		// only on the page it was registered on).
		Register: &review.Register{},
	})
	if err != nil {
		return err
	}
	remove, err := review.WriteEndpoint(e.cfg.StateDir, h.URL())
	if err != nil {
		return err
	}
	defer remove()
	return servePage(ctx, h, ln, *noBrowser, nil, stdout, logger)
}

func runPasskey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "register" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, "Usage: plangate passkey register --name <approver> [--listen 127.0.0.1:PORT] [--no-browser]")
			return nil
		}
		fmt.Fprintln(stderr, "plangate passkey: use `plangate passkey register --name <approver>`")
		return errUsage
	}
	fs := newFlags("passkey register", "", "Register a passkey (Touch ID, Windows Hello, a security key) for an approver: serves a registration page on this machine, "+
		"whose URL is the first line of stdout, runs the WebAuthn ceremony in the browser, prints the approver block to paste into plangate.hcl, and exits. "+
		"The passkey is for the review page of plangate review (RP ID localhost).", stdout, stderr)
	name := fs.String("name", "", "the approver's name (required)")
	listen := fs.String("listen", review.DefaultListen, "loopback address to serve on: the passkey approves only on this port, where plangate review serves by default")
	noBrowser := fs.Bool("no-browser", false, "do not open the browser")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *name == "" {
		return usageError(fs, "--name is required: the approver's name in plangate.hcl")
	}
	ln, err := review.ListenLoopback(*listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	logger, _ := newLogger(stderr, "info")
	blocks := make(chan string, 1)
	h, err := review.New(review.Options{
		Origin: loopbackOrigin(ln), Secret: review.NewSecret(), Logger: logger,
		Register: &review.Register{Name: *name, Done: func(b string) {
			select {
			case blocks <- b:
			default:
			}
		}},
	})
	if err != nil {
		return err
	}
	var block string
	if err := servePage(ctx, h, ln, *noBrowser, blocks, stdout, logger); err != nil {
		return err
	}
	select {
	case block = <-blocks:
	default:
		return errors.New("stopped before a passkey was registered")
	}
	fmt.Fprintf(stdout, "Registered a passkey for approver %q.\n\nPaste this into plangate.hcl:\n\n%s\n", *name, block)
	fmt.Fprintf(stdout, "An approver already in plangate.hcl must then accept it: plangate config accept (until then, approver %q cannot approve).\n", *name)
	return nil
}

// loopbackOrigin is the page's origin on a loopback listener: always the
// name localhost, since WebAuthn refuses IP addresses as RP IDs.
func loopbackOrigin(ln net.Listener) string {
	return fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
}

// servePage prints the page's URL as the first line of stdout, opens it
// in the browser unless noBrowser, and serves until ctx ends or, when
// done is set, a value is ready on it (it is put back for the caller).
func servePage(ctx context.Context, h *review.Handler, ln net.Listener, noBrowser bool, done chan string, stdout io.Writer, logger *slog.Logger) error {
	fmt.Fprintln(stdout, h.URL())
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: server.ReadHeaderTimeout, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("review page serving", "listen", ln.Addr().String())
	if !noBrowser {
		openBrowser(h.URL(), logger)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		logger.Info("review page stopped by signal")
	case b := <-done:
		done <- b
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openBrowser opens url with $BROWSER (its first entry) or xdg-open,
// without waiting; a failure is a note, the URL is printed anyway.
func openBrowser(url string, logger *slog.Logger) {
	name := "xdg-open"
	if b := strings.Split(os.Getenv("BROWSER"), ":")[0]; b != "" {
		name = b
	}
	cmd := exec.Command(name, url)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		logger.Warn("could not open a browser: open the URL printed on stdout yourself", "err", err)
		return
	}
	go func() { _ = cmd.Wait() }()
}

// serverReview is plangate server's review page at /review/, for remote
// approvers: over TLS at the first --hosts name (the passkeys' RP ID),
// or without TLS on loopback only, as localhost. Nil (with a note) where
// neither holds (a unix socket; TLS without a host name). Its URL with
// the secret goes to <state_dir>/review/endpoint.json (0600), never to a
// log: the server's operator hands it to the approvers.
func serverReview(e *env, ln net.Listener, tlsConfig *tls.Config, hosts []string, logger *slog.Logger) (*review.Handler, func(), error) {
	tcp, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		logger.Info("no review page on a unix socket: browsers cannot reach it; serve TCP with TLS (or run plangate review on this machine)")
		return nil, func() {}, nil
	}
	var origin string
	switch {
	case tlsConfig != nil && len(hosts) > 0 && hosts[0] != "":
		origin = fmt.Sprintf("https://%s:%d", strings.ToLower(hosts[0]), tcp.Port)
		if tcp.Port == 443 {
			origin = "https://" + strings.ToLower(hosts[0])
		}
	case tlsConfig != nil:
		logger.Warn("no review page: passkeys need the server's host name; pass --hosts with the name approvers' browsers use")
		return nil, func() {}, nil
	case tcp.IP.IsLoopback():
		origin = loopbackOrigin(ln)
	default:
		return nil, func() {}, nil
	}
	h, err := review.New(review.Options{
		Gate: e.gate, Origin: origin, Secret: review.NewSecret(), TLS: tlsConfig != nil, Logger: logger,
		Actor: "review page of plangate server",
		// Passkeys for this page's host are registered on it.
		Register:       &review.Register{},
		ApproveCommand: func(id string) string { return "plangate approve --server " + origin + " " + id },
	})
	if err != nil {
		return nil, nil, err
	}
	remove, err := review.WriteEndpoint(e.cfg.StateDir, h.URL())
	if err != nil {
		return nil, nil, err
	}
	logger.Info("review page serving", "url", origin+review.Prefix, "its URL with the secret", filepath.Join(e.cfg.StateDir, review.EndpointFile))
	return h, remove, nil
}

// localReviewPage finds the review page plangate review serves for
// stateDir, for URL elicitation: the plan's page without the secret (MCP
// forbids pre-authenticated URLs in an elicitation; the human's browser
// holds the session from the link plangate review printed).
func localReviewPage(stateDir string) func(planID string) (string, bool) {
	return func(planID string) (string, bool) {
		base, ok := review.Locate(stateDir)
		if !ok {
			return "", false
		}
		return review.PageURL(base, planID), true
	}
}
