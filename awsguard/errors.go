package awsguard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/ssocreds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Op is what the credentials are for: OpPlan or OpApply.
type Op string

const (
	OpPlan  Op = "plan"
	OpApply Op = "apply"
	// OpRead reads a stack's state (show_stack) with the plan role.
	OpRead Op = "read"
)

// Every error below refuses the operation before Terraform ran: its message
// says so, says what happened and what a human should do about it. None
// carries a credential.

// NoCredentialsError: plangate found no AWS credentials of its own.
type NoCredentialsError struct {
	Op      Op
	Profile string // the profile asked for, if any
	Err     error
}

func (e *NoCredentialsError) Error() string {
	where := "the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), the shared config and credentials files, SSO, the container and the instance role"
	if e.Profile != "" {
		where = fmt.Sprintf("profile %q of the shared config and credentials files (~/.aws/config, ~/.aws/credentials or AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE)", e.Profile)
	}
	return fmt.Sprintf("refusing to %s: nothing ran: plangate found no AWS credentials (looked in %s): %v. "+
		"Give the plangate server credentials (for example `aws sso login`, `aws configure`, or the profile named in the stack's aws block) and try again",
		e.Op, where, e.Err)
}

func (e *NoCredentialsError) Unwrap() error { return e.Err }

// ExpiredCredentialsError: the credentials exist but have expired (or the
// SSO session behind them has).
type ExpiredCredentialsError struct {
	Op      Op
	Source  string    // where the credentials came from, for example "SharedConfigCredentials: /home/me/.aws/credentials"
	Expires time.Time // zero when only AWS said so
	Err     error
}

func (e *ExpiredCredentialsError) Error() string {
	when := ""
	if !e.Expires.IsZero() {
		when = " at " + e.Expires.UTC().Format(time.RFC3339)
	}
	src := ""
	if e.Source != "" {
		src = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("refusing to %s: nothing ran: plangate's AWS credentials%s expired%s: %v. "+
		"Refresh them (for example `aws sso login`, or new temporary keys) and try again",
		e.Op, src, when, e.Err)
}

func (e *ExpiredCredentialsError) Unwrap() error { return e.Err }

// CredentialsRejectedError: AWS did not accept the credentials (unknown or
// deactivated access key, wrong secret, bad session token).
type CredentialsRejectedError struct {
	Op   Op
	Code string // the AWS error code, for example InvalidClientTokenId
	Err  error
}

func (e *CredentialsRejectedError) Error() string {
	return fmt.Sprintf("refusing to %s: nothing ran: AWS STS rejected plangate's AWS credentials (%s): %v. "+
		"The access key may be deleted or deactivated, or the secret or session token wrong: give the plangate server valid credentials and try again",
		e.Op, e.Code, e.Err)
}

func (e *CredentialsRejectedError) Unwrap() error { return e.Err }

// AssumeRoleDeniedError: the role could not be assumed by plangate's identity.
type AssumeRoleDeniedError struct {
	Op       Op
	RoleARN  string
	Identity string // the ARN that tried
	Err      error
}

func (e *AssumeRoleDeniedError) Error() string {
	return fmt.Sprintf("refusing to %s: nothing ran: %s may not assume role %s: %v. "+
		"Check that the role exists, and let it: the role's trust policy must allow sts:AssumeRole for %s, and that identity's own policies must allow sts:AssumeRole on %s",
		e.Op, e.Identity, e.RoleARN, e.Err, e.Identity, e.RoleARN)
}

func (e *AssumeRoleDeniedError) Unwrap() error { return e.Err }

// STSUnreachableError: AWS STS did not answer (network down, proxy, DNS,
// firewall, wrong endpoint_url), or not within the timeout.
type STSUnreachableError struct {
	Op       Op
	Endpoint string
	Timeout  time.Duration
	Err      error
}

func (e *STSUnreachableError) Error() string {
	return fmt.Sprintf("refusing to %s: nothing ran: AWS STS at %s could not be reached (timeout %s): %v. "+
		"Check the network, proxy and DNS of the plangate server (and endpoint_url of the stack's aws block, which is for local emulators only), then try again",
		e.Op, e.Endpoint, e.Timeout, e.Err)
}

func (e *STSUnreachableError) Unwrap() error { return e.Err }

// AccountMismatchError: the credentials Terraform would get belong to
// another account than the stack's account_id (or than the plan's, for an
// apply).
type AccountMismatchError struct {
	Op       Op
	Expected string // the account_id of the stack's aws block, or the plan's account
	Actual   string
	ARN      string // the identity in the wrong account
	// PlanAccount is set when the apply was refused because its account
	// differs from the one the plan was made in.
	PlanAccount bool
}

func (e *AccountMismatchError) Error() string {
	if e.PlanAccount {
		return fmt.Sprintf("refusing to apply: nothing ran: the plan was made in AWS account %s, but the apply credentials (%s) are in account %s. "+
			"Check the apply role and the server's credentials; make a new plan if the account is meant to change",
			e.Expected, e.ARN, e.Actual)
	}
	return fmt.Sprintf("refusing to %s: nothing ran: the AWS credentials (%s) are in account %s, but the stack's aws block expects account %s. "+
		"Give the plangate server credentials (or a role) in account %s, or correct account_id",
		e.Op, e.ARN, e.Actual, e.Expected, e.Expected)
}

// errorCode returns the AWS error code of err, "" when it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

var (
	expiredCodes = map[string]bool{
		"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true, "TokenRefreshRequired": true,
	}
	rejectedCodes = map[string]bool{
		"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "UnrecognizedClientException": true,
		"InvalidAccessKeyId": true, "AuthFailure": true, "IncompleteSignature": true, "InvalidToken": true,
	}
)

// classifySTS turns an error of an STS call into one of the errors above
// (or a plain one naming the call). For AssumeRole, role is the role and
// identity the ARN that tried; both are "" otherwise.
func (g *Guard) classifySTS(ctx context.Context, op Op, call, role, identity string, err error) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The caller cancelled: say so plainly.
		return fmt.Errorf("refusing to %s: nothing ran: cancelled during %s: %w", op, call, ctx.Err())
	}
	if unreachable(err) {
		return &STSUnreachableError{Op: op, Endpoint: g.endpointOf(ctx, err), Timeout: g.timeout, Err: err}
	}
	code := errorCode(err)
	switch {
	case role != "" && (code == "AccessDenied" || code == "AccessDeniedException"):
		return &AssumeRoleDeniedError{Op: op, RoleARN: role, Identity: identity, Err: err}
	case expiredCodes[code]:
		return &ExpiredCredentialsError{Op: op, Err: err}
	case rejectedCodes[code]:
		return &CredentialsRejectedError{Op: op, Code: code, Err: err}
	}
	return fmt.Errorf("refusing to %s: nothing ran: AWS STS %s failed: %w", op, call, err)
}

// classifyRetrieve explains why the SDK produced no credentials.
func classifyRetrieve(op Op, profile string, err error) error {
	var sso *ssocreds.InvalidTokenError
	if errors.As(err, &sso) {
		return &ExpiredCredentialsError{Op: op, Source: "SSO", Err: err}
	}
	if code := errorCode(err); expiredCodes[code] {
		return &ExpiredCredentialsError{Op: op, Err: err}
	}
	return &NoCredentialsError{Op: op, Profile: profile, Err: err}
}

// unreachable reports whether err means the endpoint did not answer.
func unreachable(err error) bool {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() > 0 {
		return false // an HTTP answer came back
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var (
		ne      net.Error
		opErr   *net.OpError
		dnsErr  *net.DNSError
		sendErr *smithyhttp.RequestSendError
	)
	return errors.As(err, &sendErr) || errors.As(err, &opErr) || errors.As(err, &dnsErr) || (errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// endpointOf names the STS endpoint a failed call went to: the URL in the
// error when there is one, else the endpoint the guard resolved.
func (g *Guard) endpointOf(ctx context.Context, err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.URL != "" {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.Fragment = "", ""
			return u.String()
		}
	}
	return g.stsEndpoint(ctx)
}
