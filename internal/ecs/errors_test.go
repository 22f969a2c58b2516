package ecs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func opErr(op string, err error) error {
	return &smithy.OperationError{ServiceID: "ECS", OperationName: op, Err: err}
}

func TestClassify(t *testing.T) {
	t.Setenv("AWS_PROFILE", "dev")
	tests := []struct {
		name     string
		err      error
		wantKind Kind
		wantMsg  []string
		wantHint []string
	}{
		{
			name: "access denied names the ecs action of the message",
			err: opErr("UpdateService", &smithy.GenericAPIError{Code: "AccessDeniedException",
				Message: "User: arn:aws:iam::1:user/bob is not authorized to perform: " +
					"ecs:UpdateService on resource: arn:aws:ecs:eu-west-1:1:service/c/s"}),
			wantKind: KindAccessDenied,
			wantMsg:  []string{"scale: access denied: User: arn:aws:iam::1:user/bob"},
			wantHint: []string{"ecs:UpdateService", "operator policy"},
		},
		{
			name: "access denied without an action in the message names the operation",
			err: opErr("ListClusters", &smithy.GenericAPIError{Code: "AccessDeniedException",
				Message: "denied"}),
			wantKind: KindAccessDenied,
			wantHint: []string{"ecs:ListClusters"},
		},
		{
			name: "an unknown access key is a credentials error",
			err: opErr("ListClusters", &smithy.GenericAPIError{Code: "UnrecognizedClientException",
				Message: "The security token included in the request is invalid."}),
			wantKind: KindCredentials,
			wantHint: []string{"aws configure list --profile dev"},
		},
		{
			name: "an expired token tells how to refresh it",
			err: opErr("ListClusters", &smithy.GenericAPIError{Code: "ExpiredTokenException",
				Message: "The security token included in the request is expired"}),
			wantKind: KindCredentials,
			wantHint: []string{"aws sso login --profile dev"},
		},
		{
			name: "an expired SSO session asks for aws sso login",
			err: opErr("DescribeServices", fmt.Errorf("get identity: get credentials: %w",
				fmt.Errorf("failed to refresh cached credentials, %w",
					errors.New("the SSO session has expired or is invalid")))),
			wantKind: KindCredentials,
			wantMsg:  []string{"no usable AWS credentials: failed to refresh cached credentials"},
			wantHint: []string{"aws sso login --profile dev"},
		},
		{
			name: "an SSO API error inside the credential chain is still a credentials error",
			err: opErr("DescribeServices", fmt.Errorf("get identity: get credentials: %w",
				fmt.Errorf("failed to refresh cached credentials, %w",
					&smithy.GenericAPIError{Code: "UnauthorizedException",
						Message: "Session token not found or invalid (sso)"}))),
			wantKind: KindCredentials,
		},
		{
			name: "no credentials at all says how to configure them",
			err: opErr("ListClusters", fmt.Errorf("get identity: get credentials: %w",
				errors.New("failed to refresh cached credentials, no EC2 IMDS role found, "+
					"operation error ec2imds: GetMetadata, canceled"))),
			wantKind: KindCredentials,
			wantHint: []string{"configure AWS credentials", "AWS_PROFILE"},
		},
		{
			name: "throttling that outlasted the retries is reported as such",
			err: opErr("DescribeTasks", &retry.MaxAttemptsError{Attempt: 3,
				Err: &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}}),
			wantKind: KindThrottled,
			wantMsg:  []string{"throttled by ECS after 3 attempts: ThrottlingException: Rate exceeded"},
			wantHint: []string{"try again in a minute"},
		},
		{
			name: "a missing region is a configuration error",
			err: opErr("ListClusters", errors.New("failed to resolve service endpoint, "+
				"endpoint rule error, Invalid Configuration: Missing Region")),
			wantKind: KindConfig,
			wantHint: []string{"--region", "AWS_REGION"},
		},
		{
			name: "a name that does not resolve points at the region and endpoint",
			err: opErr("ListClusters", &smithyhttp.RequestSendError{Err: &net.DNSError{
				Err: "no such host", Name: "ecs.xx-nowhere-1.amazonaws.com", IsNotFound: true}}),
			wantKind: KindOther,
			wantMsg:  []string{"cannot resolve the ECS endpoint"},
			wantHint: []string{"--region", "AWS_ENDPOINT_URL"},
		},
		{
			name: "a refused connection mentions the sandbox",
			err: opErr("ListClusters", &smithyhttp.RequestSendError{Err: &net.OpError{Op: "dial",
				Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}),
			wantKind: KindOther,
			wantMsg:  []string{"connection refused"},
			wantHint: []string{"breakglass sandbox", "AWS_ENDPOINT_URL_ECS"},
		},
		{
			name: "a cluster that does not exist",
			err: opErr("ListServices", &smithy.GenericAPIError{
				Code: "ClusterNotFoundException", Message: "Cluster not found."}),
			wantKind: KindClusterNotFound,
		},
		{
			name: "a service that does not exist",
			err: opErr("UpdateService", &smithy.GenericAPIError{
				Code: "ServiceNotFoundException", Message: "Service not found."}),
			wantKind: KindServiceNotFound,
		},
		{
			name: "another API error keeps its code and message",
			err: opErr("StopTask", &smithy.GenericAPIError{
				Code: "InvalidParameterException", Message: "Tasks cannot be empty."}),
			wantKind: KindOther,
			wantMsg:  []string{"scale: InvalidParameterException: Tasks cannot be empty."},
		},
		{
			name:     "cancellation",
			err:      opErr("ListTasks", &smithy.CanceledError{Err: context.Canceled}),
			wantKind: KindCanceled,
		},
		{
			name:     "a deadline",
			err:      fmt.Errorf("x: %w", context.DeadlineExceeded),
			wantKind: KindTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Classify("scale", tc.err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Classify = %T, want *Error", err)
			}
			if e.Kind != tc.wantKind {
				t.Errorf("kind = %v, want %v (%v)", e.Kind, tc.wantKind, err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("Classify result does not wrap the original error")
			}
			if !strings.HasPrefix(err.Error(), "scale: ") {
				t.Errorf("error %q does not start with the operation", err)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			for _, h := range tc.wantHint {
				if !strings.Contains(e.Hint(), h) {
					t.Errorf("hint %q does not contain %q", e.Hint(), h)
				}
			}
		})
	}
}

func TestClassifyKeepsAnErrorOfThisPackage(t *testing.T) {
	if Classify("x", nil) != nil {
		t.Error("Classify(nil) is not nil")
	}
	orig := &Error{Kind: KindTimeout, Msg: "late"}
	if got := Classify("op", fmt.Errorf("wrapped: %w", orig)); got != orig {
		t.Errorf("Classify = %v, want the *Error it wraps", got)
	}
}

func TestTransient(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"throttling after retries", opErr("ListTasks", &retry.MaxAttemptsError{Attempt: 3,
			Err: &smithy.GenericAPIError{Code: "ThrottlingException"}}), true},
		{"a server exception", opErr("ListTasks",
			&smithy.GenericAPIError{Code: "ServerException"}), true},
		{"a lost connection", opErr("ListTasks", &smithyhttp.RequestSendError{
			Err: errors.New("connection reset")}), true},
		{"an exhausted retry quota", errors.New("failed to get rate limit token, retry quota " +
			"exceeded, 0 available, 5 requested"), true},
		{"access denied", opErr("ListTasks",
			&smithy.GenericAPIError{Code: "AccessDeniedException"}), false},
		{"an unknown service", opErr("ListTasks",
			&smithy.GenericAPIError{Code: "ServiceNotFoundException"}), false},
		{"a deadline", context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := transient(tc.err); got != tc.want {
				t.Errorf("transient(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestKindNamesAreComplete(t *testing.T) {
	for k := KindOther; k <= KindCanceled; k++ {
		if name := k.String(); name == "" || strings.HasPrefix(name, "kind ") {
			t.Errorf("Kind %d has no name", int(k))
		}
	}
}
