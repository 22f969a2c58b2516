package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Seeded names, spelled out so that a change to the naming package shows
// up here.
const (
	demoCluster = "breakglass-ECS-DEMO"
	efsUtil     = "breakglass-EFS-Util-DEMO"
	appService  = "breakglass-App-DEMO"
	noExec      = "breakglass-NoExec-DEMO"
)

// fastConfig has delays short enough for tests and long enough to keep the
// stages apart.
func fastConfig() Config {
	return Config{
		StartDelay:   60 * time.Millisecond,
		AgentDelay:   20 * time.Millisecond,
		ConnectDelay: 40 * time.Millisecond,
		StopDelay:    30 * time.Millisecond,
		ListDelay:    30 * time.Millisecond,
	}
}

// hermetic points the AWS SDK at files the test owns and at nothing else:
// no profile, no instance metadata, dummy static credentials.
func hermetic(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	for _, k := range unsetVars {
		t.Setenv(k, "") // restores the old value after the test
		os.Unsetenv(k)
	}
	t.Setenv("AWS_ENDPOINT_URL", "")
	os.Unsetenv("AWS_ENDPOINT_URL")
}

// start runs a sandbox for the test.
func start(t *testing.T, cfg Config) *Server {
	t.Helper()
	hermetic(t)
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

type clients struct {
	ecs *ecs.Client
	ssm *ssm.Client
	sts *sts.Client
}

// sdk returns real SDK clients pointed at s. Their retryer is the standard
// one with its backoff capped, so that retries of injected throttling take
// milliseconds.
func sdk(t *testing.T, s *Server) clients {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRetryer(func() aws.Retryer {
			return retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
		}))
	if err != nil {
		t.Fatalf("load SDK config: %v", err)
	}
	url := aws.String(s.URL())
	return clients{
		ecs: ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = url }),
		ssm: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = url }),
		sts: sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = url }),
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline. It bounds waits for timers; it measures nothing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// waitMark waits for a mark matching m's non-empty fields and returns it.
func waitMark(t *testing.T, s *Server, m Mark) Mark {
	t.Helper()
	var found Mark
	waitFor(t, "mark "+m.Kind+" "+m.Detail, func() bool {
		for _, x := range s.Marks() {
			if matches(x, m) {
				found = x
				return true
			}
		}
		return false
	})
	return found
}

func matches(x, m Mark) bool {
	return x.Kind == m.Kind &&
		(m.Detail == "" || x.Detail == m.Detail) &&
		(m.TaskID == "" || x.TaskID == m.TaskID) &&
		(m.Service == "" || x.Service == m.Service) &&
		(m.SessionID == "" || x.SessionID == m.SessionID)
}

// scale sets a seeded service's desired count.
func scale(t *testing.T, c clients, service string, n int32) {
	t.Helper()
	_, err := c.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{
		Cluster: aws.String(demoCluster), Service: aws.String(service), DesiredCount: aws.Int32(n),
	})
	if err != nil {
		t.Fatalf("UpdateService %s to %d: %v", service, n, err)
	}
}

// execShell scales the breakglass service up, waits until its new task is
// connectable and starts an interactive /bin/sh in it with ExecuteCommand.
func execShell(t *testing.T, s *Server, c clients) (taskID string, connectable Mark,
	res *ecs.ExecuteCommandOutput) {
	t.Helper()
	scale(t, c, efsUtil, 1)
	taskID = lastPart(newTaskOf(t, c, efsUtil))
	connectable = waitMark(t, s, Mark{Kind: MarkConnectable, TaskID: taskID})
	res, err := c.ecs.ExecuteCommand(context.Background(), &ecs.ExecuteCommandInput{
		Cluster: aws.String(demoCluster), Task: aws.String(taskID),
		Command: aws.String("/bin/sh"), Interactive: true})
	if err != nil {
		t.Fatal(err)
	}
	return taskID, connectable, res
}

// newTaskOf waits until ListTasks shows a task of service other than the
// ones in known and returns its ARN.
func newTaskOf(t *testing.T, c clients, service string, known ...string) string {
	t.Helper()
	var arn string
	waitFor(t, "a new task of "+service, func() bool {
		out, err := c.ecs.ListTasks(context.Background(), &ecs.ListTasksInput{
			Cluster: aws.String(demoCluster), ServiceName: aws.String(service),
		})
		if err != nil {
			t.Fatalf("ListTasks: %v", err)
		}
		for _, a := range out.TaskArns {
			if !contains(known, a) {
				arn = a
				return true
			}
		}
		return false
	})
	return arn
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// describeTask returns one task by ID or ARN.
func describeTask(t *testing.T, c clients, ref string) ecstypes.Task {
	t.Helper()
	out, err := c.ecs.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{
		Cluster: aws.String(demoCluster), Tasks: []string{ref},
	})
	if err != nil {
		t.Fatalf("DescribeTasks %s: %v", ref, err)
	}
	if len(out.Tasks) != 1 {
		t.Fatalf("DescribeTasks %s: %d tasks, failures %+v", ref, len(out.Tasks), out.Failures)
	}
	return out.Tasks[0]
}

// waitStatus waits for a task to reach lastStatus.
func waitStatus(t *testing.T, c clients, ref, status string) ecstypes.Task {
	t.Helper()
	var task ecstypes.Task
	waitFor(t, "task "+lastPart(ref)+" "+status, func() bool {
		task = describeTask(t, c, ref)
		return aws.ToString(task.LastStatus) == status
	})
	return task
}

func taskIDs(marks []Mark, kind string) (out []string) {
	for _, m := range marks {
		if m.Kind == kind {
			out = append(out, m.TaskID)
		}
	}
	return out
}

// statusesOf returns the task-status marks of one task, in order.
func statusesOf(s *Server, taskID string) []string {
	var out []string
	for _, m := range s.Marks() {
		if m.Kind == MarkTaskStatus && m.TaskID == taskID {
			out = append(out, m.Detail)
		}
	}
	return out
}

func countCalls(s *Server, op string) int {
	n := 0
	for _, m := range s.Marks() {
		if m.Kind == MarkAPICall && m.Detail == op {
			n++
		}
	}
	return n
}

func joined(ss []string) string { return strings.Join(ss, " ") }
