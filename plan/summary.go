// Package plan owns everything plangate does with Terraform: running it
// (init, plan, show), analysing the plan JSON it produces, rendering a
// reviewable diff, and keeping a record of every plan on disk.
package plan

import (
	"time"

	"github.com/plangate/plangate/internal/tfbin"
)

// Status is the lifecycle state of a plan record.
type Status string

// Plan statuses. Only StatusAwaitingApproval can ever be approved or applied.
const (
	StatusAwaitingApproval Status = "awaiting_approval"
	StatusNoChanges        Status = "no_changes"
	StatusBlocked          Status = "blocked"
	StatusApplied          Status = "applied"
	StatusFailed           Status = "failed"
	StatusDiscarded        Status = "discarded"
	StatusExpired          Status = "expired"
	StatusSuperseded       Status = "superseded"
	// StatusInterrupted is an apply stopped part-way (cancelled, or the
	// server shut down): Terraform stopped gracefully; the state says
	// what exists.
	StatusInterrupted Status = "interrupted"
	// StatusTampered is a plan whose file does not do what its record
	// says: one of them was changed after the plan was made.
	StatusTampered Status = "tampered"
	// StatusApplying is a plan whose apply started: it is written before
	// Terraform starts, and a plan that has had it is never approved or
	// applied again. It ends applied, failed or interrupted, recorded by
	// the plangate that ran the apply or, if that one died, by the next
	// one that reads the apply's journal.
	StatusApplying Status = "applying"
)

// Statuses lists every status a plan can have (StatusCorrupt: in listings only).
var Statuses = []Status{
	StatusAwaitingApproval, StatusNoChanges, StatusBlocked, StatusApplied, StatusFailed,
	StatusDiscarded, StatusExpired, StatusSuperseded, StatusInterrupted, StatusTampered, StatusApplying,
	StatusDriftCheck, StatusCorrupt,
}

// Counts are the per-action figures of a plan. Add, Change and Destroy equal
// Terraform's own "Plan: N to add, N to change, N to destroy" line (a
// replacement adds one and destroys one); the others are reported apart.
type Counts struct {
	Add     int `json:"add"`
	Change  int `json:"change"`
	Destroy int `json:"destroy"`
	Replace int `json:"replace"`
	Import  int `json:"import"`
	Move    int `json:"move"`
	Forget  int `json:"forget"`
	Read    int `json:"read"`
}

// Deletion is one resource instance that the plan destroys.
type Deletion struct {
	Address string `json:"address"`
	// PreviousAddress is the address the instance had before a moved
	// block (or a module rename) gave it Address.
	PreviousAddress string `json:"previous_address,omitempty"`
	// Action is "delete" or "replace".
	Action string `json:"action"`
	// Actions are Terraform's own actions for the change, such as
	// ["delete","create"] or ["create","delete"].
	Actions []string `json:"actions"`
	// Reason is Terraform's action_reason, when it gives one.
	Reason string `json:"reason,omitempty"`
	// Deposed is set when the object destroyed is a deposed object.
	Deposed string `json:"deposed,omitempty"`
}

// Summary is the one shape of a plan that every consumer shares: the
// structured content of plan_change and get_plan, the CLI and the audit log.
type Summary struct {
	PlanID            string     `json:"plan_id" jsonschema:"the plan id; any unique prefix of 8+ characters also names the plan"`
	Stack             string     `json:"stack"`
	Status            Status     `json:"status" jsonschema:"awaiting_approval, no_changes, blocked, applied, failed, discarded, expired, superseded, interrupted, tampered or applying (its apply started: never approved or applied again); only awaiting_approval can be approved"`
	Counts            Counts     `json:"counts" jsonschema:"Terraform's own add/change/destroy figures, and replace/import/move/forget/read reported apart"`
	Deletions         int        `json:"deletions" jsonschema:"exact number of resource instances this plan destroys (plain deletes, replacements in either order, deposed objects); equals counts.destroy"`
	Deleted           []Deletion `json:"deleted" jsonschema:"every deleted instance (up to 50 per tool result; see deleted_groups and next_deletions_offset)"`
	DeletedGroups     []Group    `json:"deleted_groups,omitempty" jsonschema:"every deletion grouped by module and resource type, with exact counts, when a result does not list them all"`
	DeletedTruncated  bool       `json:"deleted_truncated,omitempty"`
	Drift             []Drift    `json:"drift,omitempty" jsonschema:"changes made outside Terraform that the refresh found; not actions of this plan"`
	Warnings          []string   `json:"warnings,omitempty"`
	Errors            []string   `json:"errors,omitempty"`
	RunsCode          []CodeRun  `json:"runs_code" jsonschema:"code this plan runs besides the providers: provisioners of instances it creates or destroys, external data sources, providers outside the allowed sources; none of it shows in the counts"`
	ProtectedHits     []string   `json:"protected_hits"`
	BlockedReasons    []string   `json:"blocked_reasons" jsonschema:"why policy blocks this plan; a blocked plan can never be approved"`
	ApprovalsRequired int        `json:"approvals_required" jsonschema:"distinct human approvals apply_plan needs"`
	Diff              string     `json:"diff" jsonschema:"Terraform-style diff, deletions first, sensitive values masked; one page of it (empty in a tool result whose text carries the page: diff_in_text)"`
	// DiffInText is set in a tool result whose text block carries the
	// diff page, so that the page is sent once; Diff is then empty.
	DiffInText          bool         `json:"diff_in_text,omitempty" jsonschema:"the diff page is in the result's text block, not in diff (get_plan with structured_diff puts it in diff)"`
	DiffTruncated       bool         `json:"diff_truncated" jsonschema:"true when the diff continues: call get_plan with offset = next_offset"`
	DiffOffset          int          `json:"diff_offset,omitempty"`
	DiffTotal           int          `json:"diff_total_bytes"`
	DeletedOffset       int          `json:"deleted_offset,omitempty"`
	NextDeletionsOffset int          `json:"next_deletions_offset,omitempty"`
	NextOffset          int          `json:"next_offset,omitempty"`
	PlanSHA256          string       `json:"plan_sha256,omitempty" jsonschema:"SHA-256 of the saved plan file that approvals sign"`
	CreatedAt           time.Time    `json:"created_at"`
	ExpiresAt           time.Time    `json:"expires_at"`
	ApproveCommand      string       `json:"approve_command,omitempty" jsonschema:"what a human runs to approve this plan"`
	AWS                 *AWSIdentity `json:"aws,omitempty" jsonschema:"the AWS identity the plan ran as, checked with STS before Terraform started (stacks with an aws block only)"`
	Inputs              []Input      `json:"inputs" jsonschema:"every variable the agent may set, with the value this plan used and its origin; a variable left out keeps the value of the stack's last applied plan (last_applied), unless a var file sets it; null resets it"`
	// Omitted says what a tool result left out to stay within its size
	// bound, and where to read it.
	Omitted []string `json:"omitted,omitempty" jsonschema:"what this result leaves out to fit its size bound, and where to read it"`

	// headline is fixed by Page so that every page of a plan starts with
	// the same line, whatever page of deletions it carries.
	headline string
	// product made the plan; the report names it.
	product tfbin.Product
}

// Summary is the plan as every consumer sees it, derived from the record
// as of now: the effective status (a pending plan past its expiry is
// expired), every deletion, and the approve command only while the plan
// can be approved. It carries no diff: Page adds one page of it.
func (r *Record) Summary(now time.Time) Summary {
	s := Summary{
		PlanID: r.ID, Stack: r.Stack, Status: r.EffectiveStatus(now),
		Counts: r.Counts, Deletions: len(r.Deleted), Deleted: nonNil(r.Deleted), Drift: r.Drift,
		Warnings: r.Warnings, Errors: r.Errors, RunsCode: nonNil(r.RunsCode),
		ProtectedHits: nonNil(r.ProtectedHits), BlockedReasons: nonNil(r.BlockedReasons), ApprovalsRequired: r.ApprovalsRequired,
		PlanSHA256: r.PlanSHA256, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, AWS: r.AWS,
		product: r.Product,
	}
	s.Inputs = nonNil(r.Inputs)
	if s.Status == StatusAwaitingApproval {
		s.ApproveCommand = "plangate approve " + r.ID
	}
	return s
}

// nonNil returns s, or an empty slice for nil: the summary's lists are
// always JSON arrays.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Group counts deletions that share a module path and resource type; used
// when a plan deletes too many instances to list one by one.
type Group struct {
	Module string `json:"module,omitempty"`
	Type   string `json:"type"`
	Count  int    `json:"count"`
}

// Drift is a change Terraform detected between the state and the real
// infrastructure during refresh; it is reported apart from planned changes.
type Drift struct {
	Address string   `json:"address"`
	Actions []string `json:"actions"`
}

// AWSIdentity is who Terraform acted as on an AWS stack, as STS
// GetCallerIdentity reported it before the run (awsguard).
type AWSIdentity struct {
	Account string `json:"account" jsonschema:"the AWS account id"`
	ARN     string `json:"arn" jsonschema:"the caller: the assumed role's session ARN when plangate assumed a role"`
	// RoleARN is the role plangate assumed; AssumedBy plangate's own
	// identity, which assumed it.
	RoleARN   string `json:"role_arn,omitempty" jsonschema:"the role plangate assumed for the run"`
	AssumedBy string `json:"assumed_by,omitempty" jsonschema:"plangate's own identity, which assumed the role"`
}

// String is the identity in one line: "account 123456789012 as arn:...".
func (a *AWSIdentity) String() string {
	if a == nil {
		return ""
	}
	s := "account " + a.Account + " as " + a.ARN
	if a.RoleARN != "" {
		s += " (role " + a.RoleARN + ", assumed by " + a.AssumedBy + ")"
	}
	return s
}
