package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

var ctx = context.Background()

func TestSeedIsVisibleThroughTheSDK(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	clusters, err := c.ecs.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	wantCluster := "arn:aws:ecs:us-east-1:000000000000:cluster/" + demoCluster
	if !slices.Equal(clusters.ClusterArns, []string{wantCluster}) {
		t.Errorf("ListClusters = %v, want [%s]", clusters.ClusterArns, wantCluster)
	}

	dc, err := c.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{
		Clusters: []string{demoCluster},
		Include:  []types.ClusterField{types.ClusterFieldConfigurations},
	})
	if err != nil {
		t.Fatal(err)
	}
	exec := dc.Clusters[0].Configuration.ExecuteCommandConfiguration
	if exec.Logging != types.ExecuteCommandLoggingOverride ||
		!exec.LogConfiguration.CloudWatchEncryptionEnabled ||
		aws.ToString(exec.LogConfiguration.CloudWatchLogGroupName) == "" ||
		!strings.HasPrefix(aws.ToString(exec.KmsKeyId), "arn:aws:kms:us-east-1:") {
		t.Errorf("exec configuration = %+v / %+v", exec, exec.LogConfiguration)
	}
	if n := dc.Clusters[0].RunningTasksCount; n != 2 {
		t.Errorf("runningTasksCount = %d, want 2 (the App service's)", n)
	}

	ds, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(demoCluster),
		Services: []string{efsUtil, appService, noExec},
		Include:  []types.ServiceField{types.ServiceFieldTags},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		managed, exec    bool
		desired, running int32
	}{
		{efsUtil, true, true, 0, 0},
		{appService, false, true, 2, 2},
		{noExec, true, false, 0, 0},
	}
	for i, tt := range tests {
		svc := ds.Services[i]
		managed := slices.ContainsFunc(svc.Tags, func(tag types.Tag) bool {
			return aws.ToString(tag.Key) == "breakglass:managed" && aws.ToString(tag.Value) == "true"
		})
		if aws.ToString(svc.ServiceName) != tt.name || managed != tt.managed ||
			svc.EnableExecuteCommand != tt.exec || svc.DesiredCount != tt.desired ||
			svc.RunningCount != tt.running || aws.ToString(svc.Status) != "ACTIVE" ||
			svc.LaunchType != types.LaunchTypeFargate {
			t.Errorf("service %d = %s managed=%v exec=%v desired=%d running=%d status=%s, want %+v",
				i, aws.ToString(svc.ServiceName), managed, svc.EnableExecuteCommand,
				svc.DesiredCount, svc.RunningCount, aws.ToString(svc.Status), tt)
		}
	}
	if td := aws.ToString(ds.Services[0].TaskDefinition); td !=
		"arn:aws:ecs:us-east-1:000000000000:task-definition/breakglass-EFS-Util-Task-DEMO:1" {
		t.Errorf("EFS-Util task definition = %s", td)
	}
	if d := ds.Services[0].Deployments; len(d) != 1 || aws.ToString(d[0].Status) != "PRIMARY" {
		t.Errorf("EFS-Util deployments = %+v, want one PRIMARY", d)
	}

	// The App service's tasks run and can be exec'd into from the start.
	tasks, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(appService),
	})
	if err != nil || len(tasks.TaskArns) != 2 {
		t.Fatalf("ListTasks App = %v, %v; want 2 tasks", tasks, err)
	}
	task := describeTask(t, c, tasks.TaskArns[0])
	ct := task.Containers[0]
	if aws.ToString(task.LastStatus) != "RUNNING" || aws.ToString(ct.Name) != "app" ||
		aws.ToString(ct.ManagedAgents[0].LastStatus) != "RUNNING" ||
		!strings.HasPrefix(aws.ToString(ct.RuntimeId), lastPart(tasks.TaskArns[0])+"-") {
		t.Errorf("App task = %s, container %s runtime %s agent %+v", aws.ToString(task.LastStatus),
			aws.ToString(ct.Name), aws.ToString(ct.RuntimeId), ct.ManagedAgents)
	}

	for _, sub := range []string{"mysql/data", "rabbitmq/data"} {
		if fi, err := os.Stat(filepath.Join(s.EFSDir(), sub)); err != nil || !fi.IsDir() {
			t.Errorf("EFS folder lacks %s: %v", sub, err)
		}
	}
}

// TestOpenAndCloseFollowTheLifecycle walks the breakglass flow: scale to 1,
// watch the task start, exec into it once it is connectable, scale back.
func TestOpenAndCloseFollowTheLifecycle(t *testing.T) {
	cfg := fastConfig()
	s := start(t, cfg)
	c := sdk(t, s)

	scale(t, c, efsUtil, 1)
	desired := waitMark(t, s, Mark{Kind: MarkDesiredCount, Service: efsUtil, Detail: "1"})

	// The new task exists at once but ListTasks does not show it yet.
	started := waitMark(t, s, Mark{Kind: MarkTaskStatus, Service: efsUtil, Detail: "PROVISIONING"})
	out, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(efsUtil),
	})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(started.At) < cfg.ListDelay && len(out.TaskArns) != 0 {
		t.Errorf("ListTasks within ListDelay = %v, want none yet", out.TaskArns)
	}
	arn := newTaskOf(t, c, efsUtil)
	id := lastPart(arn)
	if !regexp.MustCompile(`^arn:aws:ecs:us-east-1:000000000000:task/` + demoCluster +
		`/[0-9a-f]{32}$`).MatchString(arn) {
		t.Errorf("task ARN = %s", arn)
	}
	if started.TaskID != id || started.At.Before(desired.At) {
		t.Errorf("PROVISIONING mark = %+v, want task %s after %v", started, id, desired.At)
	}

	// Until the agent connects, ExecuteCommand fails with one of the two
	// errors breakglass retries.
	exec := func() (*ecs.ExecuteCommandOutput, error) {
		return c.ecs.ExecuteCommand(ctx, &ecs.ExecuteCommandInput{
			Cluster: aws.String(demoCluster), Task: aws.String(id),
			Command: aws.String("/bin/sh"), Interactive: true,
		})
	}
	if _, err := exec(); !isRetryableExecError(err) {
		t.Errorf("ExecuteCommand before connectable = %v, want InvalidParameter or TargetNotConnected", err)
	}

	connectable := waitMark(t, s, Mark{Kind: MarkConnectable, TaskID: id})
	task := describeTask(t, c, id)
	if aws.ToString(task.LastStatus) != "RUNNING" || !task.EnableExecuteCommand ||
		aws.ToString(task.Containers[0].ManagedAgents[0].LastStatus) != "RUNNING" {
		t.Errorf("connectable task = %s agent %+v", aws.ToString(task.LastStatus),
			task.Containers[0].ManagedAgents)
	}
	got := statusesOf(s, id)
	if want := "PROVISIONING PENDING ACTIVATING RUNNING"; joined(got) != want {
		t.Errorf("statuses = %q, want %q", joined(got), want)
	}
	agent := waitMark(t, s, Mark{Kind: MarkAgentRunning, TaskID: id})
	running := waitMark(t, s, Mark{Kind: MarkTaskStatus, TaskID: id, Detail: "RUNNING"})
	if !running.At.Before(agent.At) || !agent.At.Before(connectable.At) {
		t.Errorf("running %v, agent %v, connectable %v: want that order",
			running.At, agent.At, connectable.At)
	}
	if agent.At.Sub(running.At) < cfg.AgentDelay || connectable.At.Sub(agent.At) < cfg.ConnectDelay {
		t.Errorf("agent after %v, connectable after %v; want at least %v and %v",
			agent.At.Sub(running.At), connectable.At.Sub(agent.At), cfg.AgentDelay, cfg.ConnectDelay)
	}

	res, err := exec()
	if err != nil {
		t.Fatalf("ExecuteCommand when connectable: %v", err)
	}
	sid := aws.ToString(res.Session.SessionId)
	if !regexp.MustCompile(`^ecs-execute-command-[0-9a-f]{17}$`).MatchString(sid) ||
		aws.ToString(res.Session.StreamUrl) != "ws://"+strings.TrimPrefix(s.URL(), "http://")+
			"/v1/data-channel/"+sid+"?role=publish_subscribe" ||
		aws.ToString(res.Session.TokenValue) == "" || !res.Interactive ||
		aws.ToString(res.ContainerName) != "efs_util" || aws.ToString(res.TaskArn) != arn {
		t.Errorf("ExecuteCommand = %+v session %+v", res, res.Session)
	}
	waitMark(t, s, Mark{Kind: MarkSession, SessionID: sid, TaskID: id, Detail: SessionRegistered})

	svc := describeService(t, c, efsUtil)
	if svc.RunningCount != 1 || svc.PendingCount != 0 || svc.Deployments[0].RunningCount != 1 {
		t.Errorf("open service: running %d pending %d, deployment running %d",
			svc.RunningCount, svc.PendingCount, svc.Deployments[0].RunningCount)
	}

	scale(t, c, efsUtil, 0)
	task = waitStatus(t, c, id, "STOPPED")
	if task.StopCode != types.TaskStopCodeServiceSchedulerInitiated ||
		aws.ToString(task.DesiredStatus) != "STOPPED" || task.StoppedAt == nil ||
		task.StoppingAt == nil || aws.ToString(task.Containers[0].LastStatus) != "STOPPED" ||
		aws.ToString(task.Containers[0].ManagedAgents[0].LastStatus) != "STOPPED" {
		t.Errorf("stopped task: stopCode %s desired %s stoppedAt %v container %s",
			task.StopCode, aws.ToString(task.DesiredStatus), task.StoppedAt,
			aws.ToString(task.Containers[0].LastStatus))
	}
	want := "PROVISIONING PENDING ACTIVATING RUNNING DEACTIVATING STOPPING DEPROVISIONING STOPPED"
	if got := joined(statusesOf(s, id)); got != want {
		t.Errorf("statuses = %q, want %q", got, want)
	}

	// The stopped task is listed only when asking for stopped tasks.
	for _, tt := range []struct {
		status types.DesiredStatus
		want   []string
	}{{types.DesiredStatusRunning, nil}, {types.DesiredStatusStopped, []string{arn}}} {
		out, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
			Cluster: aws.String(demoCluster), ServiceName: aws.String(efsUtil),
			DesiredStatus: tt.status,
		})
		if err != nil || !slices.Equal(out.TaskArns, tt.want) {
			t.Errorf("ListTasks %s = %v, %v; want %v", tt.status, out.TaskArns, err, tt.want)
		}
	}

	waitFor(t, "the steady state after closing", func() bool {
		svc = describeService(t, c, efsUtil)
		return svc.RunningCount == 0 && strings.HasSuffix(aws.ToString(svc.Events[0].Message),
			"has reached a steady state.")
	})
	var msgs []string
	for _, ev := range svc.Events {
		msgs = append(msgs, aws.ToString(ev.Message))
	}
	wantEvents := []string{
		"(service " + efsUtil + ") has reached a steady state.",
		"(service " + efsUtil + ") has stopped 1 running tasks: (task " + id + ").",
		"(service " + efsUtil + ") has reached a steady state.",
		"(service " + efsUtil + ") has started 1 tasks: (task " + id + ").",
		"(service " + efsUtil + ") has reached a steady state.",
	}
	if !slices.Equal(msgs, wantEvents) {
		t.Errorf("events, newest first:\n%s\nwant:\n%s", strings.Join(msgs, "\n"),
			strings.Join(wantEvents, "\n"))
	}
}

// wantExecNotRunning is ECS's text, curly apostrophe (U+2019) included.
const wantExecNotRunning = "The execute command failed because execute command was not " +
	"enabled when the task was run or the execute command agent isn\u2019t running. Wait and " +
	"try again or run a new task with execute command enabled and try again."

func isRetryableExecError(err error) bool {
	var notConnected *types.TargetNotConnectedException
	var invalid *types.InvalidParameterException
	return errors.As(err, &notConnected) ||
		errors.As(err, &invalid) && invalid.ErrorMessage() == wantExecNotRunning
}

func describeService(t *testing.T, c clients, name string) types.Service {
	t.Helper()
	out, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(demoCluster), Services: []string{name},
	})
	if err != nil || len(out.Services) != 1 {
		t.Fatalf("DescribeServices %s = %+v, %v", name, out, err)
	}
	return out.Services[0]
}

func TestExecuteCommandRefusesLikeECS(t *testing.T) {
	cfg := fastConfig()
	cfg.ConnectDelay = time.Hour // the agent runs but never connects in this test
	s := start(t, cfg)
	c := sdk(t, s)

	scale(t, c, efsUtil, 1)
	scale(t, c, noExec, 1)
	bg := lastPart(newTaskOf(t, c, efsUtil))
	plain := lastPart(newTaskOf(t, c, noExec))
	waitMark(t, s, Mark{Kind: MarkAgentRunning, TaskID: bg})
	if task := waitStatus(t, c, plain, "RUNNING"); task.Containers[0].ManagedAgents != nil ||
		task.EnableExecuteCommand {
		t.Errorf("exec-disabled task has managedAgents %+v, enableExecuteCommand %v",
			task.Containers[0].ManagedAgents, task.EnableExecuteCommand)
	}
	apps, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(appService),
	})
	if err != nil {
		t.Fatal(err)
	}
	app := lastPart(apps.TaskArns[0])

	var (
		notConnected *types.TargetNotConnectedException
		invalid      *types.InvalidParameterException
		noCluster    *types.ClusterNotFoundException
	)
	tests := []struct {
		name        string
		cluster     string
		task        string
		container   string
		interactive bool
		target      any
		message     string
	}{
		{"an agent that has not connected is TargetNotConnected", demoCluster, bg, "", true,
			&notConnected, "The execute command failed due to an internal error. Try again later."},
		{"a task run without exec is refused", demoCluster, plain, "", true,
			&invalid, wantExecNotRunning},
		{"a non-interactive command is refused", demoCluster, bg, "", false,
			&invalid, "Interactive is the only mode supported currently."},
		{"an unknown container is refused", demoCluster, app, "nope", true,
			&invalid, "The container nope does not exist in the task. Specify a valid " +
				"container name and try again."},
		{"an unknown task is refused", demoCluster, strings.Repeat("0", 32), "", true,
			&invalid, "The referenced task was not found."},
		{"a malformed task ID is refused", demoCluster, "abc", "", true,
			&invalid, "task length should be one of [32,36]"},
		{"an unknown cluster is ClusterNotFound", "nope", bg, "", true,
			&noCluster, "Cluster not found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &ecs.ExecuteCommandInput{
				Cluster: aws.String(tt.cluster), Task: aws.String(tt.task),
				Command: aws.String("/bin/sh"), Interactive: tt.interactive,
			}
			if tt.container != "" {
				in.Container = aws.String(tt.container)
			}
			_, err := c.ecs.ExecuteCommand(ctx, in)
			if !errors.As(err, tt.target) {
				t.Fatalf("ExecuteCommand = %v, want %T", err, tt.target)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorMessage() != tt.message {
				t.Errorf("message = %q, want %q", apiErr.ErrorMessage(), tt.message)
			}
		})
	}

	// Exec into the ordinary service's running task works.
	res, err := c.ecs.ExecuteCommand(ctx, &ecs.ExecuteCommandInput{
		Cluster: aws.String(demoCluster), Task: aws.String(app), Container: aws.String("app"),
		Command: aws.String("ls /"), Interactive: true,
	})
	if err != nil || aws.ToString(res.ContainerName) != "app" {
		t.Errorf("ExecuteCommand into App = %+v, %v", res, err)
	}
}

func TestNeverConnectKeepsTheTargetNotConnected(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	s.NeverConnect(true)

	scale(t, c, efsUtil, 1)
	id := lastPart(newTaskOf(t, c, efsUtil))
	waitMark(t, s, Mark{Kind: MarkAgentRunning, TaskID: id})
	waitFor(t, "the connect delay to pass", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		c, _ := s.findCluster(demoCluster)
		return s.findTask(c, id).agentConnected
	})

	in := &ecs.ExecuteCommandInput{Cluster: aws.String(demoCluster), Task: aws.String(id),
		Command: aws.String("/bin/sh"), Interactive: true}
	var notConnected *types.TargetNotConnectedException
	if _, err := c.ecs.ExecuteCommand(ctx, in); !errors.As(err, &notConnected) {
		t.Fatalf("ExecuteCommand with NeverConnect = %v, want TargetNotConnected", err)
	}
	if slices.Contains(taskIDs(s.Marks(), MarkConnectable), id) {
		t.Errorf("a connectable mark was recorded while NeverConnect was on")
	}

	s.NeverConnect(false)
	waitMark(t, s, Mark{Kind: MarkConnectable, TaskID: id})
	if _, err := c.ecs.ExecuteCommand(ctx, in); err != nil {
		t.Errorf("ExecuteCommand after NeverConnect(false) = %v", err)
	}
}

func TestErrorsAreTypedLikeECS(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	var (
		noCluster *types.ClusterNotFoundException
		noService *types.ServiceNotFoundException
		invalid   *types.InvalidParameterException
		noRes     *types.ResourceNotFoundException
	)
	tests := []struct {
		name    string
		call    func() error
		target  any
		message string
	}{
		{"DescribeServices in an unknown cluster is ClusterNotFound", func() error {
			_, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
				Cluster: aws.String("nope"), Services: []string{efsUtil}})
			return err
		}, &noCluster, "Cluster not found."},
		{"ListTasks of an unknown service is ServiceNotFound", func() error {
			_, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
				Cluster: aws.String(demoCluster), ServiceName: aws.String("nope")})
			return err
		}, &noService, "Service not found."},
		{"UpdateService of an unknown service is ServiceNotFound", func() error {
			_, err := c.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{
				Cluster: aws.String(demoCluster), Service: aws.String("nope"),
				DesiredCount: aws.Int32(1)})
			return err
		}, &noService, "Service not found."},
		{"UpdateService without a cluster looks in the default cluster", func() error {
			_, err := c.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{
				Service: aws.String(efsUtil), DesiredCount: aws.Int32(1)})
			return err
		}, &noCluster, "Cluster not found."},
		{"DescribeTasks with no tasks is refused", func() error {
			_, err := c.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{
				Cluster: aws.String(demoCluster), Tasks: []string{}})
			return err
		}, &invalid, "Tasks cannot be empty."},
		{"StopTask of an unknown task is refused", func() error {
			_, err := c.ecs.StopTask(ctx, &ecs.StopTaskInput{
				Cluster: aws.String(demoCluster), Task: aws.String(strings.Repeat("a", 32))})
			return err
		}, &invalid, "The referenced task was not found."},
		{"tagging an unknown service is ResourceNotFound", func() error {
			_, err := c.ecs.TagResource(ctx, &ecs.TagResourceInput{
				ResourceArn: aws.String(s.arn("service/" + demoCluster + "/nope")),
				Tags:        []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
			return err
		}, &noRes, "The specified resource could not be found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.As(err, tt.target) {
				t.Fatalf("error = %v, want %T", err, tt.target)
			}
			var apiErr smithy.APIError
			if errors.As(err, &apiErr); apiErr.ErrorMessage() != tt.message {
				t.Errorf("message = %q, want %q", apiErr.ErrorMessage(), tt.message)
			}
			if !strings.Contains(err.Error(), "RequestID: ") || strings.Contains(err.Error(), "RequestID: ,") {
				t.Errorf("error carries no request ID: %v", err)
			}
		})
	}
}

func TestUnknownThingsAreFailuresNotErrors(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	ds, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(demoCluster), Services: []string{"nope", efsUtil}})
	if err != nil {
		t.Fatal(err)
	}
	wantArn := "arn:aws:ecs:us-east-1:000000000000:service/" + demoCluster + "/nope"
	if len(ds.Services) != 1 || len(ds.Failures) != 1 ||
		aws.ToString(ds.Failures[0].Arn) != wantArn || aws.ToString(ds.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeServices = %d services, failures %+v", len(ds.Services), ds.Failures)
	}

	id := strings.Repeat("b", 32)
	dt, err := c.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{
		Cluster: aws.String(demoCluster), Tasks: []string{id}})
	if err != nil || len(dt.Failures) != 1 || aws.ToString(dt.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeTasks unknown = %+v, %v", dt, err)
	}

	dc, err := c.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"nope"}})
	if err != nil || len(dc.Failures) != 1 || aws.ToString(dc.Failures[0].Reason) != "MISSING" {
		t.Errorf("DescribeClusters unknown = %+v, %v", dc, err)
	}
}

func TestDescribeTasksAcceptsIDsAndARNs(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	apps, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(appService)})
	if err != nil {
		t.Fatal(err)
	}
	arn := apps.TaskArns[0]
	otherCluster := strings.Replace(arn, demoCluster, "other", 1)
	out, err := c.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{
		Cluster: aws.String(demoCluster),
		Tasks:   []string{arn, lastPart(arn), otherCluster},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Tasks) != 2 || aws.ToString(out.Tasks[0].TaskArn) != arn ||
		aws.ToString(out.Tasks[1].TaskArn) != arn || len(out.Failures) != 1 {
		t.Errorf("DescribeTasks = %d tasks, failures %+v", len(out.Tasks), out.Failures)
	}
}

func TestTagsRoundTrip(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	for _, arn := range []string{s.arn("cluster/" + demoCluster),
		s.arn("service/" + demoCluster + "/" + appService)} {
		_, err := c.ecs.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(arn),
			Tags: []types.Tag{
				{Key: aws.String("owner"), Value: aws.String("ops")},
				{Key: aws.String("breakglass:managed"), Value: aws.String("true")},
			}})
		if err != nil {
			t.Fatalf("TagResource %s: %v", arn, err)
		}
		if _, err := c.ecs.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(arn),
			TagKeys: []string{"owner"}}); err != nil {
			t.Fatalf("UntagResource %s: %v", arn, err)
		}
		out, err := c.ecs.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{
			ResourceArn: aws.String(arn)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tags) != 1 || aws.ToString(out.Tags[0].Key) != "breakglass:managed" {
			t.Errorf("tags of %s = %+v", arn, out.Tags)
		}
	}

	svc, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(demoCluster), Services: []string{appService},
		Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil || len(svc.Services[0].Tags) != 1 {
		t.Errorf("DescribeServices TAGS after tagging = %+v, %v", svc.Services[0].Tags, err)
	}
	if svc, _ := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(demoCluster), Services: []string{appService}}); len(svc.Services[0].Tags) != 0 {
		t.Errorf("DescribeServices without TAGS returned tags %+v", svc.Services[0].Tags)
	}
}

func TestListServicesPaginates(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	var all []string
	p := ecs.NewListServicesPaginator(c.ecs, &ecs.ListServicesInput{
		Cluster: aws.String(demoCluster), MaxResults: aws.Int32(1)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.ServiceArns...)
	}
	if pages != 3 || len(all) != 3 {
		t.Errorf("ListServices by 1: %d pages, %v", pages, all)
	}

	var invalid *types.InvalidParameterException
	_, err := c.ecs.ListServices(ctx, &ecs.ListServicesInput{
		Cluster: aws.String(demoCluster), NextToken: aws.String("garbage")})
	if !errors.As(err, &invalid) {
		t.Errorf("ListServices with a bad token = %v, want InvalidParameter", err)
	}
}

func TestThrottlingIsRetriedBySDK(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	s.Throttle("DescribeServices", 2)
	if _, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(demoCluster), Services: []string{efsUtil}}); err != nil {
		t.Fatalf("DescribeServices after 2 throttled attempts = %v", err)
	}
	if n := countCalls(s, "DescribeServices"); n != 3 {
		t.Errorf("DescribeServices calls = %d, want 3 (2 throttled + 1)", n)
	}

	s.Throttle("ListTasks", 5)
	_, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(demoCluster)})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ThrottlingException" ||
		apiErr.ErrorMessage() != "Rate exceeded" {
		t.Fatalf("ListTasks throttled 5 times = %v, want ThrottlingException", err)
	}
	if n := countCalls(s, "ListTasks"); n != 3 {
		t.Errorf("ListTasks calls = %d, want the SDK's 3 attempts", n)
	}
	s.Throttle("ListTasks", 0)
	if _, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(demoCluster)}); err != nil {
		t.Errorf("ListTasks after clearing the throttle = %v", err)
	}
}

func TestFailNextTaskStart(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	reason := "CannotPullContainerError: pull access denied"
	s.FailNextTaskStart("TaskFailedToStart", reason)
	scale(t, c, efsUtil, 1)
	arn := newTaskOf(t, c, efsUtil)
	task := waitStatus(t, c, arn, "STOPPED")
	if task.StopCode != types.TaskStopCodeTaskFailedToStart ||
		aws.ToString(task.StoppedReason) != reason ||
		aws.ToString(task.Containers[0].Reason) != reason || task.StartedAt != nil {
		t.Errorf("failed task: stopCode %s reason %q container reason %q startedAt %v",
			task.StopCode, aws.ToString(task.StoppedReason),
			aws.ToString(task.Containers[0].Reason), task.StartedAt)
	}
	if got := joined(statusesOf(s, lastPart(arn))); got != "PROVISIONING PENDING ACTIVATING STOPPED" {
		t.Errorf("statuses = %q", got)
	}

	// The scheduler replaces the failed task, and the replacement starts.
	next := newTaskOf(t, c, efsUtil, arn)
	waitStatus(t, c, next, "RUNNING")
}

func TestStopTaskNowDropsTheSession(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	id, _, res := execShell(t, s, c)
	sid := res.Session.SessionId

	if err := s.StopTaskNow(demoCluster, id, ""); err != nil {
		t.Fatalf("StopTaskNow: %v", err)
	}
	if err := s.StopTaskNow(demoCluster, id, ""); err == nil {
		t.Errorf("StopTaskNow of a stopping task succeeded")
	}
	if err := s.StopTaskNow(demoCluster, strings.Repeat("c", 32), ""); err == nil {
		t.Errorf("StopTaskNow of an unknown task succeeded")
	}

	// The session is over: no token to resume with.
	out, err := c.ssm.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: sid})
	if err != nil || out.TokenValue != nil {
		t.Errorf("ResumeSession after the task died = %+v, %v; want no token", out, err)
	}
	task := waitStatus(t, c, id, "STOPPED")
	if task.StopCode != types.TaskStopCodeEssentialContainerExited ||
		aws.ToInt32(task.Containers[0].ExitCode) != 137 {
		t.Errorf("dead task: stopCode %s exit code %v", task.StopCode, task.Containers[0].ExitCode)
	}
	// The service still wants one task, so a replacement starts.
	newTaskOf(t, c, efsUtil, aws.ToString(task.TaskArn))
}

func TestStopTaskIsUserInitiated(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	apps, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(demoCluster), ServiceName: aws.String(appService)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(demoCluster),
		Task: aws.String(apps.TaskArns[0]), Reason: aws.String("breakglass: closed by alice")})
	if err != nil || aws.ToString(out.Task.DesiredStatus) != "STOPPED" {
		t.Fatalf("StopTask = %+v, %v", out, err)
	}
	task := waitStatus(t, c, apps.TaskArns[0], "STOPPED")
	if task.StopCode != types.TaskStopCodeUserInitiated ||
		aws.ToString(task.StoppedReason) != "breakglass: closed by alice" {
		t.Errorf("stopped: %s %q", task.StopCode, aws.ToString(task.StoppedReason))
	}
	newTaskOf(t, c, appService, apps.TaskArns...)
	_ = s
}

func TestScalingToTwoStartsTwoTasks(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	scale(t, c, efsUtil, 2)
	waitFor(t, "two running tasks", func() bool {
		return describeService(t, c, efsUtil).RunningCount == 2
	})
	svc := describeService(t, c, efsUtil)
	if !regexp.MustCompile(`has started 2 tasks: \(task [0-9a-f]{32}\) \(task [0-9a-f]{32}\)\.$`).
		MatchString(aws.ToString(svc.Events[1].Message)) {
		t.Errorf("events = %+v", svc.Events)
	}
	_ = s
}

func TestTimestampsDecode(t *testing.T) {
	before := time.Now()
	s := start(t, fastConfig())
	c := sdk(t, s)
	scale(t, c, efsUtil, 1)
	id := lastPart(newTaskOf(t, c, efsUtil))
	task := waitStatus(t, c, id, "RUNNING")
	after := time.Now()

	for name, ts := range map[string]*time.Time{
		"createdAt": task.CreatedAt, "startedAt": task.StartedAt,
		"pullStartedAt": task.PullStartedAt, "pullStoppedAt": task.PullStoppedAt,
		"connectivityAt": task.ConnectivityAt,
	} {
		if ts == nil || ts.Before(before.Add(-time.Millisecond)) || ts.After(after) {
			t.Errorf("%s = %v, want between %v and %v", name, ts, before, after)
		}
	}
	if task.StoppedAt != nil || task.StoppingAt != nil {
		t.Errorf("running task has stoppedAt %v stoppingAt %v", task.StoppedAt, task.StoppingAt)
	}
	if !task.StartedAt.After(*task.CreatedAt) {
		t.Errorf("startedAt %v not after createdAt %v", task.StartedAt, task.CreatedAt)
	}
	svc := describeService(t, c, efsUtil)
	if svc.CreatedAt == nil || svc.Events[0].CreatedAt == nil || svc.Deployments[0].UpdatedAt == nil {
		t.Errorf("service timestamps missing: %v %v", svc.CreatedAt, svc.Events[0].CreatedAt)
	}
}

func TestSTSGetCallerIdentity(t *testing.T) {
	s := start(t, Config{AccountID: "123456789012"})
	c := sdk(t, s)
	out, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != "123456789012" ||
		aws.ToString(out.Arn) != "arn:aws:iam::123456789012:user/sandbox" ||
		aws.ToString(out.UserId) != sandboxUserID {
		t.Errorf("GetCallerIdentity = %s %s %s", aws.ToString(out.Account),
			aws.ToString(out.Arn), aws.ToString(out.UserId))
	}
	s.Throttle("GetCallerIdentity", 1)
	if _, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity after one throttled attempt = %v", err)
	}
	if n := countCalls(s, "GetCallerIdentity"); n != 3 {
		t.Errorf("GetCallerIdentity calls = %d, want 3", n)
	}
}

func TestSSMSessionAPI(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	var missing *ssmtypes.DoesNotExistException
	_, err := c.ssm.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: aws.String("nope")})
	if !errors.As(err, &missing) {
		t.Errorf("ResumeSession unknown = %v, want DoesNotExistException", err)
	}
	_, err = c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String("nope")})
	if !errors.As(err, &missing) {
		t.Errorf("TerminateSession unknown = %v, want DoesNotExistException", err)
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
	sid := res.Session.SessionId

	resumed, err := c.ssm.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: sid})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(resumed.SessionId) != aws.ToString(sid) ||
		aws.ToString(resumed.StreamUrl) != aws.ToString(res.Session.StreamUrl) ||
		aws.ToString(resumed.TokenValue) == "" ||
		aws.ToString(resumed.TokenValue) == aws.ToString(res.Session.TokenValue) {
		t.Errorf("ResumeSession = %+v, want the same stream and a fresh token", resumed)
	}

	term, err := c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: sid})
	if err != nil || aws.ToString(term.SessionId) != aws.ToString(sid) {
		t.Fatalf("TerminateSession = %+v, %v", term, err)
	}
	if _, err := c.ssm.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: sid}); err != nil {
		t.Errorf("second TerminateSession = %v, want success", err)
	}
	after, err := c.ssm.ResumeSession(ctx, &ssm.ResumeSessionInput{SessionId: sid})
	if err != nil || after.TokenValue != nil {
		t.Errorf("ResumeSession after TerminateSession = %+v, %v; want no token", after, err)
	}
}

func TestClustersAndServicesMayBeNamedByARN(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)
	clusterARN := s.arn("cluster/" + demoCluster)
	serviceARN := s.arn("service/" + demoCluster + "/" + efsUtil)

	out, err := c.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(clusterARN), Service: aws.String(serviceARN),
		DesiredCount: aws.Int32(1)})
	if err != nil || aws.ToString(out.Service.ServiceArn) != serviceARN || out.Service.DesiredCount != 1 {
		t.Fatalf("UpdateService by ARN = %+v, %v", out, err)
	}
	tasks, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster: aws.String(clusterARN), ServiceName: aws.String(serviceARN),
		DesiredStatus: types.DesiredStatusRunning})
	if err != nil {
		t.Fatalf("ListTasks by ARN: %v", err)
	}
	_ = tasks
	ds, err := c.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster: aws.String(clusterARN), Services: []string{serviceARN}})
	if err != nil || len(ds.Services) != 1 || ds.Services[0].DesiredCount != 1 {
		t.Errorf("DescribeServices by ARN = %+v, %v", ds, err)
	}
}

// TestConcurrentCallsAreSafe runs callers against a changing sandbox; with
// -race it finds unguarded state.
func TestConcurrentCallsAreSafe(t *testing.T) {
	s := start(t, fastConfig())
	c := sdk(t, s)

	done := make(chan struct{})
	errs := make(chan error, 8)
	for range 4 {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				tasks, err := c.ecs.ListTasks(ctx, &ecs.ListTasksInput{Cluster: aws.String(demoCluster)})
				if err != nil {
					errs <- err
					return
				}
				if len(tasks.TaskArns) > 0 {
					if _, err := c.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{
						Cluster: aws.String(demoCluster), Tasks: tasks.TaskArns}); err != nil {
						errs <- err
						return
					}
				}
				s.Marks()
			}
		}()
	}
	for i := range 6 {
		scale(t, c, efsUtil, int32(i%3))
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
