package doctor

import "fmt"

// guardServer: what plangate doctor --server's own check stands for.
const guardServer = "agents reach plangate through the server, which makes the checks of its side"

// ServerReached is the first check of plangate doctor --server, run as
// the agent's user on the agent's machine: whether the server at addr
// answered (err nil), and as whom it saw the connection. The checks of
// the server's side are the server's answer, so without it there are
// none.
func ServerReached(addr, seenAs string, err error) Check {
	const name = "plangate server reachable by the agent"
	if err != nil {
		return fail(name, guardServer, fmt.Sprintf("%s made no checks of its side: %v", addr, err),
			fmt.Sprintf("check that plangate server listens at %s and that this user may connect: a member of the socket's group (on TCP, --token-file with an agent token); then run plangate doctor --server %s again", addr, addr))
	}
	return ok(name, guardServer, fmt.Sprintf("%s answered; the server ran its checks for %s", addr, seenAs))
}
