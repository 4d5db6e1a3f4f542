//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Main runs a sandbox stage when this process is one, and exits with the
// program's status; otherwise it returns at once. Call it first in main.
//
// Stage 1 is the process the caller started: it starts stage 2 in new
// user (the caller's uid mapped to root), mount and PID namespaces.
// Stage 2 makes the mounts and starts the program in a nested user and
// mount namespace, as the caller's uid again and without privileges.
// Each stage forwards signals to the next and exits as it did.
func Main() {
	raw, ok := os.LookupEnv(SpecEnv)
	if !ok {
		if os.Getenv(probeEnv) == "3" {
			os.Exit(0) // the probe's program: it ran
		}
		return
	}
	var spec Spec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fail(fmt.Errorf("reading %s: %w", SpecEnv, err))
	}
	switch os.Getenv(stageEnv) {
	case "":
		if isVersion(os.Args[1:]) {
			// `terraform version` evaluates no configuration and reads
			// no file of the user's: terraform-exec asks it before
			// most commands, so it skips the namespaces.
			fail(syscall.Exec(spec.Path, append([]string{spec.Path}, os.Args[1:]...), programEnv()))
		}
		os.Exit(stage1(spec))
	case "2":
		os.Exit(stage2(spec))
	default:
		fail(fmt.Errorf("unknown stage %q", os.Getenv(stageEnv)))
	}
}

// isVersion reports whether args are `version [-json]`.
func isVersion(args []string) bool {
	return len(args) >= 1 && len(args) <= 2 && args[0] == "version" && (len(args) == 1 || args[1] == "-json")
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "plangate sandbox: %v\n", err)
	os.Exit(125)
}

func stage1(spec Spec) int {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Env = append(os.Environ(), stageEnv+"=2")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: spec.UID, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: spec.GID, Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
		Setpgid:                    true,
	}
	return run(cmd, 1)
}

func stage2(spec Spec) int {
	if err := mountAll(spec); err != nil {
		fail(err)
	}
	path := spec.Path
	args := os.Args[1:]
	if os.Getenv(probeEnv) != "" {
		self, err := os.Executable()
		if err != nil {
			fail(err)
		}
		path, args = self, nil
	}
	cmd := exec.Command(path, args...)
	cmd.Env = programEnv()
	if os.Getenv(probeEnv) != "" {
		cmd.Env = append(cmd.Env, probeEnv+"=3")
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: spec.UID, HostID: 0, Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: spec.GID, HostID: 0, Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
		Setpgid:                    true,
	}
	return run(cmd, 2)
}

// run starts cmd, forwards signals to it, and returns its exit status
// (128+n when a signal ended it).
func run(cmd *exec.Cmd, stage int) int {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		if stage == 1 {
			fail(&UnavailableError{Err: err})
		}
		fail(fmt.Errorf("starting %s: %w", cmd.Path, err))
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fail(err)
	return 125
}

// mountAll makes stage 2's view: mounts private, each Keep opened, each
// Hide covered, each Keep bound back where a Hide covered it, and a /proc
// of the new PID namespace.
func mountAll(spec Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	type kept struct {
		path string
		fd   int
		dir  bool
	}
	var keeps []kept
	for _, p := range spec.Keep {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // nothing there to keep
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return err
		}
		keeps = append(keeps, kept{p, fd, st.Mode&unix.S_IFMT == unix.S_IFDIR})
	}
	var hidden []string
	for _, p := range spec.Hide {
		if covered(p, hidden) {
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		if info.IsDir() {
			err = unix.Mount("plangate-sandbox", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size=1m")
		} else {
			err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("hiding %s: %w", p, err)
		}
		hidden = append(hidden, p)
	}
	for _, k := range keeps {
		if !covered(k.path, hidden) {
			unix.Close(k.fd)
			continue
		}
		if k.dir {
			if err := os.MkdirAll(k.path, 0o700); err != nil {
				return fmt.Errorf("keeping %s: %w", k.path, err)
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(k.path), 0o700); err != nil {
				return fmt.Errorf("keeping %s: %w", k.path, err)
			}
			f, err := os.OpenFile(k.path, os.O_CREATE|os.O_WRONLY, 0o600)
			if err != nil {
				return fmt.Errorf("keeping %s: %w", k.path, err)
			}
			f.Close()
		}
		if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", k.fd), k.path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("keeping %s: %w", k.path, err)
		}
		unix.Close(k.fd)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mounting /proc for the sandbox's processes: %w", err)
	}
	return nil
}

func covered(p string, hidden []string) bool {
	for _, h := range hidden {
		if under(p, h) {
			return true
		}
	}
	return false
}

// probe runs exe through both stages with a hidden directory, a kept one
// and the nested namespace, as a sandboxed Terraform would.
func probe(exe string) error {
	dir, err := os.MkdirTemp("", "plangate-sandbox-probe-")
	if err != nil {
		return &UnavailableError{Err: err}
	}
	defer os.RemoveAll(dir)
	keep := filepath.Join(dir, "keep")
	if err := os.Mkdir(keep, 0o700); err != nil {
		return &UnavailableError{Err: err}
	}
	path, argv, env, err := Command(exe, Spec{Path: exe, Hide: []string{dir}, Keep: []string{keep}}, nil, os.Environ())
	if err != nil {
		return &UnavailableError{Err: err}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = append(env, probeEnv+"=1")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out.String()), "plangate sandbox: "))
		if msg == "" {
			msg = err.Error()
		}
		return &UnavailableError{Err: errors.New(msg)}
	}
	return nil
}
