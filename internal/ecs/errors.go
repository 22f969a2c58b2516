package ecs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Kind says what went wrong, coarsely enough for the CLI to pick an exit
// code from it.
type Kind int

// The kinds of error. New kinds are added at the end.
const (
	KindOther             Kind = iota // anything else
	KindClusterNotFound               // the cluster (environment) does not exist
	KindServiceNotFound               // the service does not exist in the cluster
	KindContainerNotFound             // the task has no container of that name
	KindNotBreakglass                 // the service lacks breakglass:managed=true
	KindInactive                      // the service is DRAINING or INACTIVE
	KindExecDisabled                  // ECS Exec is off on the service or task
	KindTaskStopped                   // the task stopped (StopCode, StoppedReason)
	KindTimeout                       // the deadline passed while waiting
	KindAccessDenied                  // IAM denied an action
	KindCredentials                   // no, expired or rejected credentials
	KindThrottled                     // throttled even after the SDK's retries
	KindConfig                        // AWS configuration incomplete (region)
	KindCanceled                      // the context was canceled (interrupt)
)

var kindNames = [...]string{
	KindOther:             "other",
	KindClusterNotFound:   "cluster not found",
	KindServiceNotFound:   "service not found",
	KindContainerNotFound: "container not found",
	KindNotBreakglass:     "not a breakglass service",
	KindInactive:          "service not active",
	KindExecDisabled:      "exec disabled",
	KindTaskStopped:       "task stopped",
	KindTimeout:           "timeout",
	KindAccessDenied:      "access denied",
	KindCredentials:       "credentials",
	KindThrottled:         "throttled",
	KindConfig:            "configuration",
	KindCanceled:          "canceled",
}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is the error every method of this package returns (possibly
// wrapped). Op names the operation and resource ("describe service X in
// cluster Y"), Msg what went wrong; Err is the underlying error, if any,
// for errors.As (SDK error types) and verbose output.
type Error struct {
	Kind    Kind
	Op      string
	Cluster string
	Service string
	Task    string
	Msg     string
	HintMsg string
	Err     error

	// StopCode and StoppedReason are set for KindTaskStopped.
	StopCode      string
	StoppedReason string
}

// Error returns "<op>: <msg>".
func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	switch {
	case e.Op == "":
		return msg
	case msg == "":
		return e.Op
	}
	return e.Op + ": " + msg
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Hint says what the user can do about the error; it may be empty.
func (e *Error) Hint() string { return e.HintMsg }

// KindOf returns the Kind of the first *Error in err's chain, KindOther if
// there is none, and KindCanceled for a bare context.Canceled.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	return KindOther
}

// Classify turns an error from the SDK into a *Error for the operation op
// (a phrase naming the operation and resource). It returns nil for nil and
// err itself when err already holds a *Error. The Kind is chosen as follows:
// AccessDeniedException → KindAccessDenied (the hint names the ecs action);
// rejected or expired credentials, and failures to obtain credentials (SSO,
// IMDS, profiles) → KindCredentials; throttling that outlasted the SDK's
// retries → KindThrottled; a missing region → KindConfig; ClusterNotFound,
// ServiceNotFound, ServiceNotActive → their kinds; context cancellation and
// deadline → KindCanceled and KindTimeout; anything else, including
// endpoint and DNS failures (with a hint about --region and
// AWS_ENDPOINT_URL), → KindOther.
func Classify(op string, err error) error {
	if err == nil {
		return nil
	}
	return classify(op, err, "")
}

func (c *Client) classify(op string, err error) *Error {
	return classify(op, err, c.o.Profile)
}

func classify(op string, err error, profile string) *Error {
	var be *Error
	if errors.As(err, &be) {
		return be
	}
	e := &Error{Kind: KindOther, Op: op, Err: err}
	text := err.Error()
	lower := strings.ToLower(text)

	switch {
	case errors.Is(err, context.Canceled):
		e.Kind, e.Msg = KindCanceled, "canceled"
		return e
	case errors.Is(err, context.DeadlineExceeded):
		e.Kind, e.Msg = KindTimeout, "deadline exceeded"
		return e
	case isCredentialRetrieval(lower):
		// Checked before API error codes: a failed SSO GetRoleCredentials
		// call is an API error of the SSO service wrapped in the
		// credential error, not an error of the ECS call.
		e.Kind = KindCredentials
		e.Msg = "no usable AWS credentials: " + credentialCause(err)
		e.HintMsg = credentialsHint(lower, profile)
		return e
	case strings.Contains(lower, "missing region"):
		e.Kind, e.Msg = KindConfig, "no AWS region configured"
		e.HintMsg = "set --region or AWS_REGION, or add region to the profile in ~/.aws/config"
		return e
	}

	if code, message, ok := apiError(err); ok {
		classifyAPI(e, code, message, profile)
		if id := requestID(err); id != "" {
			e.Msg += " (request id " + id + ")"
		}
		return e
	}

	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		e.Msg = "cannot resolve the ECS endpoint: " + dnsErr.Error()
		e.HintMsg = endpointHint
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Msg = "cannot connect to the ECS endpoint: connection refused"
		var ue *url.Error
		if errors.As(err, &ue) {
			e.Msg = "cannot connect to the ECS endpoint " + ue.URL + ": connection refused"
		}
		e.HintMsg = endpointHint + "; if it is the sandbox, is `breakglass sandbox` still running?"
	case strings.Contains(lower, "failed to resolve service endpoint"):
		e.Msg = "no ECS endpoint for this configuration: " + text
		e.HintMsg = endpointHint
	case isRetryQuota(lower):
		e.Kind = KindThrottled
		e.Msg = "ECS calls kept failing and the SDK's retry budget ran out: " + text
		e.HintMsg = throttleHint
	default:
		e.Msg = text
		var send *smithyhttp.RequestSendError
		if errors.As(err, &send) {
			e.HintMsg = "check the network connection; " + endpointHint
		}
	}
	return e
}

const endpointHint = "check --region (or AWS_REGION) and, if set, AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_ECS"

const throttleHint = "ECS limits API calls per account and region, shared with every other tool " +
	"calling it; try again in a minute"

func classifyAPI(e *Error, code, message, profile string) {
	switch {
	case code == "AccessDeniedException" || code == "AccessDenied":
		e.Kind = KindAccessDenied
		e.Msg = "access denied: " + message
		action := deniedAction(message)
		if action == "" {
			action = "ecs:" + operationName(e.Err)
		}
		e.HintMsg = fmt.Sprintf("your identity may not call %s; attach the breakglass operator "+
			"policy (the CDK app defines it) or ask an administrator for %s", action, action)
	case credentialCodes[code]:
		e.Kind = KindCredentials
		e.Msg = "AWS rejected the credentials: " + code + ": " + message
		e.HintMsg = rejectedHint(code, profile)
	case throttleCodes[code]:
		e.Kind = KindThrottled
		e.Msg = "throttled by ECS: " + code + ": " + message
		var max *retry.MaxAttemptsError
		if errors.As(e.Err, &max) {
			e.Msg = fmt.Sprintf("throttled by ECS after %d attempts: %s: %s",
				max.Attempt, code, message)
		}
		e.HintMsg = throttleHint
	case code == "ClusterNotFoundException":
		e.Kind, e.Msg = KindClusterNotFound, "cluster not found"
		e.HintMsg = "check the environment name and the region (--region or AWS_REGION)"
	case code == "ServiceNotFoundException":
		e.Kind, e.Msg = KindServiceNotFound, "service not found"
		e.HintMsg = "check the service name; `breakglass status ENV` lists the breakglass services"
	case code == "ServiceNotActiveException":
		e.Kind, e.Msg = KindInactive, "service is not active"
	default:
		e.Msg = code + ": " + message
	}
}

var credentialCodes = map[string]bool{
	"UnrecognizedClientException":         true,
	"InvalidSignatureException":           true,
	"SignatureDoesNotMatch":               true,
	"IncompleteSignature":                 true,
	"IncompleteSignatureException":        true,
	"InvalidClientTokenId":                true,
	"MissingAuthenticationToken":          true,
	"MissingAuthenticationTokenException": true,
	"ExpiredToken":                        true,
	"ExpiredTokenException":               true,
	"RequestExpired":                      true,
}

var throttleCodes = map[string]bool{
	"ThrottlingException":                    true,
	"Throttling":                             true,
	"ThrottledException":                     true,
	"RequestThrottledException":              true,
	"TooManyRequestsException":               true,
	"RequestLimitExceeded":                   true,
	"RequestThrottled":                       true,
	"SlowDown":                               true,
	"ProvisionedThroughputExceededException": true,
}

// credentialPatterns are texts of the SDK's credential chain failures
// (lower case). They arrive wrapped in the ECS operation error.
var credentialPatterns = []string{
	"failed to refresh cached credentials",
	"the sso session has expired",
	"refresh cached sso token failed",
	"cached sso token is expired",
	"token has expired",
	"failed to retrieve credentials",
	"no ec2 imds role found",
	"get identity: get credentials",
	"anonymous credentials",
}

func isCredentialRetrieval(lower string) bool {
	for _, p := range credentialPatterns {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// credentialCause drops the SDK's operation prefix ("operation error ECS:
// X, get identity: get credentials: ...") and keeps the provider's words.
func credentialCause(err error) string {
	text := err.Error()
	for _, p := range []string{"get identity: get credentials: ", "failed to retrieve credentials: "} {
		if i := strings.Index(text, p); i >= 0 {
			return text[i+len(p):]
		}
	}
	return text
}

func credentialsHint(lower, profile string) string {
	if strings.Contains(lower, "credential_process") {
		return "the profile's credential_process command failed: run it by hand to see why"
	}
	if strings.Contains(lower, "sso") {
		return "the SSO session has expired or is missing: run `" + ssoLogin(profile) +
			"` and try again"
	}
	if strings.Contains(lower, "token has expired") || strings.Contains(lower, "expired") {
		return "the credentials have expired: refresh them (`" + ssoLogin(profile) +
			"` for an SSO profile) and try again"
	}
	return "configure AWS credentials: pick a profile with --profile or AWS_PROFILE " +
		"(`aws configure list-profiles`), set one up with `aws configure sso`, or set " +
		"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
}

func rejectedHint(code, profile string) string {
	switch code {
	case "ExpiredToken", "ExpiredTokenException":
		return "the session credentials have expired: refresh them (`" + ssoLogin(profile) +
			"` for an SSO profile) and try again"
	case "RequestExpired":
		return "the request's signature time is off: check this machine's clock"
	}
	return "the access key is unknown to AWS or the secret is wrong: check which credentials " +
		"the SDK picks up (`aws configure list" + profileFlag(profile) + "`) and whether the " +
		"region belongs to the right partition"
}

func ssoLogin(profile string) string {
	return "aws sso login" + profileFlag(profile)
}

func profileFlag(profile string) string {
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	if profile == "" {
		return ""
	}
	return " --profile " + profile
}

var actionRE = regexp.MustCompile(`\becs:[A-Za-z]+`)

func deniedAction(message string) string {
	return actionRE.FindString(message)
}

func operationName(err error) string {
	var op *smithy.OperationError
	if errors.As(err, &op) {
		return op.Operation()
	}
	return "*"
}

func apiError(err error) (code, message string, ok bool) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return "", "", false
	}
	return ae.ErrorCode(), ae.ErrorMessage(), true
}

func requestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

func isRetryQuota(lower string) bool {
	return strings.Contains(lower, "retry quota exceeded")
}

// transient reports whether a failed poll should simply be repeated:
// throttling and server faults that outlasted the SDK's retries, and
// network failures. The deadline bounds how long they are repeated.
func transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if code, _, ok := apiError(err); ok {
		if throttleCodes[code] || serverCodes[code] {
			return true
		}
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return true
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return isRetryQuota(strings.ToLower(err.Error())) || KindOf(err) == KindThrottled
}

var serverCodes = map[string]bool{
	"ServerException":         true,
	"InternalFailure":         true,
	"InternalServerError":     true,
	"ServiceUnavailable":      true,
	"RequestTimeout":          true,
	"RequestTimeoutException": true,
}
