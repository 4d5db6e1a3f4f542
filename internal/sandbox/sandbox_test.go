package sandbox_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Main()
	os.Exit(m.Run())
}

// sh runs script with /bin/sh in a sandbox hiding hide and keeping keep.
func sh(t *testing.T, hide, keep []string, script string) (string, int) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, sandbox.Probe(exe))
	path, argv, env, err := sandbox.Command(exe, sandbox.Spec{Path: "/bin/sh", Hide: hide, Keep: keep}, []string{"-c", script}, os.Environ())
	require.NoError(t, err)
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

func TestHiddenUnreadableKeptWritable(t *testing.T) {
	root := t.TempDir()
	secret := filepath.Join(root, "state", "ledger.jsonl")
	other := filepath.Join(root, "state", "plans", "other", "plan.tfplan")
	mine := filepath.Join(root, "state", "plans", "mine")
	creds := filepath.Join(root, "credentials")
	for _, f := range []string{secret, other, filepath.Join(mine, "in")} {
		require.NoError(t, os.MkdirAll(filepath.Dir(f), 0o700))
		require.NoError(t, os.WriteFile(f, []byte("SECRET-"+filepath.Base(f)), 0o600))
	}
	require.NoError(t, os.WriteFile(creds, []byte("aws_secret_access_key = SECRET-creds"), 0o600))

	out, code := sh(t, []string{filepath.Join(root, "state"), creds}, []string{mine},
		`cat `+secret+` `+other+` 2>&1; ls -R `+filepath.Join(root, "state")+`; echo "creds:[$(cat `+creds+`)]"; cat `+filepath.Join(mine, "in")+`; echo; echo written > `+filepath.Join(mine, "out"))
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "SECRET-ledger", "a hidden file was read")
	require.NotContains(t, out, "SECRET-plan.tfplan", "another plan's file was read")
	require.NotContains(t, out, "SECRET-creds", "a hidden file was read")
	require.NotContains(t, out, "\nother\n", "a hidden directory's entries were listed")
	require.Contains(t, out, "creds:[]")
	require.Contains(t, out, "SECRET-in", "the kept directory is not readable")
	b, err := os.ReadFile(filepath.Join(mine, "out"))
	require.NoError(t, err, "what the program wrote in the kept directory did not land")
	require.Equal(t, "written\n", string(b))
	// Nothing changed outside.
	b, err = os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, "SECRET-ledger.jsonl", string(b))
}

func TestMountsCannotBeUndone(t *testing.T) {
	root := t.TempDir()
	hidden := filepath.Join(root, "state")
	require.NoError(t, os.MkdirAll(hidden, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(hidden, "audit.jsonl"), []byte("SECRET-audit"), 0o600))
	// umount(2) itself, not umount(8), which reads mtab first.
	py := `import ctypes,os; libc=ctypes.CDLL(None,use_errno=True)
for flags in (0, 2):
    r = libc.umount2(b"` + hidden + `", flags); print("umount2", flags, r, os.strerror(ctypes.get_errno()))`
	out, _ := sh(t, []string{hidden}, nil,
		`python3 -c '`+py+`' 2>&1; mount -t proc proc /proc 2>&1; unshare -r -m python3 -c '`+py+`' 2>&1; cat `+hidden+`/audit.jsonl 2>&1; id -u`)
	require.Contains(t, out, "umount2 0 -1", "umount(2) was not even tried:\n%s", out)
	require.NotContains(t, out, "SECRET-audit", "the sandbox's mounts were undone from inside:\n%s", out)
	require.Contains(t, out, strings.TrimSpace(itoa(os.Getuid())), "the program does not run as the caller's uid")
}

func TestOnlyItsOwnProcesses(t *testing.T) {
	out, code := sh(t, nil, nil, `ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/`+itoa(os.Getpid())+`/environ 2>&1 | head -c 100; echo`)
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.LessOrEqual(t, atoi(t, lines[0]), 5, "the sandbox sees processes outside it:\n%s", out)
	require.NotContains(t, out, "PATH=", "the caller's environment is readable through /proc")

	// The sandbox's own first process (it made the mounts) is out of
	// reach too: its root and cwd would lead around them.
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "secret"), []byte("SECRET-behind"), 0o600))
	out, _ = sh(t, []string{root}, nil, `cat /proc/1/environ 2>&1; echo; cat /proc/1/root`+root+`/secret 2>&1; cat /proc/1/cwd/secret 2>&1; ls /proc/1/fd 2>&1`)
	require.NotContains(t, out, "PATH=", "the sandbox's first process's environment is readable:\n%s", out)
	require.NotContains(t, out, "SECRET-behind", "a hidden file is readable through /proc/1:\n%s", out)
	require.Contains(t, out, "Permission denied")
}

func TestExitStatusAndSignals(t *testing.T) {
	out, code := sh(t, nil, nil, `exit 7`)
	require.Equal(t, 7, code, out)

	exe, err := os.Executable()
	require.NoError(t, err)
	dir := t.TempDir()
	mark := filepath.Join(dir, "got-int")
	path, argv, env, err := sandbox.Command(exe, sandbox.Spec{Path: "/bin/sh"},
		[]string{"-c", `trap 'echo int > ` + mark + `; exit 3' INT; echo ready; while :; do sleep 0.05; done`}, os.Environ())
	require.NoError(t, err)
	cmd := exec.Command(path, argv[1:]...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 6)
	_, err = stdout.Read(buf)
	require.NoError(t, err)
	require.Equal(t, "ready\n", string(buf))
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	err = cmd.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, 3, ee.ExitCode(), "SIGINT did not reach the program once, gracefully")
	b, err := os.ReadFile(mark)
	require.NoError(t, err)
	require.Equal(t, "int\n", string(b))
}

func TestNoProgram(t *testing.T) {
	_, _, _, err := sandbox.Command("/bin/true", sandbox.Spec{}, nil, nil)
	require.Error(t, err)
}
