// Package approvals will own approver keys (Ed25519), approval tokens
// (issue and verify), policy evaluation and the single-use nonce ledger.
//
// It is empty in this release: plans are recorded with the approvals they
// need (plan.Verdict), and plan.Planner takes a PolicyFunc that this
// package will provide, so that apply_plan can be added without changing
// the plan package's callers.
package approvals
