package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/plangate/plangate/approvals"
	"github.com/plangate/plangate/config"
	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/gate"
	"github.com/plangate/plangate/internal/relay"
	"github.com/plangate/plangate/server"
)

// approveRemote is plangate approve --server: the review comes from the
// server (the facts it derived from the plan file), the token is signed
// here with the approver's key, and the server records it.
func approveRemote(ctx context.Context, addr, planArg string, signer signingKey, yes bool, stdout, stderr io.Writer) error {
	ep, err := relay.ParseEndpoint(addr)
	if err != nil {
		return fmt.Errorf("--server: %s", strings.TrimPrefix(err.Error(), "--connect "))
	}
	key, _, err := signer.read(&config.Config{Path: "the key dir", Approvers: keyDirApprovers()})
	if err != nil {
		return fmt.Errorf("%w (with --server, name the key with --key or --approver)", err)
	}
	now := time.Now().UTC()
	req, err := approvals.SignRequest(key, approvals.ActionReview, planArg, now)
	if err != nil {
		return err
	}
	colour := useColor(stdout)
	q := url.Values{"plan": {planArg}}
	if colour {
		q.Set("colour", "1")
	}
	var v gate.ApproveView
	if err := humanCall(ctx, ep, http.MethodGet, server.ReviewPath+"?"+q.Encode(), req, nil, &v); err != nil {
		return err
	}
	if err := renderApproveView(stdout, &v, colour); err != nil {
		return err
	}
	if !slices.Contains(v.Approvers, key.Approver) {
		return fmt.Errorf("not approved: the key is approver %q's, who is not an approver of the server's config (approvers: %s)", key.Approver, strings.Join(v.Approvers, ", "))
	}
	if err := confirmApproval(&v, key.Approver, yes, stderr); err != nil {
		return err
	}
	now = time.Now().UTC()
	token, claims, err := approvals.Issue(key, v.Record.ID, v.Check.SHA256, v.Record.Stack, v.Check.ExpiresAt, now, v.Check.ExpiresAt.Sub(now))
	if err != nil {
		return fmt.Errorf("not approved: %w", err)
	}
	body := map[string]string{"plan": v.Record.ID, "token": token, "actor": freeze.CurrentUser()}
	var ok server.Approved
	if err := humanCall(ctx, ep, http.MethodPost, server.ApprovalsPath, "", body, &ok); err != nil {
		return fmt.Errorf("not approved, no token issued: %w", err)
	}
	printToken(stdout, v.Record.ID, key.Approver, claims.ExpiresAt, token)
	return nil
}

// humanCall makes one call to the server's human API, decoding its JSON
// answer into out, or its error into an error.
func humanCall(ctx context.Context, ep *relay.Endpoint, method, path, signed string, body, out any) error {
	res, err := humanDo(ctx, ep, method, path, signed, body, nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// humanDo sends one request to the server (its signed request in
// RequestHeader, extra headers besides) and returns the answer when it is
// 200 OK, for the caller to read and close; any other answer is an error
// that says what the server said.
func humanDo(ctx context.Context, ep *relay.Endpoint, method, path, signed string, body any, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.Base()+path, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if signed != "" {
		req.Header.Set(server.RequestHeader, signed)
	}
	res, err := ep.HTTPClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("plangate server at %s is not reachable: %w", ep.Host(), err)
	}
	if res.StatusCode == http.StatusOK {
		return res, nil
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return nil, fmt.Errorf("%s", e.Error)
	}
	return nil, fmt.Errorf("plangate server at %s answered %s: %s", ep.Host(), res.Status, strings.TrimSpace(string(b)))
}

// keyDirApprovers names the approvers whose keys are in the key dir: with
// --server there is no local config to name them.
func keyDirApprovers() []*config.Approver {
	dir, err := keyDir()
	if err != nil {
		return nil
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.key"))
	var out []*config.Approver
	for _, f := range files {
		if info, err := os.Stat(f); err == nil && info.Mode().IsRegular() {
			out = append(out, &config.Approver{Name: strings.TrimSuffix(filepath.Base(f), ".key")})
		}
	}
	return out
}
