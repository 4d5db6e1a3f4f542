// Package startgc defers a plangate process's first garbage collections
// past its start-up. Import it (for its init) from package main only.
//
// Package initialisation leaves about 3 MB of garbage: mcp-go's JSON
// Schema validator compiles its meta-schemas into 1.7 MB, the AWS SDK
// builds its endpoint tables, go-cmp (through hcl) its own. That is the
// collector's 4 MB starting goal: a collection ran during the last inits
// or while `plangate serve` opened its config, 2–3 ms of the ~25 ms an MCP
// client waits for the tools/list answer (docs/performance.md). The Go
// compiler defers its first collections the same way.
//
// Go initialises packages in import-path order, each once its imports
// are (the spec, since Go 1.21): this package imports only the runtime's
// own, so it runs before mcp-go's validator and the AWS SDK. Should a
// dependency that sorts earlier grow heavy, start-up is collected again,
// which cmd/plangate's TestServeStartsWithoutCollecting reports.
package startgc

import (
	"runtime/debug"
	"time"
)

// Window is how long a process runs with the raised GOGC: well past any
// start-up, well short of a plan's work.
const Window = time.Second

// percent lets the heap grow to 16 MB (4 MB × 400%) before the first
// collection, instead of 4 MB.
const percent = 400

func init() { Defer(Window) }

// Defer raises GOGC to 400 for d, then restores it to what it was (the
// GOGC environment variable, or 100). GOGC=off stays off, and a GOGC
// already above 400 is left alone.
func Defer(d time.Duration) {
	prev := debug.SetGCPercent(percent)
	if prev < 0 || prev >= percent {
		debug.SetGCPercent(prev)
		return
	}
	time.AfterFunc(d, func() { debug.SetGCPercent(prev) })
}
