package main_test

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/plangate/plangate/internal/startgc"
)

// gcLine is a line of GODEBUG=gctrace=1: "gc 1 @0.014s 3%: ...", the
// collection's number and its start, in seconds since the process began.
var gcLine = regexp.MustCompile(`(?m)^gc (\d+) @([0-9.]+)s`)

// `plangate serve` answers initialize and tools/list before its first
// garbage collection: package initialisation leaves ~3 MB of garbage, and
// a collection there cost 2–3 ms of the start-up an MCP client waits for
// (internal/startgc; docs/performance.md). A collection after the answer,
// or after startgc.Window on a loaded machine, is allowed.
func TestServeStartsWithoutCollecting(t *testing.T) {
	dir := project(t)
	start := time.Now()
	r := serveWithEnv(t, dir, append(os.Environ(), "GODEBUG=gctrace=1"))
	r.initialized()
	list := r.request("tools/list", map[string]any{})
	answered := time.Since(start)
	require.Nil(t, list["error"], "tools/list")
	require.NotEmpty(t, list["result"].(map[string]any)["tools"])
	require.NoError(t, r.stop())

	limit := min(answered, startgc.Window)
	stderr := r.stderr.String()
	for _, m := range gcLine.FindAllStringSubmatch(stderr, -1) {
		at, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, at, limit.Seconds(),
			"garbage collection %s ran %.1f ms into the process, before the tools/list answer (%.1f ms): a package's init or serve's start-up allocates more than it did (GODEBUG=inittrace=1 plangate version lists each init's bytes)\n%s",
			m[1], at*1000, float64(answered.Microseconds())/1000, stderr)
	}
	t.Logf("tools/list answered %v after start; %d collections in the process's life", answered.Round(time.Millisecond), len(gcLine.FindAllString(stderr, -1)))
}

// initLine is a line of GODEBUG=inittrace=1: a package's init, its time
// and what it allocated.
var initLine = regexp.MustCompile(`(?m)^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, (\d+) bytes`)

// plangate's own packages do little at init: a regexp with a counted
// repetition compiled there (review's approver names, {0,63}) took 1.5 ms
// and 60 KB of every start; such patterns compile on first use
// (internal/lazyre). Today the heaviest, plan, allocates 17–55 KB (its
// regexps and tables); all of them together stay within 128 KB.
func TestOwnPackagesInitLightly(t *testing.T) {
	cmd := exec.Command(binary, "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	const budget, ownBudget = 64 << 10, 128 << 10
	var own, total int
	for _, m := range initLine.FindAllStringSubmatch(string(out), -1) {
		n, err := strconv.Atoi(m[3])
		require.NoError(t, err)
		total += n
		if strings.HasPrefix(m[1], "github.com/plangate/plangate") {
			own += n
			assert.LessOrEqual(t, n, budget, "init of %s allocates %d bytes (%s ms): compute it on first use instead", m[1], n, m[2])
		}
	}
	require.NotZero(t, total, "no inittrace lines in:\n%s", out)
	assert.LessOrEqual(t, own, ownBudget, "plangate's own packages allocate %d bytes at init", own)
	t.Logf("package initialisation allocates %d bytes, plangate's own packages %d", total, own)
}
