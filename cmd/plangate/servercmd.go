package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/plan"
	"github.com/plangate/plangate/server"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("server", "", "Serve plangate's MCP tools (the same tools, resources and instructions as serve) over MCP streamable HTTP at "+server.EndpointPath+", for many clients at once. "+
		"On a unix socket, the socket's mode (0660) and group decide who may connect; on TCP every request needs an agent token (plangate agent-token add), and off loopback TLS. "+
		"Run it as an OS user the agents cannot act as; agents connect with plangate serve --connect.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	listen := fs.String("listen", "", "unix:/path/to.sock or tcp://host:port (required)")
	group := fs.String("socket-group", "", "group of the unix socket: its members may connect (default: the server user's group)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (PEM), required for TCP off loopback")
	tlsKey := fs.String("tls-key", "", "TLS private key file (PEM)")
	hosts := fs.String("hosts", "", "comma-separated host names clients use to reach the server besides loopback (Host and Origin checks against DNS rebinding)")
	logLevel := fs.String("log-level", "info", "log level on stderr: debug, info, warn, error")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *listen == "" {
		return usageError(fs, "--listen is required: unix:/path/to.sock, or tcp://host:port")
	}
	logger, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	e, err := openEnv(*configFlag, stderr, logger)
	if err != nil {
		return err
	}
	// Whether Terraform can run sandboxed is known before the first call;
	// PLANGATE_SANDBOX=required refuses to serve without it.
	sbx := sandboxStatus("the running server's")
	if sbx.Mode == string(plan.SandboxRequired) && sbx.Err != nil {
		return fmt.Errorf("PLANGATE_SANDBOX=required: %w", sbx.Err)
	}
	if sbx.Err != nil && sbx.Mode != string(plan.SandboxOff) {
		logger.Warn("Terraform will run unsandboxed: the Terraform code an agent writes can read every file of this user", "err", sbx.Err)
	}
	opts := server.HTTPOptions{Base: ctx, Logger: logger, Human: &server.HumanAPI{Gate: e.gate, Logger: logger}}
	// The server's own key dir: doctor --server checks its key files too.
	keys, _ := keyDir()
	opts.Doctor = &server.DoctorAPI{Options: doctor.Options{ConfigPath: e.cfg.Path, KeyDir: keys, KeyEncrypted: keyEncrypted, Sandbox: sbx}, Logger: logger}
	if *hosts != "" {
		opts.Hosts = strings.Split(*hosts, ",")
	}
	var ln net.Listener
	var tlsConfig *tls.Config
	switch {
	case strings.HasPrefix(*listen, "unix:"):
		path := strings.TrimPrefix(*listen, "unix:")
		if ln, err = listenUnix(path, *group); err != nil {
			return err
		}
	case strings.HasPrefix(*listen, "tcp://"):
		addr := strings.TrimPrefix(*listen, "tcp://")
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return fmt.Errorf("--listen %s: %v: use tcp://host:port, such as tcp://127.0.0.1:8765", *listen, err)
		}
		if *tlsCert != "" || *tlsKey != "" {
			cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
			if err != nil {
				return fmt.Errorf("--tls-cert/--tls-key: %w", err)
			}
			tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		} else if !loopback(host) {
			return fmt.Errorf("--listen %s is off loopback: agent tokens would cross the network in clear; pass --tls-cert and --tls-key (or listen on 127.0.0.1, or on a unix socket)", *listen)
		}
		auth, limit, err := agentAuth(e.cfg.StateDir)
		if err != nil {
			return err
		}
		opts.Auth, opts.Limit = auth, limit
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("--listen %s: %w", *listen, err)
		}
	default:
		return usageError(fs, "--listen %q: use unix:/path/to.sock or tcp://host:port", *listen)
	}
	defer ln.Close()
	page, removeEndpoint, err := serverReview(e, ln, tlsConfig, opts.Hosts, logger)
	if err != nil {
		return err
	}
	defer removeEndpoint()
	if page != nil {
		opts.Review = page
	}

	defer startNotifier(e, logger)()
	go e.gate.WatchApplies(ctx, 2*time.Second)
	h := server.NewHTTPHandler(server.New(e.deps, appVersion()), opts)
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	logger.Info("plangate serving over HTTP", "version", appVersion(), "listen", *listen, "endpoint", scheme+"://"+ln.Addr().String()+server.EndpointPath,
		"config", e.cfg.Path, "state_dir", e.cfg.StateDir, "stacks", len(e.cfg.Stacks), "agent_tokens", opts.Auth != nil)
	err = server.ServeHTTP(ctx, h, ln, tlsConfig, 10*time.Minute, logger)
	if ctx.Err() != nil && err == nil {
		logger.Info("plangate server stopped by signal")
	}
	return err
}

// listenUnix listens on a unix socket at path, mode 0660, in group (the
// server user's own when empty). A stale socket of a server gone is
// replaced; anything else at path is not.
func listenUnix(path, group string) (net.Listener, error) {
	if info, err := os.Lstat(path); err == nil {
		if info.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket: plangate will not replace it; choose another path", path)
		}
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: another server is listening on it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale socket %s: %w", path, err)
		}
	}
	// Created with no access for others, then opened to the group.
	old := umask(0o177)
	ln, err := net.Listen("unix", path)
	umask(old)
	if err != nil {
		return nil, fmt.Errorf("--listen unix:%s: %w", path, err)
	}
	if group != "" {
		g, err := user.LookupGroup(group)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("--socket-group %s: %w", group, err)
		}
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("--socket-group %s: %w", group, err)
		}
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func umask(m int) int { return syscall.Umask(m) }
