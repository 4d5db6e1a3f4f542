package doctor

import "fmt"

// Sandbox is how the server runs Terraform, for the sandbox check.
type Sandbox struct {
	// Mode is PLANGATE_SANDBOX's value as the server sees it: auto,
	// required or off.
	Mode string
	// Err is why Terraform cannot be sandboxed, nil when it can.
	Err error
	// Where says whose answer this is: the running server's, or a probe
	// by the user running doctor.
	Where string
}

const sandboxName = "Terraform code cannot read the server's files"

// sandboxCheck: the Terraform code an agent writes is evaluated as the
// server's user; without the sandbox, its file functions read every file
// that user can (state_dir, other stacks' plans and state, keys).
func sandboxCheck(s *Sandbox) Check {
	if s == nil {
		return unknown(sandboxName, guardSecrets, "not examined", "run plangate doctor from the plangate binary")
	}
	switch {
	case s.Mode == "off":
		return fail(sandboxName, guardSecrets, fmt.Sprintf("PLANGATE_SANDBOX=off (%s): Terraform runs unsandboxed, and the Terraform code an agent writes reads every file of the server's user: state_dir's plan files and records, other stacks' state, key files", s.Where),
			"unset PLANGATE_SANDBOX, or set PLANGATE_SANDBOX=required in the server's environment")
	case s.Err != nil:
		return fail(sandboxName, guardSecrets, fmt.Sprintf("%s (%s)", s.Err, s.Where),
			"allow unprivileged user namespaces for the server's user (under systemd: RestrictNamespaces=user mnt pid, as docs/plangate.service has it), then restart the server")
	}
	fact := fmt.Sprintf("Terraform runs in a sandbox (%s): state_dir, the user's plangate state and key directories, PLANGATE_SANDBOX_HIDE and, for aws stacks, the shared credentials file are hidden from it; /proc shows only its own processes", s.Where)
	if s.Mode != "required" {
		return ok(sandboxName, guardSecrets, fact+"; PLANGATE_SANDBOX=required would make a machine that loses user namespaces refuse to plan rather than plan unsandboxed")
	}
	return ok(sandboxName, guardSecrets, fact+"; PLANGATE_SANDBOX=required")
}
