package sandbox

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
)

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"every interface is refused", Config{Addr: "0.0.0.0:0"}, "Addr"},
		{"an empty host is refused", Config{Addr: ":0"}, "Addr"},
		{"a host name other than localhost is refused", Config{Addr: "example.com:0"}, "Addr"},
		{"a LAN address is refused", Config{Addr: "192.168.1.2:0"}, "Addr"},
		{"an address without a port is refused", Config{Addr: "127.0.0.1"}, "Addr"},
		{"a negative delay is refused", Config{StartDelay: -1}, "StartDelay"},
		{"a short account ID is refused", Config{AccountID: "123"}, "AccountID"},
		{"a made-up region is refused", Config{Region: "mars"}, "Region"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || ce.Hint() == "" {
				t.Errorf("New = %v, want a *ConfigError for %s with a hint", err, tt.field)
			}
		})
	}
}

func TestNewListensOnLoopbackOnly(t *testing.T) {
	tests := []struct {
		name, addr string
		wantHost   string
	}{
		{"the zero config takes a free port on 127.0.0.1", "", "127.0.0.1"},
		{"localhost means 127.0.0.1", "localhost:0", "127.0.0.1"},
		{"any 127/8 address is loopback", "127.0.0.2:0", "127.0.0.2"},
		{"IPv6 loopback is accepted", "[::1]:0", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{Addr: tt.addr})
			if err != nil {
				if tt.wantHost == "::1" && strings.Contains(err.Error(), "listen") {
					t.Skipf("no IPv6 loopback here: %v", err)
				}
				t.Fatal(err)
			}
			defer s.Close()
			host, _, _ := net.SplitHostPort(strings.TrimPrefix(s.URL(), "http://"))
			if host != tt.wantHost {
				t.Errorf("URL = %s, want host %s", s.URL(), tt.wantHost)
			}
		})
	}
}

func TestPortInUseHasAHint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = New(Config{Addr: ln.Addr().String()})
	var h interface{ Hint() string }
	if err == nil || !errors.As(err, &h) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Errorf("New on a busy port = %v, want an error naming the address, with a hint", err)
	}
}

func TestCloseRemovesOnlyItsOwnEFSFolder(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := s.EFSDir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temporary EFS folder %s still exists: %v", tmp, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}

	mine := filepath.Join(t.TempDir(), "efs")
	s, err = New(Config{EFSDir: mine})
	if err != nil {
		t.Fatal(err)
	}
	if s.EFSDir() != mine {
		t.Errorf("EFSDir = %s, want %s", s.EFSDir(), mine)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(mine, "mysql", "data")); err != nil {
		t.Errorf("given EFS folder was not kept seeded: %v", err)
	}
}

func TestExportsAndEnvPointTheSDKAtTheSandbox(t *testing.T) {
	s := start(t, Config{Region: "eu-west-1"})

	exports := s.Exports()
	if len(exports) != len(s.Env())+1 {
		t.Fatalf("Exports = %q", exports)
	}
	for i, kv := range s.Env() {
		if exports[i] != "export "+kv {
			t.Errorf("Exports[%d] = %q, want %q", i, exports[i], "export "+kv)
		}
	}
	if exports[0] != "export AWS_ENDPOINT_URL="+s.URL() || exports[1] != "export AWS_REGION=eu-west-1" {
		t.Errorf("Exports start %q", exports[:2])
	}
	last := exports[len(exports)-1]
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"} {
		if !strings.HasPrefix(last, "unset ") || !strings.Contains(last, k) {
			t.Errorf("last export %q does not unset %s", last, k)
		}
	}

	base := []string{"HOME=/h", "AWS_PROFILE=prod", "AWS_REGION=us-west-2", "AWS_ENDPOINT_URL_ECS=https://x"}
	env := s.Environ(base)
	want := append([]string{"HOME=/h"}, s.Env()...)
	if !slices.Equal(env, want) {
		t.Errorf("Environ = %q, want %q", env, want)
	}

	// The SDK's own configuration, from Env alone, reaches the sandbox.
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out, err := ecs.NewFromConfig(cfg).ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil || len(out.ClusterArns) != 1 ||
		!strings.HasPrefix(out.ClusterArns[0], "arn:aws:ecs:eu-west-1:000000000000:cluster/") {
		t.Errorf("ListClusters from the environment = %+v, %v", out, err)
	}
}

// post sends a raw API call and returns status, headers and body.
func post(t *testing.T, s *Server, target, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestWireFormat(t *testing.T) {
	s := start(t, fastConfig())
	const ecsT = "AmazonEC2ContainerServiceV20141113."

	tests := []struct {
		name, target, contentType, body string
		status                          int
		bodyRE                          string
	}{
		{"an ECS error has __type and message", ecsT + "ListTasks", jsonContentType,
			`{"cluster":"nope"}`, 400,
			`^\{"__type":"ClusterNotFoundException","message":"Cluster not found\."\}$`},
		{"an unknown operation is refused", ecsT + "CreateCluster", jsonContentType, `{}`, 400,
			`"__type":"UnknownOperationException"`},
		{"an unknown service is refused", "AmazonS3.ListBuckets", jsonContentType, `{}`, 400,
			`"__type":"UnknownOperationException"`},
		{"a body that is not JSON is a SerializationException", ecsT + "ListTasks",
			jsonContentType, `{"cluster":`, 400, `"__type":"SerializationException"`},
		{"an empty body counts as {}", ecsT + "ListClusters", jsonContentType, ``, 200,
			`^\{"clusterArns":\["arn:aws:ecs:us-east-1:000000000000:cluster/breakglass-ECS-DEMO"\]\}$`},
		{"timestamps are JSON numbers", ecsT + "DescribeServices", jsonContentType,
			`{"cluster":"breakglass-ECS-DEMO","services":["breakglass-App-DEMO"]}`, 200,
			`"createdAt":[0-9]{10}\.[0-9]{3}[,}]`},
		{"an SSM error uses Message", "AmazonSSM.ResumeSession", jsonContentType,
			`{"SessionId":"x"}`, 400,
			`^\{"Message":"Session x does not exist\.","__type":"DoesNotExistException"\}$`},
		{"STS answers in XML", "", "application/x-www-form-urlencoded",
			"Action=GetCallerIdentity&Version=2011-06-15", 200,
			`^<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">` +
				`<GetCallerIdentityResult><Arn>arn:aws:iam::000000000000:user/sandbox</Arn>` +
				`<UserId>AIDASANDBOXUSER000001</UserId><Account>000000000000</Account>` +
				`</GetCallerIdentityResult><ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId>` +
				`</ResponseMetadata></GetCallerIdentityResponse>$`},
		{"an unknown STS action is an XML error", "", "application/x-www-form-urlencoded",
			"Action=AssumeRole&Version=2011-06-15", 400, `<Code>InvalidAction</Code>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := post(t, s, tt.target, tt.contentType, tt.body)
			if status != tt.status || !regexp.MustCompile(tt.bodyRE).MatchString(body) {
				t.Errorf("got %d %s\nwant %d matching %s", status, body, tt.status, tt.bodyRE)
			}
			if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(h.Get("X-Amzn-Requestid")) {
				t.Errorf("request ID header = %q", h.Get("X-Amzn-Requestid"))
			}
			if tt.target != "" && h.Get("Content-Type") != jsonContentType {
				t.Errorf("Content-Type = %q", h.Get("Content-Type"))
			}
		})
	}
}

func TestLogHasOneLinePerCallAndNoTokens(t *testing.T) {
	var buf ptytest.SyncBuffer
	cfg := fastConfig()
	cfg.Log = &buf
	s := start(t, cfg)
	c := sdk(t, s)

	scale(t, c, efsUtil, 1)
	s.Throttle("ListClusters", 1)
	if _, err := c.ecs.ListClusters(ctx, &ecs.ListClustersInput{}); err != nil {
		t.Fatal(err)
	}
	apps, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(appService)})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.ecs.ExecuteCommand(ctx, &ecs.ExecuteCommandInput{
		Cluster: aws.String(demoCluster), Task: aws.String(apps.TaskArns[0]),
		Command: aws.String("/bin/sh"), Interactive: true})
	if err != nil {
		t.Fatal(err)
	}

	var apiLines []string
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.Contains(l, " session ") {
			apiLines = append(apiLines, l)
		}
	}
	want := []string{
		`ecs UpdateService cluster=breakglass-ECS-DEMO service=breakglass-EFS-Util-DEMO desiredCount=1 -> 200 \(`,
		`ecs ListClusters -> 400 ThrottlingException \(`,
		`ecs ListClusters -> 200 \(`,
		`ecs ListTasks cluster=breakglass-ECS-DEMO serviceName=breakglass-App-DEMO -> 200 \(`,
		`ecs ExecuteCommand cluster=breakglass-ECS-DEMO task=\S+ command=/bin/sh interactive=true -> 200 \(`,
	}
	if len(apiLines) != len(want) {
		t.Fatalf("log has %d API lines, want %d:\n%s", len(apiLines), len(want), buf.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{3} ` + re).MatchString(apiLines[i]) {
			t.Errorf("line %d = %q, want %s", i, apiLines[i], re)
		}
	}
	if strings.Contains(buf.String(), aws.ToString(res.Session.TokenValue)) {
		t.Errorf("the log shows a session token")
	}
}

func TestMarksAreInTimeOrder(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	scale(t, c, efsUtil, 1)
	id := lastPart(newTaskOf(t, c, efsUtil))
	waitMark(t, s, Mark{Kind: MarkConnectable, TaskID: id})

	marks := s.Marks()
	if !slices.IsSortedFunc(marks, func(a, b Mark) int { return a.At.Compare(b.At) }) {
		t.Errorf("Marks are not in time order")
	}
	marks[0].Kind = "changed"
	if s.Marks()[0].Kind == "changed" {
		t.Errorf("Marks returned the server's own slice")
	}
	first := s.Marks()[0]
	if first.Kind != MarkAPICall || first.Detail != "UpdateService" || first.Service != efsUtil ||
		first.Cluster != demoCluster {
		t.Errorf("first mark = %+v, want the UpdateService call", first)
	}
}

func TestResponsesEncodeAsTheSDKExpects(t *testing.T) {
	s := start(t, fastConfig())
	_, _, body := post(t, s, "AmazonEC2ContainerServiceV20141113.DescribeTasks", jsonContentType,
		`{"cluster":"breakglass-ECS-DEMO","tasks":["`+strings.Repeat("0", 37)+`"]}`)
	var e map[string]string
	if err := json.Unmarshal([]byte(body), &e); err != nil || e["message"] != "taskId longer than 36." {
		t.Errorf("DescribeTasks with a long ID = %s", body)
	}
}
