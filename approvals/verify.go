package approvals

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plangate/plangate/config"
)

// RefusalError is a refusal to apply: Reason says what is wrong and what the
// human can do about it. It never quotes a token.
type RefusalError struct{ Reason string }

func (e *RefusalError) Error() string { return e.Reason }

func refusef(format string, args ...any) *RefusalError {
	return &RefusalError{Reason: fmt.Sprintf(format, args...)}
}

// PlanFacts are what the approvals must match: the plan record, and the
// SHA-256 of the plan file as re-hashed just before apply.
type PlanFacts struct {
	ID, Stack, SHA256 string
	ExpiresAt         time.Time
	// Required is the number of distinct approvers the plan needs; values
	// below 1 count as 1.
	Required int
}

// Verified is the outcome of a successful Verify.
type Verified struct {
	// Approvers are the distinct approvers, in the order their first token
	// was given.
	Approvers []string
	// Fingerprints name every token given, in order; safe to log.
	Fingerprints []string
	// Uses are what Ledger.Consume must record before Terraform starts.
	Uses []NonceUse
}

const (
	// ClockSkew is how far in the future a token's issue time may be: the
	// approver's clock may run a little ahead of the server's.
	ClockSkew = 2 * time.Minute
	// MaxTokens bounds the tokens one apply may present.
	MaxTokens = 16
)

// Verify checks that tokens approve the plan described by facts: each
// parses; its approver is one of approvers and signed it; it names this
// plan, stack and plan file; it has not expired and does not outlive the
// plan; its nonce is not in the ledger (nil ledger: not checked here); and
// the distinct approvers reach facts.Required. Any failure is a
// *RefusalError. Verify records nothing: the caller calls Ledger.Consume
// with Verified.Uses after all its other checks, before Terraform starts.
func Verify(tokens []string, facts PlanFacts, approvers []*config.Approver, ledger *Ledger, now time.Time) (*Verified, error) {
	if facts.ID == "" || facts.Stack == "" || facts.SHA256 == "" || facts.ExpiresAt.IsZero() {
		return nil, errors.New("verify approvals: plan facts are incomplete")
	}
	required := max(facts.Required, 1)
	approveCmd := "plangate approve " + facts.ID
	if len(tokens) == 0 {
		return nil, refusef("plan %s needs approval from %s before it can be applied, and no approval token was given: "+
			"ask a human approver to run `%s`, then pass the token it prints on its last line in approval_tokens",
			facts.ID, approverCount(required), approveCmd)
	}
	if len(tokens) > MaxTokens {
		return nil, refusef("%d approval tokens were given, more than the %d one apply accepts: pass one token per approver", len(tokens), MaxTokens)
	}
	if !now.Before(facts.ExpiresAt) {
		return nil, refusef("plan %s expired at %s and can no longer be applied: ask the agent to plan the change again, and approve the new plan",
			facts.ID, stamp(facts.ExpiresAt))
	}

	keys := make(map[string]*config.Approver, len(approvers))
	for _, a := range approvers {
		if a != nil {
			keys[a.Name] = a
		}
	}

	v := &Verified{}
	tokensBy := map[string]int{}     // approver -> tokens counted
	nonceAt := map[string]int{}      // nonce -> token number
	counterAt := map[string]uint32{} // passkey -> sign counter of its last token so far
	for i, text := range tokens {
		n := i + 1
		label := fmt.Sprintf("approval token %d", n)
		if len(tokens) == 1 {
			label = "the approval token"
		}
		tok, err := Parse(text)
		if err != nil {
			var ref *RefusalError
			if errors.As(err, &ref) {
				return nil, refusef("%s is not valid: %s", label, strings.TrimPrefix(ref.Reason, tokenInvalid))
			}
			return nil, err
		}
		c := tok.Claims
		a, ok := keys[c.Approver]
		if !ok {
			return nil, refusef("%s (%s) is signed as approver %q, who is not an approver in plangate.hcl (approvers: %s): "+
				"only configured approvers can approve; ask one of them to run `%s`",
				label, tok.Fingerprint(), c.Approver, approverNames(approvers), approveCmd)
		}
		pk, err := tok.VerifyBy(a)
		if err != nil {
			return nil, refusef("%s (%s) claims to be from %s, but %s; ask %s to approve plan %s again (%s) and pass the new token unchanged",
				label, tok.Fingerprint(), c.Approver, err, c.Approver, facts.ID, approveHow(a, approveCmd))
		}
		switch {
		case c.PlanID != facts.ID:
			return nil, refusef("%s from %s is for plan %s, not %s: an approval counts only for the plan it names; ask for an approval of this plan with `%s`",
				label, c.Approver, c.PlanID, facts.ID, approveCmd)
		case c.Stack != facts.Stack:
			return nil, refusef("%s from %s is for stack %s, not stack %s: ask for an approval of this plan with `%s`",
				label, c.Approver, c.Stack, facts.Stack, approveCmd)
		case c.PlanSHA256 != facts.SHA256:
			return nil, refusef("%s from %s does not match: the plan file changed since approval (approved SHA-256 %s…, now %s…), "+
				"so what was approved is not what would be applied; ask the agent to plan again and have the new plan approved",
				label, c.Approver, c.PlanSHA256[:12], short(facts.SHA256))
		}
		iat, exp := time.Unix(c.IssuedAt, 0), time.Unix(c.ExpiresAt, 0)
		switch {
		case iat.After(now.Add(ClockSkew)):
			return nil, refusef("%s from %s was issued at %s, which is in the future (now %s): the approver's clock or this machine's clock is wrong; fix the clock and ask %s to approve again",
				label, c.Approver, stamp(iat), stamp(now), c.Approver)
		case !now.Before(exp):
			return nil, refusef("%s from %s expired at %s: ask %s to run `%s` again for a fresh token",
				label, c.Approver, stamp(exp), c.Approver, approveCmd)
		case exp.After(facts.ExpiresAt):
			return nil, refusef("%s from %s expires at %s, after the plan itself (%s): plangate never issues such tokens; ask %s to run `%s` again",
				label, c.Approver, stamp(exp), stamp(facts.ExpiresAt), c.Approver, approveCmd)
		}
		if first, dup := nonceAt[c.Nonce]; dup {
			return nil, refusef("%s is the same approval as token %d (from %s): pass each token once, and one token per approver", label, first, c.Approver)
		}
		nonceAt[c.Nonce] = n
		if ledger != nil {
			prev, err := ledger.lookup(c.Nonce)
			if err != nil {
				return nil, err
			}
			if prev != nil {
				return nil, replayRefusal(label, prev, approveHow(a, approveCmd))
			}
		}
		use := NonceUse{Nonce: c.Nonce, Approver: c.Approver, PlanID: c.PlanID, Fingerprint: tok.Fingerprint()}
		if pk != nil {
			use.Credential, use.SignCount = pk.Credential, pk.Counter
			last, seen := counterAt[pk.Credential] // an earlier token of this apply
			if !seen && ledger != nil {
				if last, err = ledger.lastCounter(pk.Credential); err != nil {
					return nil, err
				}
			}
			if p := counterProblem(last, pk.Counter); p != "" && (seen || ledger != nil) {
				return nil, refusef("%s from %s is refused: %s; if %s did not approve this twice, treat the passkey as compromised and remove it from plangate.hcl",
					label, c.Approver, p, c.Approver)
			}
			counterAt[pk.Credential] = pk.Counter
		}
		if tokensBy[c.Approver] == 0 {
			v.Approvers = append(v.Approvers, c.Approver)
		}
		tokensBy[c.Approver]++
		v.Fingerprints = append(v.Fingerprints, tok.Fingerprint())
		v.Uses = append(v.Uses, use)
	}

	if len(v.Approvers) < required {
		for _, name := range v.Approvers {
			if tokensBy[name] > 1 {
				return nil, refusef("%s approved twice; this plan needs %d different approvers: a second approval by the same person does not count; "+
					"ask another approver to run `%s`", name, required, approveCmd)
			}
		}
		return nil, refusef("this plan needs %d different approvers and has %d (%s): ask another approver to run `%s` and pass all the tokens together",
			required, len(v.Approvers), strings.Join(v.Approvers, ", "), approveCmd)
	}
	return v, nil
}

// approveHow is how approver a makes a new token: the plangate approve
// command for a key, the review page for a passkey.
func approveHow(a *config.Approver, approveCmd string) string {
	if a.Passkey != nil {
		return "on the review page, plangate review"
	}
	return "`" + approveCmd + "`"
}

func replayRefusal(label string, use *NonceUse, approveCmd string) *RefusalError {
	return refusef("%s from %s was already used at %s (for plan %s): each approval token works once; ask %s to approve again (%s) for a new one",
		label, use.Approver, stamp(use.UsedAt), use.PlanID, use.Approver, approveCmd)
}

func approverCount(n int) string {
	if n == 1 {
		return "1 approver"
	}
	return fmt.Sprintf("%d different approvers", n)
}

func approverNames(approvers []*config.Approver) string {
	var names []string
	for _, a := range approvers {
		if a != nil {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return "none configured"
	}
	return strings.Join(names, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
