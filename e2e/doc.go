// Package e2e tests the real plangate binary with MCP clients we did not
// write: the official TypeScript SDK and the MCP Inspector CLI (Node
// packages pinned in clients/package-lock.json, installed by
// `make e2e-deps`), and a hostile raw-stdio client in Go.
//
// The package holds only tests; run them with `go test ./e2e/`.
package e2e
