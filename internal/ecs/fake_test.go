package ecs

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
)

// fakeClock is simulated time: Sleep advances it instead of waiting.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Now()}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

// call is one recorded API call.
type call struct {
	op string
	at time.Time
	in any
}

// fakeAPI is an API whose operations are function fields; an operation
// whose field is nil fails the call with an "unexpected call" error.
type fakeAPI struct {
	clock *fakeClock

	mu    sync.Mutex
	calls []call

	describeClusters func(*ecs.DescribeClustersInput) (*ecs.DescribeClustersOutput, error)
	listClusters     func(*ecs.ListClustersInput) (*ecs.ListClustersOutput, error)
	describeServices func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error)
	listServices     func(*ecs.ListServicesInput) (*ecs.ListServicesOutput, error)
	updateService    func(*ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error)
	listTasks        func(*ecs.ListTasksInput) (*ecs.ListTasksOutput, error)
	describeTasks    func(*ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error)
	stopTask         func(*ecs.StopTaskInput) (*ecs.StopTaskOutput, error)
	executeCommand   func(*ecs.ExecuteCommandInput) (*ecs.ExecuteCommandOutput, error)
	tagResource      func(*ecs.TagResourceInput) (*ecs.TagResourceOutput, error)
	untagResource    func(*ecs.UntagResourceInput) (*ecs.UntagResourceOutput, error)
}

func (f *fakeAPI) record(op string, in any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var at time.Time
	if f.clock != nil {
		at = f.clock.Now()
	}
	f.calls = append(f.calls, call{op: op, at: at, in: in})
}

// count returns how many calls of op were made ("" for all).
func (f *fakeAPI) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if op == "" || c.op == op {
			n++
		}
	}
	return n
}

func (f *fakeAPI) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

func do[I, O any](f *fakeAPI, op string, fn func(*I) (*O, error), in *I) (*O, error) {
	f.record(op, in)
	if fn == nil {
		return nil, fmt.Errorf("unexpected call to %s", op)
	}
	return fn(in)
}

func (f *fakeAPI) DescribeClusters(_ context.Context, in *ecs.DescribeClustersInput,
	_ ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error) {
	return do(f, "DescribeClusters", f.describeClusters, in)
}

func (f *fakeAPI) ListClusters(_ context.Context, in *ecs.ListClustersInput,
	_ ...func(*ecs.Options)) (*ecs.ListClustersOutput, error) {
	return do(f, "ListClusters", f.listClusters, in)
}

func (f *fakeAPI) DescribeServices(_ context.Context, in *ecs.DescribeServicesInput,
	_ ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	return do(f, "DescribeServices", f.describeServices, in)
}

func (f *fakeAPI) ListServices(_ context.Context, in *ecs.ListServicesInput,
	_ ...func(*ecs.Options)) (*ecs.ListServicesOutput, error) {
	return do(f, "ListServices", f.listServices, in)
}

func (f *fakeAPI) UpdateService(_ context.Context, in *ecs.UpdateServiceInput,
	_ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	return do(f, "UpdateService", f.updateService, in)
}

func (f *fakeAPI) ListTasks(_ context.Context, in *ecs.ListTasksInput,
	_ ...func(*ecs.Options)) (*ecs.ListTasksOutput, error) {
	return do(f, "ListTasks", f.listTasks, in)
}

func (f *fakeAPI) DescribeTasks(_ context.Context, in *ecs.DescribeTasksInput,
	_ ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error) {
	return do(f, "DescribeTasks", f.describeTasks, in)
}

func (f *fakeAPI) StopTask(_ context.Context, in *ecs.StopTaskInput,
	_ ...func(*ecs.Options)) (*ecs.StopTaskOutput, error) {
	return do(f, "StopTask", f.stopTask, in)
}

func (f *fakeAPI) ExecuteCommand(_ context.Context, in *ecs.ExecuteCommandInput,
	_ ...func(*ecs.Options)) (*ecs.ExecuteCommandOutput, error) {
	return do(f, "ExecuteCommand", f.executeCommand, in)
}

func (f *fakeAPI) TagResource(_ context.Context, in *ecs.TagResourceInput,
	_ ...func(*ecs.Options)) (*ecs.TagResourceOutput, error) {
	return do(f, "TagResource", f.tagResource, in)
}

func (f *fakeAPI) UntagResource(_ context.Context, in *ecs.UntagResourceInput,
	_ ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error) {
	return do(f, "UntagResource", f.untagResource, in)
}

// Names used throughout the tests.
const (
	testRegion     = "eu-west-1"
	testAccount    = "123456789012"
	testCluster    = "breakglass-ECS-DEMO"
	testService    = "breakglass-EFS-Util-DEMO"
	testContainer  = "efs_util"
	testTaskID     = "0123456789abcdef0123456789abcdef"
	testRuntimeID  = "0123456789abcdef0123456789abcdef-3107182542"
	testClusterARN = "arn:aws:ecs:" + testRegion + ":" + testAccount + ":cluster/" + testCluster
	testServiceARN = "arn:aws:ecs:" + testRegion + ":" + testAccount + ":service/" + testCluster +
		"/" + testService
	testTaskARN = "arn:aws:ecs:" + testRegion + ":" + testAccount + ":task/" + testCluster + "/" +
		testTaskID
)

var testTarget = Target{Cluster: testCluster, Service: testService, Container: testContainer}

func serviceARN(name string) string {
	return "arn:aws:ecs:" + testRegion + ":" + testAccount + ":service/" + testCluster + "/" + name
}

func clusterARN(name string) string {
	return "arn:aws:ecs:" + testRegion + ":" + testAccount + ":cluster/" + name
}

// taskOpt changes a task built by newTask.
type taskOpt func(*types.Task)

// newTask returns a task of the test service in lastStatus status whose
// single container has an exec agent in agentStatus ("" for no agent).
func newTask(status, agentStatus string, opts ...taskOpt) types.Task {
	ctr := types.Container{
		Name:       aws.String(testContainer),
		LastStatus: aws.String("PENDING"),
		RuntimeId:  aws.String(testRuntimeID),
	}
	if status == "RUNNING" {
		ctr.LastStatus = aws.String("RUNNING")
	}
	if agentStatus != "" {
		ctr.ManagedAgents = []types.ManagedAgent{{
			Name:       types.ManagedAgentNameExecuteCommandAgent,
			LastStatus: aws.String(agentStatus),
		}}
	}
	t := types.Task{
		TaskArn:              aws.String(testTaskARN),
		ClusterArn:           aws.String(testClusterARN),
		LastStatus:           aws.String(status),
		DesiredStatus:        aws.String("RUNNING"),
		EnableExecuteCommand: true,
		Group:                aws.String("service:" + testService),
		Containers:           []types.Container{ctr},
	}
	for _, o := range opts {
		o(&t)
	}
	return t
}

func stopped(code types.TaskStopCode, reason string) taskOpt {
	return func(t *types.Task) {
		t.LastStatus = aws.String("STOPPED")
		t.DesiredStatus = aws.String("STOPPED")
		t.StopCode = code
		t.StoppedReason = aws.String(reason)
	}
}

func apiErr(code, msg string) error {
	return &smithy.OperationError{
		ServiceID:     "ECS",
		OperationName: "Op",
		Err:           &smithy.GenericAPIError{Code: code, Message: msg},
	}
}

// session is a successful ExecuteCommand answer.
func session() *ecs.ExecuteCommandOutput {
	return &ecs.ExecuteCommandOutput{
		ClusterArn:    aws.String(testClusterARN),
		TaskArn:       aws.String(testTaskARN),
		ContainerName: aws.String(testContainer),
		Interactive:   true,
		Session: &types.Session{
			SessionId:  aws.String("ecs-execute-command-05907f33b122d680e"),
			StreamUrl:  aws.String("wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/x"),
			TokenValue: aws.String("secret-token"),
		},
	}
}

// managedService returns a described breakglass service.
func managedService(name string, desired int32, tags ...types.Tag) types.Service {
	return types.Service{
		ServiceName:          aws.String(name),
		ServiceArn:           aws.String(serviceARN(name)),
		ClusterArn:           aws.String(testClusterARN),
		Status:               aws.String("ACTIVE"),
		DesiredCount:         desired,
		EnableExecuteCommand: true,
		Tags: append([]types.Tag{{
			Key: aws.String("breakglass:managed"), Value: aws.String("true"),
		}}, tags...),
	}
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
