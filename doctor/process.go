package doctor

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// server is a running plangate process that holds the server's
// environment: `plangate serve` (not a relay) or `plangate server`.
type server struct {
	pid      int
	command  string
	uid      int  // the real, effective and saved uid when they agree, else -1
	mixedUID bool // they differ
}

// servers scans proc for plangate serve and server processes of the
// config at configPath (a process started with another --config is
// another deployment; one without, or whose directory is unknown, counts).
// This process is one of them only when it is the server (self).
func servers(proc, configPath string, self bool) ([]server, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	var out []server
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pid == os.Getpid() {
			if self {
				out = append(out, processUIDs(server{pid: pid, command: "plangate server"}, filepath.Join(proc, e.Name(), "status")))
			}
			continue
		}
		raw, err := os.ReadFile(filepath.Join(proc, e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
		if len(args) < 2 || filepath.Base(args[0]) != "plangate" || (args[1] != "serve" && args[1] != "server") {
			continue
		}
		if args[1] == "serve" && flagValue(args[2:], "connect") != "" {
			continue // a relay: it holds no credentials, the server it connects to does
		}
		if c := flagValue(args[2:], "config"); c != "" {
			if !filepath.IsAbs(c) {
				cwd, err := os.Readlink(filepath.Join(proc, e.Name(), "cwd"))
				if err != nil {
					cwd = ""
				}
				if cwd != "" {
					c = filepath.Join(cwd, c)
				}
			}
			if filepath.IsAbs(c) && filepath.Clean(c) != configPath {
				continue
			}
		}
		out = append(out, processUIDs(server{pid: pid, command: "plangate " + args[1]}, filepath.Join(proc, e.Name(), "status")))
	}
	return out, nil
}

// processUIDs sets s's uid from its status file.
func processUIDs(s server, status string) server {
	s.uid = -1
	if ids, err := uids(status); err == nil {
		if ids[0] == ids[1] && ids[1] == ids[2] {
			s.uid = ids[0]
		} else {
			s.mixedUID = true
		}
	}
	return s
}

// flagValue is the value of --name (or -name, --name=v) among args.
func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == "--" {
			return ""
		}
		for _, prefix := range []string{"--" + name, "-" + name} {
			if a == prefix && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, prefix+"="); ok {
				return v
			}
		}
	}
	return ""
}

// uids reads the real, effective and saved uid of a process.
func uids(status string) ([3]int, error) {
	var ids [3]int
	b, err := os.ReadFile(status)
	if err != nil {
		return ids, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, found := strings.CutPrefix(line, "Uid:")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			break
		}
		for i := range ids {
			if ids[i], err = strconv.Atoi(f[i]); err != nil {
				return ids, err
			}
		}
		return ids, nil
	}
	return ids, fmt.Errorf("%s has no Uid line", status)
}

// serverProcess: can the agent's user read the environment (the cloud
// credentials) of the running server (this process, inServer)?
func serverProcess(proc, configPath string, fa *access, inServer bool) Check {
	const name = "server's environment not readable by the agent"
	if fa.absent != nil {
		return fa.absent.check(name, guardCloudKeys)
	}
	agent := fa.who
	if proc == "" {
		proc = "/proc"
	}
	procs, err := servers(proc, configPath, inServer)
	if err != nil {
		return unknown(name, guardCloudKeys, fmt.Sprintf("cannot list processes in %s: %v", proc, err), "run plangate doctor on the server's machine, on Linux")
	}
	if len(procs) == 0 {
		return unknown(name, guardCloudKeys, fmt.Sprintf("no plangate serve or plangate server process of %s runs now: nothing to look at", configPath),
			"run plangate doctor again while the server runs")
	}
	var same, others []string
	for _, p := range procs {
		switch {
		case agent.Root():
			same = append(same, fmt.Sprintf("%s (pid %d)", p.command, p.pid))
		case p.mixedUID, p.uid < 0:
			others = append(others, fmt.Sprintf("%s (pid %d) runs with several uids", p.command, p.pid))
		case p.uid == agent.UID:
			same = append(same, fmt.Sprintf("%s (pid %d)", p.command, p.pid))
		default:
			others = append(others, fmt.Sprintf("%s (pid %d) runs as %s", p.command, p.pid, uidName(p.uid)))
		}
	}
	if len(same) > 0 {
		who := fmt.Sprintf("runs as %s, the agent's user", agent.Name)
		if agent.Root() {
			who = fmt.Sprintf("can be read by %s, the agent's user, which is root", agent.Name)
		}
		return fail(name, guardCloudKeys, fmt.Sprintf("%s %s: the agent can read its environment (cloud credentials) from /proc/<pid>/environ and act as it", strings.Join(same, ", "), who),
			fmt.Sprintf("run plangate server as its own OS user (not %s) and let agents connect with plangate serve --connect", agent.Name))
	}
	return ok(name, guardCloudKeys, fmt.Sprintf("%s: not %s, so %s cannot read its environment", strings.Join(others, "; "), agent.Name, agent.Name))
}

// uidName is a uid with its user name, when it has one.
func uidName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	return fmt.Sprintf("uid %d", uid)
}
