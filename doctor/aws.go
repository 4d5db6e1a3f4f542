package doctor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/plangate/plangate/awsguard"
	"github.com/plangate/plangate/config"
)

// awsTimeout bounds each AWS call of the checks.
const awsTimeout = 15 * time.Second

// iamReads are the IAM permissions doctor needs on each role.
const iamReads = "iam:GetRole, iam:ListRolePolicies, iam:GetRolePolicy, iam:ListAttachedRolePolicies, iam:GetPolicy and iam:GetPolicyVersion"

// roleFacts is what IAM says about one role.
type roleFacts struct {
	arn   string
	trust *policyDoc
	perms []*policyDoc
	err   error // the read that failed (perms and trust are then partial)
}

// deniedError is an IAM read that the caller may not make.
type deniedError struct {
	call, target, identity string
	err                    error
}

func (e *deniedError) Error() string {
	return fmt.Sprintf("%s may not call iam:%s on %s (%v)", e.identity, e.call, e.target, e.err)
}

// awsChecks reads the stack's roles with the server's own credentials and
// judges them: the plan role only reads (and writes the state lock),
// neither role may assume others, both trust plangate's identity alone.
func awsChecks(ctx context.Context, st *config.Stack, g *awsguard.Guard) []Check {
	planName := fmt.Sprintf("stack %s: plan role only reads", st.Name)
	planAssume := fmt.Sprintf("stack %s: plan role cannot assume roles", st.Name)
	applyAssume := fmt.Sprintf("stack %s: apply role cannot assume roles", st.Name)
	planTrust := fmt.Sprintf("stack %s: plan role trusts only plangate", st.Name)
	applyTrust := fmt.Sprintf("stack %s: apply role assumable only by plangate", st.Name)
	a := st.AWS

	if a.PlanRoleARN == "" && a.ApplyRoleARN == "" {
		return []Check{fail(fmt.Sprintf("stack %s: plan and apply roles", st.Name), guardNoChange,
			"the aws block names no plan_role_arn or apply_role_arn: plans run with the server's own credentials, which can also apply",
			"create a read-only plan role and an apply role that trust only the server's identity, and name them in the stack's aws block (README: AWS)")}
	}
	cfg, err := g.ClientConfig(ctx)
	if err == nil {
		cfg.RetryMaxAttempts = 1
	}
	var who string
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, awsTimeout)
		var out *sts.GetCallerIdentityOutput
		out, err = sts.NewFromConfig(cfg).GetCallerIdentity(cctx, &sts.GetCallerIdentityInput{})
		cancel()
		if err == nil {
			who = aws.ToString(out.Arn)
		}
	}
	if err != nil {
		fact := fmt.Sprintf("cannot ask AWS who plangate is (sts:GetCallerIdentity with the server's credentials): %v", err)
		fix := "run plangate doctor with the server's AWS credentials (as its user, or with its profile or environment)"
		var out []Check
		for _, n := range []string{planName, planAssume, planTrust, applyAssume, applyTrust} {
			out = append(out, unknown(n, guardNoChange, fact, fix))
		}
		return out
	}
	client := iam.NewFromConfig(cfg)
	me := identityOf(who)
	lock := stateLock{}
	if b, err := stackBackend(st.Dir); err == nil && b.kind == "s3" {
		lock = stateLock{bucket: b.attr["bucket"], table: b.attr["dynamodb_table"]}
	}

	var out []Check
	if a.PlanRoleARN == "" {
		out = append(out, fail(planName, guardNoChange, "the aws block names no plan_role_arn: plans run with the server's own credentials, which can change infrastructure",
			"create a read-only plan role that trusts only "+who+" and set plan_role_arn"))
	} else {
		plan := readRole(ctx, client, a.PlanRoleARN, who)
		out = append(out,
			judgePerms(planName, plan, func(docs []*policyDoc) (bool, string) {
				extra := beyondRead(docs, lock)
				if len(extra) == 0 {
					return true, fmt.Sprintf("the policies of %s allow only Get*, List*, Describe* and Head* actions (and the state bucket's and lock table's writes)", plan.arn)
				}
				return false, fmt.Sprintf("the policies of %s allow more than reading: %s", plan.arn, joinExamples(extra, 6))
			}, fmt.Sprintf("narrow %s to read actions (Get*, List*, Describe*) and the writes of the state bucket's objects and the lock table's items", a.PlanRoleARN)),
			assumeCheck(planAssume, plan),
			trustCheck(planTrust, plan, me))
	}
	if a.ApplyRoleARN == "" {
		out = append(out, fail(applyTrust, guardNoChange, "the aws block names no apply_role_arn: applies run with the server's own credentials",
			"create an apply role that trusts only "+who+" and set apply_role_arn"))
	} else {
		apply := readRole(ctx, client, a.ApplyRoleARN, who)
		out = append(out, assumeCheck(applyAssume, apply), trustCheck(applyTrust, apply, me))
	}
	return out
}

// judgePerms runs judge over the role's permission policies, or says
// which reads were denied.
func judgePerms(name string, r roleFacts, judge func([]*policyDoc) (bool, string), fix string) Check {
	if r.err != nil {
		return unknownRead(name, r)
	}
	good, fact := judge(r.perms)
	if good {
		return ok(name, guardNoChange, fact)
	}
	return fail(name, guardNoChange, fact, fix)
}

func unknownRead(name string, r roleFacts) Check {
	var d *deniedError
	if errors.As(r.err, &d) {
		return unknown(name, guardNoChange, fmt.Sprintf("cannot read role %s: %v", r.arn, r.err),
			fmt.Sprintf("allow %s %s on %s and its attached policies (read-only), or run plangate doctor with credentials that have them", d.identity, iamReads, r.arn))
	}
	return unknown(name, guardNoChange, fmt.Sprintf("cannot read role %s: %v", r.arn, r.err), "check the role ARN in the stack's aws block and that IAM answers")
}

func assumeCheck(name string, r roleFacts) Check {
	return judgePerms(name, r, func(docs []*policyDoc) (bool, string) {
		if by := allowedBy(docs, "sts:AssumeRole"); len(by) > 0 {
			return false, fmt.Sprintf("%s may sts:AssumeRole (through %s): it can become other roles, beyond what plangate checked", r.arn, joinExamples(by, 3))
		}
		return true, fmt.Sprintf("no policy of %s allows sts:AssumeRole", r.arn)
	}, fmt.Sprintf("remove sts:AssumeRole (and sts:*, *) from the policies of %s", r.arn))
}

// identity is plangate's own identity, as a trust policy names it.
type identity struct {
	arn     string // as STS says
	account string
	// principal is the ARN a trust policy names it by; for an assumed
	// role, its role (whose path STS does not say: roleName matches it).
	principal, roleName string
}

func identityOf(arn string) identity {
	id := identity{arn: arn, principal: arn}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return id
	}
	id.account = parts[4]
	if role, ok := strings.CutPrefix(parts[5], "assumed-role/"); ok && parts[2] == "sts" {
		name, _, _ := strings.Cut(role, "/")
		id.roleName = name
		id.principal = fmt.Sprintf("%s:%s:iam::%s:role/%s", parts[0], parts[1], id.account, name)
	}
	return id
}

// is reports whether a trust policy's AWS principal p names this identity.
func (id identity) is(p string) bool {
	if p == id.principal || p == id.arn {
		return true
	}
	if id.roleName != "" {
		parts := strings.SplitN(p, ":", 6)
		return len(parts) == 6 && parts[2] == "iam" && parts[4] == id.account &&
			strings.HasPrefix(parts[5], "role/") && strings.HasSuffix(parts[5], "/"+id.roleName)
	}
	return false
}

// trustCheck: does the role's trust policy let only plangate's identity
// assume it?
func trustCheck(name string, r roleFacts, me identity) Check {
	if r.trust == nil {
		if r.err == nil {
			r.err = errors.New("no trust policy returned")
		}
		return unknownRead(name, r)
	}
	var others []string
	trusted := false
	for _, s := range r.trust.Statement {
		if !s.allow() {
			continue
		}
		assume := false
		for _, act := range []string{"sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"} {
			if yes, _ := s.allows(act); yes {
				assume = true
			}
		}
		if !assume {
			continue
		}
		cond := ""
		if len(s.Condition) > 0 {
			cond = " (with a condition, not judged)"
		}
		if len(s.NotPrinc) > 0 {
			others = append(others, "everyone but the NotPrincipal "+string(s.NotPrinc)+cond)
			continue
		}
		if s.Principal.anyone {
			others = append(others, `anyone ("*")`+cond)
			continue
		}
		for kind, values := range s.Principal.kinds {
			for _, v := range values {
				switch {
				case kind == "AWS" && me.is(v):
					trusted = true
				case kind == "AWS" && v == "*":
					others = append(others, `anyone ("*")`+cond)
				case kind == "AWS" && (v == me.account || strings.HasSuffix(v, ":root")):
					others = append(others, fmt.Sprintf("account %s (every identity in it that may sts:AssumeRole)%s", strings.TrimSuffix(strings.TrimPrefix(v, "arn:aws:iam::"), ":root"), cond))
				case kind == "AWS":
					others = append(others, v+cond)
				default:
					others = append(others, fmt.Sprintf("%s principal %s%s", kind, v, cond))
				}
			}
		}
	}
	via := ""
	if me.roleName != "" {
		via = fmt.Sprintf(" (plangate acts as role %s: whoever may assume that role can assume this one too)", me.roleName)
	}
	switch {
	case len(others) > 0:
		return fail(name, guardNoChange, fmt.Sprintf("the trust policy of %s lets others than plangate (%s) assume it: %s", r.arn, me.arn, strings.Join(others, "; ")),
			fmt.Sprintf("make the trust policy of %s allow sts:AssumeRole to %s alone", r.arn, me.principal))
	case !trusted:
		return fail(name, guardNoChange, fmt.Sprintf("the trust policy of %s does not trust plangate's identity %s: plangate cannot assume it", r.arn, me.arn),
			fmt.Sprintf("make the trust policy of %s allow sts:AssumeRole to %s alone", r.arn, me.principal))
	}
	return ok(name, guardNoChange, fmt.Sprintf("the trust policy of %s lets only plangate's identity %s assume it%s", r.arn, me.principal, via))
}

// readRole reads a role's trust policy and permission policies (inline
// and attached, at their default versions).
func readRole(ctx context.Context, client *iam.Client, arn, who string) roleFacts {
	r := roleFacts{arn: arn}
	name := arn[strings.LastIndex(arn, "/")+1:]
	call := func(op, target string, f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, awsTimeout)
		defer cancel()
		err := f(cctx)
		var ae smithy.APIError
		if errors.As(err, &ae) && (strings.HasPrefix(ae.ErrorCode(), "AccessDenied") || ae.ErrorCode() == "UnauthorizedOperation") {
			return &deniedError{call: op, target: target, identity: who, err: err}
		}
		if err != nil {
			return fmt.Errorf("iam:%s on %s: %w", op, target, err)
		}
		return nil
	}
	if acct := strings.SplitN(arn, ":", 6); len(acct) == 6 {
		if mine := identityOf(who).account; mine != "" && acct[4] != mine {
			r.err = fmt.Errorf("the role is in account %s, plangate's identity %s in account %s: doctor reads IAM in its own account only", acct[4], who, mine)
			return r
		}
	}
	r.err = call("GetRole", arn, func(ctx context.Context) error {
		out, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		if err != nil {
			return err
		}
		doc, err := parsePolicy(aws.ToString(out.Role.AssumeRolePolicyDocument), "the trust policy of "+arn)
		r.trust = doc
		return err
	})
	if r.err != nil {
		return r
	}
	var inline []string
	r.err = call("ListRolePolicies", arn, func(ctx context.Context) error {
		p := iam.NewListRolePoliciesPaginator(client, &iam.ListRolePoliciesInput{RoleName: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			inline = append(inline, page.PolicyNames...)
		}
		return nil
	})
	if r.err != nil {
		return r
	}
	for _, pn := range inline {
		r.err = call("GetRolePolicy", arn, func(ctx context.Context) error {
			out, err := client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(pn)})
			if err != nil {
				return err
			}
			doc, err := parsePolicy(aws.ToString(out.PolicyDocument), fmt.Sprintf("inline policy %s", pn))
			r.perms = append(r.perms, doc)
			return err
		})
		if r.err != nil {
			return r
		}
	}
	var attached []string
	r.err = call("ListAttachedRolePolicies", arn, func(ctx context.Context) error {
		p := iam.NewListAttachedRolePoliciesPaginator(client, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, ap := range page.AttachedPolicies {
				attached = append(attached, aws.ToString(ap.PolicyArn))
			}
		}
		return nil
	})
	if r.err != nil {
		return r
	}
	for _, parn := range attached {
		var version string
		if r.err = call("GetPolicy", parn, func(ctx context.Context) error {
			out, err := client.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(parn)})
			if err == nil {
				version = aws.ToString(out.Policy.DefaultVersionId)
			}
			return err
		}); r.err != nil {
			return r
		}
		if r.err = call("GetPolicyVersion", parn, func(ctx context.Context) error {
			out, err := client.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(parn), VersionId: aws.String(version)})
			if err != nil {
				return err
			}
			doc, err := parsePolicy(aws.ToString(out.PolicyVersion.Document), "managed policy "+parn)
			r.perms = append(r.perms, doc)
			return err
		}); r.err != nil {
			return r
		}
	}
	return r
}
