package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/plangate/plangate/doctor"
	"github.com/plangate/plangate/internal/relay"
	"github.com/plangate/plangate/server"
)

// doctorRemote is plangate doctor --server, run as the agent's user on the
// agent's machine: the server's checks of its side, for the user it sees
// connecting (or agentUser), then the checks only this side can make:
// that the server answered, and the approver keys on this machine.
func doctorRemote(ctx context.Context, addr, agentUser, tokenFile string, asJSON bool, stdout io.Writer) error {
	ep, err := relay.ParseEndpoint(addr)
	if err != nil {
		return fmt.Errorf("--server: %s", strings.TrimPrefix(err.Error(), "--connect "))
	}
	header := http.Header{}
	if tokenFile != "" {
		tok, err := relay.ReadToken(tokenFile)
		if err != nil {
			return err
		}
		header.Set("Authorization", tok.Authorization())
	}
	me, err := doctor.LookupAccount("")
	if err != nil {
		return err
	}
	path := server.DoctorPath
	if agentUser != "" {
		path += "?" + url.Values{"agent_user": {agentUser}}.Encode()
	}
	var report server.DoctorReport
	err = doctorCall(ctx, ep, path, header, &report)
	checks := []doctor.Check{doctor.ServerReached(ep.Addr, report.Agent+", seen as "+report.Peer, err)}
	checks = append(checks, report.Checks...)
	dir, _ := keyDir()
	checks = append(checks, doctor.KeyFiles(me, dir, []string{os.Getenv("PLANGATE_KEY")}, keyEncrypted)...)
	agent := report.Agent
	if agent == "" {
		agent = me.Name
	}
	return writeDoctor(stdout, checks, agent, asJSON)
}

func doctorCall(ctx context.Context, ep *relay.Endpoint, path string, header http.Header, out *server.DoctorReport) error {
	res, err := humanDo(ctx, ep, http.MethodGet, path, "", nil, header)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(out)
}
