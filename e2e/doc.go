// Package e2e tests the real plangate binary with MCP clients we did not
// write: the official TypeScript SDK and the MCP Inspector CLI (Node
// packages pinned in clients/package-lock.json, installed by
// `make e2e-deps`), a hostile raw-stdio client in Go, and the review page
// in Debian's Chromium driven by playwright-core (`make browser-deps`).
//
// The package holds only tests; run them with `go test ./e2e/`.
package e2e
