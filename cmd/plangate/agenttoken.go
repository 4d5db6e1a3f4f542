package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plangate/plangate/audit"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/internal/agenttoken"
)

const agentTokenDoc = "Manage the bearer tokens agents present to plangate server over TCP: one per agent, stored in state_dir as a SHA-256 hash only. " +
	"`add --name N [--stacks a,b]` makes one and prints it once; `list` shows names, stacks and dates (never a token); `revoke N` ends one at the server's next request. " +
	"Every add and revoke is recorded in the audit log."

func runAgentToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if i := agentTokenSubcommand(args); i >= 0 {
		rest := append(append([]string{}, args[:i]...), args[i+1:]...)
		switch args[i] {
		case "add":
			return agentTokenAdd(rest, stdout, stderr)
		case "list":
			return agentTokenList(rest, stdout, stderr)
		case "revoke":
			return agentTokenRevoke(rest, stdout, stderr)
		}
	}
	fs := newFlags("agent-token", "add --name N [--stacks a,b] | list | revoke N", agentTokenDoc, stdout, stderr)
	fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unknown subcommand %q: the subcommands are add, list and revoke", fs.Arg(0))
	}
	return usageError(fs, "name a subcommand: add, list or revoke")
}

// agentTokenSubcommands are agent-token's subcommands.
var agentTokenSubcommands = []string{"add", "list", "revoke"}

// agentTokenSubcommand returns the index of the subcommand among args: the
// first positional argument, so that flags may come before it (plangate
// agent-token --config f list). -1 when there is none.
func agentTokenSubcommand(args []string) int {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if i+1 < len(args) && slices.Contains(agentTokenSubcommands, args[i+1]) {
				return i + 1
			}
			return -1
		case strings.HasPrefix(a, "-"):
			if name := strings.TrimLeft(a, "-"); slices.Contains([]string{"config", "name", "stacks"}, name) {
				i++ // the flag's value
			}
		case slices.Contains(agentTokenSubcommands, a):
			return i
		default:
			return -1
		}
	}
	return -1
}

// openAgentTokens opens the config's state dir and its agent token store.
func openAgentTokens(configFlag string, stderr io.Writer) (*env, *agenttoken.Store, error) {
	logger, _ := newLogger(stderr, "warn")
	e, err := openEnv(configFlag, stderr, logger)
	if err != nil {
		return nil, nil, err
	}
	s, err := agenttoken.Open(e.cfg.StateDir)
	if err != nil {
		return nil, nil, err
	}
	return e, s, nil
}

func agentTokenAdd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("agent-token add", "", "Make a bearer token for an agent of plangate server and print it once, alone on the last line of stdout. "+
		"plangate keeps only its SHA-256: a lost token is revoked and replaced, never shown again.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	name := fs.String("name", "", "the agent's name (required): lower-case letters, digits, _ or -; it names the agent in every audit event")
	stacksFlag := fs.String("stacks", "", "comma-separated stacks the token is limited to (default: every stack)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q: the agent's name goes in --name", fs.Arg(0))
	}
	if *name == "" {
		return usageError(fs, "--name is required: the agent the token is for, as in plangate agent-token add --name ci")
	}
	var stacks []string
	for _, s := range strings.Split(*stacksFlag, ",") {
		if s = strings.TrimSpace(s); s != "" {
			stacks = append(stacks, s)
		}
	}
	e, store, err := openAgentTokens(*configFlag, stderr)
	if err != nil {
		return err
	}
	for _, s := range stacks {
		if _, ok := e.cfg.Stack(s); !ok {
			return fmt.Errorf("no token made: unknown stack %q in --stacks: the configured stacks are %v", s, e.cfg.StackNames())
		}
	}
	secret, err := store.Add(*name, stacks, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("no token made: %w", err)
	}
	// No token that is not on the record: one the log cannot record is
	// revoked before anyone sees it.
	ev := audit.Event{Event: audit.EventAgentTokenAdded, Actor: freeze.CurrentUser(), Reason: agentReason(*name, stacks)}
	if _, err := e.audit.Append(ev); err != nil {
		if rerr := store.Revoke(*name); rerr != nil {
			return fmt.Errorf("the audit log failed (%v), and the unrecorded token of %q could not be revoked either (%v): run plangate agent-token revoke %s", err, *name, rerr, *name)
		}
		return fmt.Errorf("no token made: the audit log failed: %w", err)
	}
	fmt.Fprintf(stderr, "agent token for %s (%s); shown this once, plangate keeps only its hash.\n"+
		"Give it to the agent's relay in a file only its user can read (plangate serve --connect <https://host:port> --token-file <file>), "+
		"or to an HTTP MCP client as the header Authorization: Bearer <token>. Lost or leaked: plangate agent-token revoke %s, then add a new one.\n",
		*name, stacksText(stacks), *name)
	fmt.Fprintln(stdout, secret)
	return nil
}

func agentTokenList(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("agent-token list", "", "List the agent tokens: name, stacks, when made, and when revoked. Never a token or its hash.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	_, store, err := openAgentTokens(*configFlag, stderr)
	if err != nil {
		return err
	}
	infos, err := store.List()
	if err != nil {
		return err
	}
	if len(infos) == 0 {
		fmt.Fprintln(stdout, "no agent tokens: plangate agent-token add --name <agent> makes one")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTACKS\tCREATED\tSTATUS")
	for _, t := range infos {
		status := "live"
		if !t.RevokedAt.IsZero() {
			status = "revoked " + t.RevokedAt.Format(time.RFC3339)
		}
		stacks := "all"
		if len(t.Stacks) > 0 {
			stacks = strings.Join(t.Stacks, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%s ago)\t%s\n", t.Name, stacks, t.CreatedAt.Format(time.RFC3339), ago(now.Sub(t.CreatedAt)), status)
	}
	return tw.Flush()
}

func agentTokenRevoke(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("agent-token revoke", "<name>", "Revoke the agent's token: plangate server refuses it from its next request on, without a restart.", stdout, stderr)
	configFlag := fs.String("config", "", "config file (default $PLANGATE_CONFIG, else ./plangate.hcl)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError(fs, "name the one agent whose token to revoke (plangate agent-token list shows them)")
	}
	name := fs.Arg(0)
	e, store, err := openAgentTokens(*configFlag, stderr)
	if err != nil {
		return err
	}
	var stacks []string
	if infos, err := store.List(); err == nil {
		for _, t := range infos {
			if t.Name == name && t.RevokedAt.IsZero() {
				stacks = t.Stacks
			}
		}
	}
	if err := store.Revoke(name); err != nil {
		return err
	}
	ev := audit.Event{Event: audit.EventAgentTokenRevoked, Actor: freeze.CurrentUser(), Reason: agentReason(name, stacks)}
	if _, err := e.audit.Append(ev); err != nil {
		return fmt.Errorf("revoked, but the audit log failed: %w", err)
	}
	fmt.Fprintf(stdout, "agent token of %s revoked: plangate server refuses it from the next request\n", name)
	return nil
}

func stacksText(stacks []string) string {
	if len(stacks) == 0 {
		return "all stacks"
	}
	return "stacks " + strings.Join(stacks, ",")
}

// agentReason is an audit event's Reason for a token: the agent and its
// stacks, never the token.
func agentReason(name string, stacks []string) string {
	return "agent " + name + ", " + stacksText(stacks)
}
