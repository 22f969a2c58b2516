package ecs

// Tests with the real SDK client against a local HTTP server that answers
// as ECS does (reference/ecs-api.md), so that errors reach this package as
// the SDK really builds them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// reply is one HTTP answer of the fake ECS endpoint.
type reply struct {
	status int
	body   string
}

func ok(body string) reply { return reply{200, body} }

func fault(status int, code, msg string) reply {
	b, _ := json.Marshal(map[string]string{"__type": code, "message": msg})
	return reply{status, string(b)}
}

// ecsServer answers each operation with its replies in turn, repeating the
// last, and records the request bodies.
type ecsServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	replies  map[string][]reply
	requests map[string][]string
}

func newECSServer(t *testing.T, replies map[string][]reply) *ecsServer {
	t.Helper()
	s := &ecsServer{t: t, replies: replies, requests: map[string][]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *ecsServer) serve(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113.")
	body, _ := io.ReadAll(r.Body)

	s.mu.Lock()
	n := len(s.requests[op])
	s.requests[op] = append(s.requests[op], string(body))
	rs := s.replies[op]
	s.mu.Unlock()

	if len(rs) == 0 {
		s.t.Errorf("unexpected %s request", op)
		rs = []reply{fault(400, "InvalidParameterException", "unexpected")}
	}
	rep := rs[min(n, len(rs)-1)]
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("req-%s-%d", op, n))
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (s *ecsServer) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests[op])
}

func (s *ecsServer) request(op string, i int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op][i]
}

// isolateAWS keeps the SDK away from the user's AWS configuration and the
// metadata endpoint.
func isolateAWS(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", dir)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_ECS"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	return dir
}

// fastRetryer is the SDK's standard retryer without the waits between
// attempts.
func fastRetryer(opts ...func(*retry.StandardOptions)) aws.Retryer {
	return retry.NewStandard(append([]func(*retry.StandardOptions){
		func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return time.Millisecond, nil
			})
		},
	}, opts...)...)
}

func sdkClient(t *testing.T, endpoint string, retryer aws.Retryer) *ecs.Client {
	t.Helper()
	isolateAWS(t)
	return ecs.New(ecs.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:      retryer,
	})
}

const serviceJSON = `{"serviceArn":"` + testServiceARN + `","serviceName":"` + testService +
	`","clusterArn":"` + testClusterARN + `","status":"ACTIVE","desiredCount":0,"runningCount":0,` +
	`"pendingCount":0,"enableExecuteCommand":true,` +
	`"events":[{"id":"e1","createdAt":1.767323045E9,"message":"(service ` + testService +
	`) has reached a steady state."}],` +
	`"tags":[{"key":"breakglass:managed","value":"true"}]}`

func taskJSON(status, agent string) string {
	return `{"tasks":[{"taskArn":"` + testTaskARN + `","clusterArn":"` + testClusterARN +
		`","lastStatus":"` + status + `","desiredStatus":"RUNNING","enableExecuteCommand":true,` +
		`"createdAt":1.767323045E9,"containers":[{"name":"` + testContainer + `","runtimeId":"` +
		testRuntimeID + `","lastStatus":"` + status + `","managedAgents":[{"name":` +
		`"ExecuteCommandAgent","lastStatus":"` + agent + `"}]}]}],"failures":[]}`
}

const sessionJSON = `{"clusterArn":"` + testClusterARN + `","containerArn":"arn:c",` +
	`"containerName":"` + testContainer + `","interactive":true,` +
	`"session":{"sessionId":"ecs-execute-command-0a1",` +
	`"streamUrl":"wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/ecs-execute-command-0a1` +
	`?role=publish_subscribe","tokenValue":"AAEAAtoken"},"taskArn":"` + testTaskARN + `"}`

const agentNotRunningJSON = `{"__type":"InvalidParameterException","message":"The execute ` +
	`command failed because execute command was not enabled when the task was run or the ` +
	`execute command agent isn’t running. Wait and try again or run a new task with execute ` +
	`command enabled and try again."}`

func TestSDKWaitReadyThroughRealErrors(t *testing.T) {
	s := newECSServer(t, map[string][]reply{
		"ListTasks": {ok(`{"taskArns":[]}`), ok(`{"taskArns":["` + testTaskARN + `"]}`)},
		"DescribeTasks": {
			ok(taskJSON("PROVISIONING", "PENDING")),
			// Three throttled attempts: one failed SDK call, after its retries.
			fault(400, "ThrottlingException", "Rate exceeded"),
			fault(400, "ThrottlingException", "Rate exceeded"),
			fault(400, "ThrottlingException", "Rate exceeded"),
			fault(500, "ServerException", "Service unavailable. Try again later."),
			fault(500, "ServerException", "Service unavailable. Try again later."),
			fault(500, "ServerException", "Service unavailable. Try again later."),
			ok(taskJSON("RUNNING", "PENDING")),
			ok(taskJSON("RUNNING", "RUNNING")),
		},
		"ExecuteCommand": {
			fault(400, "TargetNotConnectedException",
				"The execute command failed due to an internal error. Try again later."),
			{400, agentNotRunningJSON},
			ok(sessionJSON),
		},
	})
	clock := newFakeClock()
	c := New(sdkClient(t, s.srv.URL, fastRetryer()), Options{Sleep: clock.Sleep, Now: clock.Now})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var stages []string
	ex, err := c.WaitReady(ctx, testTarget, "", func(st Stage) { stages = append(stages, st.Name) })
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if ex.SSMTarget != "ecs:"+testCluster+"_"+testTaskID+"_"+testRuntimeID ||
		ex.Token != "AAEAAtoken" || ex.SessionID != "ecs-execute-command-0a1" {
		t.Errorf("Exec = %+v", ex)
	}
	want := StageWaitingForTask + ",PROVISIONING,RUNNING," + StageWaitingForAgent + "," +
		StageConnecting + "," + StageConnected
	if got := strings.Join(stages, ","); got != want {
		t.Errorf("stages = %s\nwant     %s", got, want)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(s.request("ExecuteCommand", 0)), &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{"cluster": testCluster, "command": "/bin/sh",
		"container": testContainer, "interactive": true, "task": testTaskID}
	if fmt.Sprint(body) != fmt.Sprint(wantBody) {
		t.Errorf("ExecuteCommand request = %v, want %v", body, wantBody)
	}
	if n := s.count("ExecuteCommand"); n != 3 {
		t.Errorf("%d ExecuteCommand requests, want 3", n)
	}
}

func TestSDKErrorsAreClassified(t *testing.T) {
	deniedMsg := "User: arn:aws:sts::123456789012:assumed-role/Dev/bob is not authorized to " +
		"perform: ecs:DescribeServices on resource: " + testServiceARN + " because no " +
		"identity-based policy allows the ecs:DescribeServices action"
	tests := []struct {
		name     string
		replies  map[string][]reply
		wantKind Kind
		wantAs   func(error) bool
		wantMsg  []string
		wantHint []string
		attempts int // DescribeServices requests
	}{
		{
			name: "an unknown cluster is a typed SDK error and lists the environments",
			replies: map[string][]reply{
				"DescribeServices": {fault(400, "ClusterNotFoundException", "Cluster not found.")},
				"ListClusters": {ok(`{"clusterArns":["` + clusterARN("breakglass-ECS-PROD") +
					`"]}`)},
			},
			wantKind: KindClusterNotFound,
			wantAs: func(err error) bool {
				var e *types.ClusterNotFoundException
				return errors.As(err, &e)
			},
			wantHint: []string{"environments of breakglass in this region: PROD"},
			attempts: 1,
		},
		{
			name: "access denied carries the action and the request id",
			replies: map[string][]reply{
				"DescribeServices": {fault(400, "AccessDeniedException", deniedMsg)},
			},
			wantKind: KindAccessDenied,
			wantAs: func(err error) bool {
				var e *types.AccessDeniedException
				return errors.As(err, &e)
			},
			wantMsg:  []string{"access denied: User: arn:aws:sts", "(request id req-DescribeServices-0)"},
			wantHint: []string{"ecs:DescribeServices"},
			attempts: 1,
		},
		{
			name: "throttling is retried by the SDK and then reported as throttling",
			replies: map[string][]reply{
				"DescribeServices": {fault(400, "ThrottlingException", "Rate exceeded")},
			},
			wantKind: KindThrottled,
			wantAs: func(err error) bool {
				var e *smithy.GenericAPIError
				return errors.As(err, &e) && e.Code == "ThrottlingException"
			},
			wantMsg:  []string{"after 3 attempts"},
			attempts: 3,
		},
		{
			name: "an unrecognized client is a credentials error",
			replies: map[string][]reply{
				"DescribeServices": {fault(400, "UnrecognizedClientException",
					"The security token included in the request is invalid.")},
			},
			wantKind: KindCredentials,
			attempts: 1,
		},
		{
			name: "an unknown service lists the breakglass services of the cluster",
			replies: map[string][]reply{
				"DescribeServices": {
					ok(`{"services":[],"failures":[{"arn":"` + serviceARN("breakglass-X-DEMO") +
						`","reason":"MISSING"}]}`),
					ok(`{"services":[` + serviceJSON + `],"failures":[]}`),
				},
				"ListServices": {ok(`{"serviceArns":["` + testServiceARN + `"]}`)},
			},
			wantKind: KindServiceNotFound,
			wantHint: []string{"EFS-Util (breakglass-EFS-Util-DEMO)"},
			attempts: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newECSServer(t, tc.replies)
			c := New(sdkClient(t, s.srv.URL, fastRetryer()), Options{})
			target := testTarget
			if tc.wantKind == KindServiceNotFound {
				target.Service = "breakglass-X-DEMO"
			}
			_, err := c.Preflight(context.Background(), target)
			checkError(t, err, tc.wantKind, tc.wantMsg, tc.wantHint, nil)
			if tc.wantAs != nil && !tc.wantAs(err) {
				t.Errorf("errors.As does not find the SDK error type in %v", err)
			}
			if n := s.count("DescribeServices"); n != tc.attempts {
				t.Errorf("%d DescribeServices requests, want %d", n, tc.attempts)
			}
		})
	}
}

func TestSDKPreflightPassesWithOneRequest(t *testing.T) {
	s := newECSServer(t, map[string][]reply{
		"DescribeServices": {ok(`{"services":[` + serviceJSON + `],"failures":[]}`)},
	})
	svc, err := New(sdkClient(t, s.srv.URL, fastRetryer()), Options{}).
		Preflight(context.Background(), testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Events) != 1 || svc.Events[0].At.Unix() != 1767323045 {
		t.Errorf("events = %+v", svc.Events)
	}
	want := `{"cluster":"` + testCluster + `","include":["TAGS"],"services":["` + testService + `"]}`
	if got := s.request("DescribeServices", 0); got != want {
		t.Errorf("request = %s\nwant      %s", got, want)
	}
}

func TestSDKScaleOutlastsThrottling(t *testing.T) {
	throttle := fault(400, "ThrottlingException", "Rate exceeded")
	s := newECSServer(t, map[string][]reply{
		"UpdateService": {throttle, throttle, throttle, throttle, throttle, ok(`{}`)},
		"ListTasks":     {throttle},
	})
	// A retry quota that a second retry exhausts, as a burst of throttled polls
	// would leave it before the scale-back.
	retryer := fastRetryer(func(o *retry.StandardOptions) {
		o.RateLimiter = ratelimit.NewTokenRateLimit(7)
	})
	api := sdkClient(t, s.srv.URL, retryer)
	c := New(api, Options{})

	_, err := api.ListTasks(context.Background(), &ecs.ListTasksInput{Cluster: aws.String("c")})
	if err == nil || !strings.Contains(err.Error(), "retry quota exceeded") {
		t.Fatalf("ListTasks error = %v, want the retry quota exhausted", err)
	}
	if err := c.Scale(context.Background(), testTarget, 0); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if n := s.count("UpdateService"); n != 6 {
		t.Errorf("%d UpdateService requests, want 6", n)
	}
	want := `{"cluster":"` + testCluster + `","desiredCount":0,"service":"` + testService + `"}`
	if got := s.request("UpdateService", 0); got != want {
		t.Errorf("request = %s\nwant      %s", got, want)
	}
}

func TestSDKConfigurationErrors(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		profile  string
		region   string
		endpoint func(t *testing.T) string
		wantKind Kind
		wantMsg  []string
		wantHint []string
	}{
		{
			name: "an SSO profile without a session asks for aws sso login with the profile",
			config: "[profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\n" +
				"sso_role_name = Admin\nregion = eu-west-1\n\n[sso-session corp]\n" +
				"sso_start_url = https://corp.awsapps.example/start\nsso_region = eu-west-1\n",
			profile:  "sso-dev",
			wantKind: KindCredentials,
			wantHint: []string{"aws sso login --profile sso-dev"},
		},
		{
			name:     "a failing credential_process is a credentials error",
			config:   "[profile proc]\ncredential_process = /bin/false\nregion = eu-west-1\n",
			profile:  "proc",
			wantKind: KindCredentials,
			wantHint: []string{"credential_process command failed"},
		},
		{
			name:     "no region is a configuration error",
			config:   "[default]\naws_access_key_id = test\naws_secret_access_key = test\n",
			wantKind: KindConfig,
			wantHint: []string{"AWS_REGION"},
		},
		{
			name:   "a refused connection points at the endpoint",
			config: "[default]\naws_access_key_id = test\naws_secret_access_key = test\n",
			region: testRegion,
			endpoint: func(t *testing.T) string {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				return "http://" + addr
			},
			wantKind: KindOther,
			wantMsg:  []string{"cannot connect to the ECS endpoint http://127.0.0.1:"},
			wantHint: []string{"AWS_ENDPOINT_URL", "breakglass sandbox"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := isolateAWS(t)
			if err := os.WriteFile(filepath.Join(dir, "config"), []byte(tc.config), 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.profile != "" {
				t.Setenv("AWS_PROFILE", tc.profile)
			}
			opts := []func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
				return fastRetryer()
			})}
			if tc.region != "" {
				opts = append(opts, config.WithRegion(tc.region))
			}
			cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			endpoint := "http://127.0.0.1:1"
			if tc.endpoint != nil {
				endpoint = tc.endpoint(t)
			}
			// Every client points at loopback, except the one without a
			// region, which fails before it resolves any endpoint.
			api := ecs.NewFromConfig(cfg, func(o *ecs.Options) {
				if tc.wantKind != KindConfig {
					o.BaseEndpoint = aws.String(endpoint)
				}
			})
			_, err = New(api, Options{}).Preflight(context.Background(), testTarget)
			checkError(t, err, tc.wantKind, tc.wantMsg, tc.wantHint, nil)
		})
	}
}
