package ecs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestWatchTask(t *testing.T) {
	gone := &ecs.DescribeTasksOutput{Failures: []types.Failure{{
		Arn: aws.String(testTaskARN), Reason: aws.String("MISSING")}}}
	running := &ecs.DescribeTasksOutput{Tasks: []types.Task{newTask("RUNNING", "RUNNING")}}
	stopping := &ecs.DescribeTasksOutput{Tasks: []types.Task{newTask("RUNNING", "RUNNING",
		func(t *types.Task) {
			t.LastStatus = aws.String("DEACTIVATING")
			t.DesiredStatus = aws.String("STOPPED")
			t.StopCode = types.TaskStopCodeServiceSchedulerInitiated
			t.StoppedReason = aws.String("Scaling activity initiated by (deployment ecs-svc/1)")
		})}}
	stoppedOut := &ecs.DescribeTasksOutput{Tasks: []types.Task{newTask("STOPPED", "STOPPED",
		stopped(types.TaskStopCodeEssentialContainerExited, "Essential container in task exited"),
		func(t *types.Task) { t.Containers[0].ExitCode = aws.Int32(137) })}}

	type answer struct {
		out *ecs.DescribeTasksOutput
		err error
	}
	tests := []struct {
		name      string
		answers   []answer // then the last repeats
		wantCode  string
		wantMsg   []string
		wantPolls int
	}{
		{
			name:     "a task that stops ends the watch with its stop code and exit code",
			answers:  []answer{{out: running}, {out: running}, {out: stoppedOut}},
			wantCode: "EssentialContainerExited", wantPolls: 3,
			wantMsg: []string{"task " + testTaskID + " stopped", "exit code 137"},
		},
		{
			name:     "a task being stopped ends the watch before it is STOPPED",
			answers:  []answer{{out: stopping}},
			wantCode: "ServiceSchedulerInitiated", wantPolls: 1,
			wantMsg: []string{"is stopping"},
		},
		{
			name: "errors do not end the watch",
			answers: []answer{
				{err: throttled()},
				{err: apiErr("AccessDeniedException", "denied")},
				{err: apiErr("ExpiredTokenException", "expired")},
				{out: running},
				{out: stoppedOut},
			},
			wantCode: "EssentialContainerExited", wantPolls: 5,
		},
		{
			name:      "a task ECS no longer knows counts as stopped",
			answers:   []answer{{out: running}, {out: gone}},
			wantPolls: 2,
			wantMsg:   []string{"no longer exists"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			start := clock.Now()
			n := 0
			f := &fakeAPI{clock: clock}
			f.describeTasks = func(*ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
				a := tc.answers[min(n, len(tc.answers)-1)]
				n++
				return a.out, a.err
			}
			c := New(f, Options{Sleep: clock.Sleep, Now: clock.Now})
			err := c.WatchTask(context.Background(), testCluster, testTaskARN)

			checkError(t, err, KindTaskStopped, tc.wantMsg, nil, nil)
			var e *Error
			errors.As(err, &e)
			if e.StopCode != tc.wantCode {
				t.Errorf("StopCode = %q, want %q", e.StopCode, tc.wantCode)
			}
			if n != tc.wantPolls {
				t.Errorf("%d polls, want %d", n, tc.wantPolls)
			}
			if got := clock.Now().Sub(start); got != time.Duration(n)*DefaultWatchInterval {
				t.Errorf("watched for %s over %d polls, want one every %s", got, n,
					DefaultWatchInterval)
			}
		})
	}
}

func TestWatchTaskReturnsContextError(t *testing.T) {
	clock := newFakeClock()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	f := &fakeAPI{describeTasks: func(*ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
		n++
		if n == 3 {
			cancel()
		}
		return &ecs.DescribeTasksOutput{Tasks: []types.Task{newTask("RUNNING", "RUNNING")}}, nil
	}}
	err := New(f, Options{Sleep: clock.Sleep, Now: clock.Now}).WatchTask(ctx, testCluster,
		testTaskARN)
	if err != context.Canceled {
		t.Errorf("WatchTask = %v, want context.Canceled", err)
	}
}

func TestCheckTask(t *testing.T) {
	tests := []struct {
		name string
		out  *ecs.DescribeTasksOutput
		err  error
		want Kind // -1: nil error
	}{
		{"a running task is fine", &ecs.DescribeTasksOutput{
			Tasks: []types.Task{newTask("RUNNING", "RUNNING")}}, nil, -1},
		{"a stopped task is reported", &ecs.DescribeTasksOutput{Tasks: []types.Task{
			newTask("STOPPED", "STOPPED", stopped(types.TaskStopCodeUserInitiated, "x"))}},
			nil, KindTaskStopped},
		{"a failed call is classified", nil, apiErr("AccessDeniedException", "denied"),
			KindAccessDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{describeTasks: func(*ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput,
				error) {
				return tc.out, tc.err
			}}
			err := New(f, Options{}).CheckTask(context.Background(), testCluster, testTaskARN)
			if tc.want == -1 {
				if err != nil {
					t.Errorf("CheckTask = %v, want nil", err)
				}
				return
			}
			checkError(t, err, tc.want, nil, nil, nil)
		})
	}
}
