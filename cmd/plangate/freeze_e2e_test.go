package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/freeze"
	"github.com/plangate/plangate/internal/tftest"
)

// killSwitch is a project with one approver, oncall, whose
// passphrase-protected key is in the key directory where approve and
// unfreeze look by default; and the key of mallory, who is no approver.
type killSwitch struct {
	t                       *testing.T
	dir, cfg, stateDir      string
	keyDir, emptyKeyDir     string
	oncallKey, malloryKey   string
	passFile, wrongPassFile string
}

const oncallPassphrase = "correct horse battery staple"

func newKillSwitch(t *testing.T) *killSwitch {
	t.Helper()
	tftest.Setup(t) // the test's own $XDG_STATE_HOME, for the default state_dir
	k := &killSwitch{t: t, dir: filepath.Join(t.TempDir(), "proj"), keyDir: t.TempDir(), emptyKeyDir: t.TempDir()}
	k.cfg = filepath.Join(k.dir, "plangate.hcl")
	k.oncallKey = filepath.Join(k.keyDir, "oncall.key")
	k.malloryKey = filepath.Join(t.TempDir(), "mallory.key")
	k.passFile = filepath.Join(t.TempDir(), "pass")
	k.wrongPassFile = filepath.Join(t.TempDir(), "wrong")
	require.NoError(t, os.WriteFile(k.passFile, []byte(oncallPassphrase+"\n"), 0o600))
	require.NoError(t, os.WriteFile(k.wrongPassFile, []byte("not the passphrase\n"), 0o600))

	_, stderr, code := k.run("init", k.dir)
	require.Equal(t, 0, code, stderr)
	k.stateDir = stateDir(t, k.dir)
	out, stderr, code := k.run("keygen", "--name", "oncall", "--passphrase-file", k.passFile)
	require.Equal(t, 0, code, stderr)
	require.FileExists(t, k.oncallKey, "keygen writes to the key dir by default")
	block := out[strings.Index(out, `approver "oncall" {`):]
	f, err := os.OpenFile(k.cfg, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + block)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	_, stderr, code = k.run("keygen", "--name", "mallory", "--out", k.malloryKey)
	require.Equal(t, 0, code, stderr)
	return k
}

// run runs the binary with the key directory set and $PLANGATE_KEY unset,
// and without a terminal to prompt on.
func (k *killSwitch) run(args ...string) (stdout, stderr string, code int) {
	return k.runIn(k.keyDir, args...)
}

func (k *killSwitch) runIn(keyDir string, args ...string) (stdout, stderr string, code int) {
	k.t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PLANGATE_KEY=") && !strings.HasPrefix(kv, "PLANGATE_KEY_DIR=") && !strings.HasPrefix(kv, "PLANGATE_CONFIG=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PLANGATE_KEY_DIR="+keyDir)
	cmd.SysProcAttr = noControllingTTY()
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(k.t, err)
	}
	return o.String(), e.String(), code
}

// frozen reports whether stack's own freeze ("" the all-stacks one) is in
// force.
func (k *killSwitch) frozen(stack string) bool {
	k.t.Helper()
	f, err := freeze.Check(k.stateDir, stack)
	require.NoError(k.t, err)
	return f != nil && f.Stack == stack
}

// auditEvents returns the audit log's events.
func (k *killSwitch) auditEvents() []map[string]any {
	k.t.Helper()
	out, stderr, code := k.run("audit", "--json", "--config", k.cfg)
	require.Equal(k.t, 0, code, stderr)
	var evs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev map[string]any
		require.NoError(k.t, json.Unmarshal([]byte(line), &ev), line)
		evs = append(evs, ev)
	}
	return evs
}

func (k *killSwitch) unfreezeEvents() []map[string]any {
	var out []map[string]any
	for _, ev := range k.auditEvents() {
		if ev["event"] == "unfreeze" {
			out = append(out, ev)
		}
	}
	return out
}

// Anyone may freeze; only an approver's key lifts the freeze, of one stack
// or of all of them. Every refusal leaves the freeze in force, audits
// nothing, and says what to do.
func TestUnfreezeNeedsAnApproversKey(t *testing.T) {
	for _, tc := range []struct {
		name, stack, what, command string
	}{
		{name: "one stack", stack: "web", what: "stack web", command: "plangate unfreeze web --key <file>"},
		{name: "all stacks", stack: "", what: "all stacks", command: "plangate unfreeze --key <file>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKillSwitch(t)
			args := func(extra ...string) []string {
				a := []string{"unfreeze", "--config", k.cfg}
				if tc.stack != "" {
					a = append(a, tc.stack)
				}
				return append(a, extra...)
			}
			freezeArgs := []string{"freeze", "--config", k.cfg, "--reason", "incident 4411"}
			if tc.stack != "" {
				freezeArgs = append(freezeArgs, tc.stack)
			}
			out, stderr, code := k.run(freezeArgs...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, out, strings.Replace(tc.command, "<file>", "<approver key file>", 1), "the freeze says how it is lifted")
			require.True(t, k.frozen(tc.stack))

			refusals := []struct {
				name   string
				keyDir string
				args   []string
				want   []string
			}{
				{name: "no key given and none in the key dir", keyDir: k.emptyKeyDir, args: args(),
					want: []string{"unfreeze needs an approver's key: " + tc.command, k.emptyKeyDir}},
				{name: "the key of someone who is no approver", keyDir: k.keyDir, args: args("--key", k.malloryKey),
					want: []string{"key " + k.malloryKey + " is not an approver of this config", `"mallory"`}},
				{name: "a wrong passphrase", keyDir: k.keyDir, args: args("--key", k.oncallKey, "--passphrase-file", k.wrongPassFile),
					want: []string{"wrong passphrase"}},
				{name: "no passphrase and no terminal", keyDir: k.keyDir, args: args("--key", k.oncallKey),
					want: []string{"--passphrase-file"}},
				{name: "another approver's name asked for", keyDir: k.keyDir, args: args("--key", k.oncallKey, "--passphrase-file", k.passFile, "--approver", "lead"),
					want: []string{`holds the key of approver "oncall", not "lead"`}},
				{name: "a key file that does not exist", keyDir: k.keyDir, args: args("--key", filepath.Join(k.keyDir, "nope.key")),
					want: []string{"does not exist"}},
			}
			for _, r := range refusals {
				t.Run(r.name, func(t *testing.T) {
					out, stderr, code := k.runIn(r.keyDir, r.args...)
					assert.Equal(t, 1, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
					assert.Contains(t, stderr, "not unfrozen, "+tc.what+" stays frozen")
					for _, w := range r.want {
						assert.Contains(t, stderr, w)
					}
					assert.NotContains(t, out+stderr, oncallPassphrase)
					assert.True(t, k.frozen(tc.stack), "the freeze stays")
					assert.Empty(t, k.unfreezeEvents(), "nothing unfrozen, nothing audited")
				})
			}

			// An impostor key under the approver's name does not match the
			// public key in the config.
			impostor := filepath.Join(t.TempDir(), "oncall.key")
			_, stderr, code = k.run("keygen", "--name", "oncall", "--out", impostor)
			require.Equal(t, 0, code, stderr)
			_, stderr, code = k.run(args("--key", impostor)...)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, "is not an approver of this config")
			assert.Contains(t, stderr, `does not match approver "oncall"'s public_key`)
			assert.True(t, k.frozen(tc.stack))

			// The approver's key, found where approve finds it (the key dir),
			// lifts the freeze; the audit names the approver.
			out, stderr, code = k.run(args("--passphrase-file", k.passFile)...)
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr)
			assert.Contains(t, out, tc.what+" unfrozen by approver oncall: applies are allowed again")
			assert.False(t, k.frozen(tc.stack), "the freeze is lifted")
			assert.NotContains(t, out+stderr, oncallPassphrase)
			assert.NotContains(t, out+stderr, "pgr1.", "the signed request is not printed")

			evs := k.unfreezeEvents()
			require.Len(t, evs, 1)
			ev := evs[0]
			assert.Equal(t, "oncall", ev["actor"], "the approver is the actor")
			if tc.stack != "" {
				assert.Equal(t, tc.stack, ev["stack"])
			} else {
				assert.NotContains(t, ev, "stack")
			}
			fps, _ := ev["token_fingerprints"].([]any)
			require.Len(t, fps, 1, "the request's fingerprint is on the record")
			assert.Regexp(t, `^sha256:[0-9a-f]{16}$`, fps[0])

			text, stderr, code := k.run("audit", "--config", k.cfg)
			require.Equal(t, 0, code, stderr)
			assert.Regexp(t, `unfreeze +`+map[bool]string{true: "stack=" + tc.stack + " ", false: ""}[tc.stack != ""]+`by=oncall`, text)
			log, err := os.ReadFile(filepath.Join(k.stateDir, "audit.jsonl"))
			require.NoError(t, err)
			assert.NotContains(t, string(log), "pgr1.")
			assert.NotContains(t, string(log), oncallPassphrase)
			_, stderr, code = k.run("audit", "verify", "--config", k.cfg)
			assert.Equal(t, 0, code, stderr)

			// Nothing left to lift: nothing to sign.
			out, stderr, code = k.runIn(k.emptyKeyDir, args()...)
			assert.Equal(t, 0, code, stderr)
			assert.Contains(t, out, tc.what+" was not frozen")
			assert.Len(t, k.unfreezeEvents(), 1)
		})
	}
}

// A stack's freeze and the all-stacks freeze are lifted separately, each
// with the approver's key.
func TestUnfreezeOneStackLeavesTheAllStacksFreeze(t *testing.T) {
	k := newKillSwitch(t)
	for _, args := range [][]string{{"web"}, {}} {
		_, stderr, code := k.run(append([]string{"freeze", "--config", k.cfg, "--reason", "outage"}, args...)...)
		require.Equal(t, 0, code, stderr)
	}
	out, stderr, code := k.run("unfreeze", "--config", k.cfg, "--key", k.oncallKey, "--passphrase-file", k.passFile, "web")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "stack web unfrozen by approver oncall")
	assert.Contains(t, out, "note: all stacks are frozen")
	assert.Contains(t, out, "plangate unfreeze --key <approver key file>")
	assert.False(t, k.frozen("web"))
	assert.True(t, k.frozen(""))

	out, stderr, code = k.runIn(k.emptyKeyDir, "unfreeze", "--config", k.cfg, "web")
	assert.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "stack web was not frozen")
	assert.Contains(t, out, "note: all stacks are frozen")

	_, stderr, code = k.runIn(k.emptyKeyDir, "unfreeze", "--config", k.cfg)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "unfreeze needs an approver's key: plangate unfreeze --key <file>")
	assert.True(t, k.frozen(""))

	// $PLANGATE_KEY is the approver's key as for approve.
	cmd := exec.Command(binary, "unfreeze", "--config", k.cfg, "--passphrase-file", k.passFile)
	cmd.Env = append(os.Environ(), "PLANGATE_KEY="+k.oncallKey, "PLANGATE_KEY_DIR="+k.emptyKeyDir)
	cmd.SysProcAttr = noControllingTTY()
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, string(b))
	assert.Contains(t, string(b), "all stacks unfrozen by approver oncall")
	assert.False(t, k.frozen(""))
	assert.Len(t, k.unfreezeEvents(), 2)
}

func TestFreezeAndUnfreezeHelp(t *testing.T) {
	k := &killSwitch{t: t, keyDir: t.TempDir()}
	out, _, code := k.run("freeze", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Anyone may freeze")
	assert.Contains(t, out, "plangate unfreeze [stack] --key <file>")
	out, _, code = k.run("unfreeze", "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Only an approver can")
	for _, flag := range []string{"-key", "-passphrase-file", "-approver", "$PLANGATE_KEY"} {
		assert.Contains(t, out, flag)
	}
}
