package ecs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestClose(t *testing.T) {
	const otherID = "fedcba9876543210fedcba9876543210"
	otherARN := strings.Replace(testTaskARN, testTaskID, otherID, 1)
	open := managedService(testService, 1, tag(OpenedByTagKey, "alice"),
		tag(OpenedAtTagKey, "2026-01-02T03:04:05Z"))

	tests := []struct {
		name        string
		svc         types.Service
		tasks       []string
		stopErr     map[string]error
		reason      string
		wantKind    Kind
		wantErr     bool
		wantOps     string // the calls, in order
		wantStopped []string
		wantReason  string
	}{
		{
			name:    "an untagged service is refused and nothing is changed",
			svc:     plainService(testService),
			wantErr: true, wantKind: KindNotBreakglass,
			wantOps: "DescribeServices,ListServices,DescribeServices",
		},
		{
			name:        "an open service is scaled to 0, its tasks stopped and its tags removed",
			svc:         open,
			tasks:       []string{testTaskARN, otherARN},
			reason:      "breakglass close by alice",
			wantOps:     "DescribeServices,ListTasks,UpdateService,StopTask,StopTask,UntagResource",
			wantStopped: []string{testTaskID, otherID},
			wantReason:  "breakglass close by alice",
		},
		{
			name:       "a service at rest without tags costs no stop or untag call",
			svc:        managedService(testService, 0),
			wantOps:    "DescribeServices,ListTasks,UpdateService",
			wantReason: "breakglass close",
		},
		{
			name:  "a task that is already gone is not an error",
			svc:   open,
			tasks: []string{testTaskARN, otherARN},
			stopErr: map[string]error{testTaskARN: apiErr("InvalidParameterException",
				"The referenced task was not found.")},
			wantOps:     "DescribeServices,ListTasks,UpdateService,StopTask,StopTask,UntagResource",
			wantStopped: []string{otherID},
			wantReason:  "breakglass close",
		},
		{
			name:  "a task that cannot be stopped is an error after the others were tried",
			svc:   open,
			tasks: []string{testTaskARN, otherARN},
			stopErr: map[string]error{testTaskARN: apiErr("AccessDeniedException",
				"not authorized to perform: ecs:StopTask")},
			wantErr: true, wantKind: KindAccessDenied,
			wantOps:     "DescribeServices,ListTasks,UpdateService,StopTask,StopTask,UntagResource",
			wantStopped: []string{otherID},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{
				describeServices: describeFrom(tc.svc),
				listServices:     listFrom(tc.svc),
			}
			var desired []int32
			f.updateService = func(in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
				desired = append(desired, *in.DesiredCount)
				return &ecs.UpdateServiceOutput{}, nil
			}
			f.listTasks = func(in *ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
				if in.DesiredStatus != types.DesiredStatusRunning {
					t.Errorf("ListTasks desired status %q, want RUNNING", in.DesiredStatus)
				}
				return &ecs.ListTasksOutput{TaskArns: tc.tasks}, nil
			}
			var reasons []string
			f.stopTask = func(in *ecs.StopTaskInput) (*ecs.StopTaskOutput, error) {
				reasons = append(reasons, deref(in.Reason))
				return &ecs.StopTaskOutput{}, tc.stopErr[deref(in.Task)]
			}
			var untagged []string
			f.untagResource = func(in *ecs.UntagResourceInput) (*ecs.UntagResourceOutput, error) {
				if deref(in.ResourceArn) != testServiceARN {
					t.Errorf("UntagResource on %q, want the service ARN", deref(in.ResourceArn))
				}
				untagged = in.TagKeys
				return &ecs.UntagResourceOutput{}, nil
			}

			res, err := New(f, Options{}).Close(context.Background(), testTarget, tc.reason)

			var ops []string
			for _, c := range f.recorded() {
				ops = append(ops, c.op)
			}
			if got := strings.Join(ops, ","); got != tc.wantOps {
				t.Errorf("calls = %s\nwant    %s", got, tc.wantOps)
			}
			if tc.wantErr {
				checkError(t, err, tc.wantKind, nil, nil, nil)
			} else if err != nil {
				t.Fatalf("Close: %v", err)
			}
			if tc.wantKind == KindNotBreakglass {
				return
			}
			if fmt.Sprint(desired) != "[0]" {
				t.Errorf("UpdateService desired counts = %v, want [0]", desired)
			}
			if res.PreviousDesired != tc.svc.DesiredCount {
				t.Errorf("PreviousDesired = %d, want %d", res.PreviousDesired, tc.svc.DesiredCount)
			}
			if fmt.Sprint(res.StoppedTasks) != fmt.Sprint(tc.wantStopped) {
				t.Errorf("StoppedTasks = %v, want %v", res.StoppedTasks, tc.wantStopped)
			}
			for _, r := range reasons {
				if tc.wantReason != "" && r != tc.wantReason {
					t.Errorf("StopTask reason = %q, want %q", r, tc.wantReason)
				}
			}
			if len(untagged) > 0 && fmt.Sprint(untagged) !=
				fmt.Sprint([]string{OpenedByTagKey, OpenedAtTagKey}) {
				t.Errorf("untagged %v", untagged)
			}
		})
	}
}

func TestScaleChangesOnlyTheDesiredCount(t *testing.T) {
	f := &fakeAPI{}
	var got *ecs.UpdateServiceInput
	f.updateService = func(in *ecs.UpdateServiceInput) (*ecs.UpdateServiceOutput, error) {
		got = in
		return &ecs.UpdateServiceOutput{}, nil
	}
	if err := New(f, Options{}).Scale(context.Background(), testTarget, 1); err != nil {
		t.Fatal(err)
	}
	want := ecs.UpdateServiceInput{Cluster: got.Cluster, Service: got.Service,
		DesiredCount: got.DesiredCount}
	if deref(got.Cluster) != testCluster || deref(got.Service) != testService ||
		*got.DesiredCount != 1 || fmt.Sprintf("%+v", *got) != fmt.Sprintf("%+v", want) {
		t.Errorf("UpdateService input = %+v, want only cluster, service and desired count 1", *got)
	}
}

func TestMarkOpenAndClearOpen(t *testing.T) {
	clock := newFakeClock()
	clock.now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	f := &fakeAPI{}
	var tags map[string]string
	f.tagResource = func(in *ecs.TagResourceInput) (*ecs.TagResourceOutput, error) {
		if deref(in.ResourceArn) != testServiceARN {
			t.Errorf("TagResource on %q", deref(in.ResourceArn))
		}
		tags = tagMap(in.Tags)
		return &ecs.TagResourceOutput{}, nil
	}
	f.untagResource = func(in *ecs.UntagResourceInput) (*ecs.UntagResourceOutput, error) {
		return nil, apiErr("AccessDeniedException", "not authorized to perform: ecs:UntagResource")
	}
	c := New(f, Options{Now: clock.Now})

	if err := c.MarkOpen(context.Background(), testServiceARN, "alice (ops) <a@x.io>"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		OpenedByTagKey: "alice _ops_ _a@x.io_",
		OpenedAtTagKey: "2026-03-04T04:06:07Z",
	}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Errorf("tags = %v, want %v", tags, want)
	}

	err := c.ClearOpen(context.Background(), testServiceARN)
	checkError(t, err, KindAccessDenied, []string{"remove opened tags from service " + testService},
		[]string{"ecs:UntagResource"}, nil)
}

func TestTagValueIsShortened(t *testing.T) {
	if got := tagValue(strings.Repeat("x", 300)); len(got) != 256 {
		t.Errorf("tagValue of 300 characters has %d, want 256", len(got))
	}
	if got := tagValue(""); got != "unknown" {
		t.Errorf("tagValue(\"\") = %q", got)
	}
}
