package ecs

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// statusWorld is an account with clusters holding services and tasks.
type statusWorld struct {
	clusters map[string][]types.Service // cluster name → services
	tasks    map[string][]types.Task    // service name → tasks
}

func (w statusWorld) api() *fakeAPI {
	f := &fakeAPI{}
	f.listClusters = func(*ecs.ListClustersInput) (*ecs.ListClustersOutput, error) {
		out := &ecs.ListClustersOutput{}
		for name := range w.clusters {
			out.ClusterArns = append(out.ClusterArns, clusterARN(name))
		}
		return out, nil
	}
	svcs := func(cluster string) ([]types.Service, error) {
		s, ok := w.clusters[lastSegment(cluster)]
		if !ok {
			return nil, apiErr("ClusterNotFoundException", "Cluster not found.")
		}
		return s, nil
	}
	f.listServices = func(in *ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
		s, err := svcs(deref(in.Cluster))
		if err != nil {
			return nil, err
		}
		return listFrom(s...)(in)
	}
	f.describeServices = func(in *ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
		s, err := svcs(deref(in.Cluster))
		if err != nil {
			return nil, err
		}
		return describeFrom(s...)(in)
	}
	f.listTasks = func(in *ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
		out := &ecs.ListTasksOutput{}
		for _, t := range w.tasks[deref(in.ServiceName)] {
			out.TaskArns = append(out.TaskArns, deref(t.TaskArn))
		}
		return out, nil
	}
	f.describeTasks = func(in *ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
		out := &ecs.DescribeTasksOutput{}
		for _, arn := range in.Tasks {
			for _, ts := range w.tasks {
				for _, t := range ts {
					if deref(t.TaskArn) == arn {
						out.Tasks = append(out.Tasks, t)
					}
				}
			}
		}
		return out, nil
	}
	return f
}

const paymentsTaskID = "99999999999999999999999999999999"

func testWorld() statusWorld {
	prodSvc := managedService("breakglass-EFS-Util-PROD", 0)
	prodSvc.ClusterArn = aws.String(clusterARN("breakglass-ECS-PROD"))
	open := managedService(testService, 1, tag(OpenedByTagKey, "alice"),
		tag(OpenedAtTagKey, "2026-01-02T03:04:05Z"))
	open.RunningCount = 1
	started := time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)
	return statusWorld{
		clusters: map[string][]types.Service{
			testCluster: {
				open,
				managedService("breakglass-Data-DEMO", 0),
				plainService("breakglass-App-DEMO"),
			},
			"breakglass-ECS-PROD": {prodSvc},
			"payments":            {managedService("payments-api", 1)},
		},
		tasks: map[string][]types.Task{
			testService: {newTask("RUNNING", "RUNNING", func(t *types.Task) {
				t.StartedAt = &started
			})},
			"payments-api": {newTask("RUNNING", "RUNNING", func(t *types.Task) {
				t.TaskArn = aws.String(clusterARN("payments") + "/" + paymentsTaskID)
			})},
		},
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		name     string
		env      string
		service  string
		o        naming.Overrides
		want     []string // "ENV/SERVICE ecs-name desired/running opened-by tasks"
		wantKind Kind
		wantErr  bool
		wantHint []string
	}{
		{
			name: "every environment lists only breakglass services, sorted, with names derived",
			want: []string{
				"DEMO/Data breakglass-Data-DEMO 0/0 - []",
				"DEMO/EFS-Util breakglass-EFS-Util-DEMO 1/1 alice [" + testTaskID +
					" RUNNING/RUNNING agent RUNNING]",
				"PROD/EFS-Util breakglass-EFS-Util-PROD 0/0 - []",
			},
		},
		{
			name: "one environment lists its breakglass services",
			env:  "PROD",
			want: []string{"PROD/EFS-Util breakglass-EFS-Util-PROD 0/0 - []"},
		},
		{
			name:    "one service of one environment",
			env:     "DEMO",
			service: "EFS-Util",
			want: []string{"DEMO/EFS-Util breakglass-EFS-Util-DEMO 1/1 alice [" + testTaskID +
				" RUNNING/RUNNING agent RUNNING]"},
		},
		{
			name:     "an unknown environment is an error naming the ones that exist",
			env:      "DEMX",
			wantErr:  true,
			wantKind: KindClusterNotFound,
			wantHint: []string{"DEMO, PROD"},
		},
		{
			name:     "an unknown service is an error listing the breakglass services",
			env:      "DEMO",
			service:  "EFS-Utl",
			wantErr:  true,
			wantKind: KindServiceNotFound,
			wantHint: []string{"Data (breakglass-Data-DEMO), EFS-Util (breakglass-EFS-Util-DEMO)"},
		},
		{
			name:     "a service that is not a breakglass service is an error, not a line",
			env:      "DEMO",
			service:  "App",
			wantErr:  true,
			wantKind: KindNotBreakglass,
		},
		{
			name:     "a service without an environment is refused",
			service:  "EFS-Util",
			wantErr:  true,
			wantKind: KindOther,
		},
		{
			name:     "an invalid environment is refused before any call",
			env:      "DE MO",
			wantErr:  true,
			wantKind: KindOther,
		},
		{
			name: "a --cluster override lists that cluster",
			o:    naming.Overrides{Cluster: "payments"},
			want: []string{"/payments-api payments-api 1/0 - [" + paymentsTaskID +
				" RUNNING/RUNNING agent RUNNING]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testWorld().api()
			got, err := New(f, Options{}).Status(context.Background(), "", tc.env, tc.service, tc.o)
			if tc.wantErr {
				checkError(t, err, tc.wantKind, nil, tc.wantHint, nil)
				return
			}
			if err != nil {
				t.Fatalf("Status: %v", err)
			}
			var lines []string
			for _, s := range got {
				lines = append(lines, statusLine(s))
			}
			if strings.Join(lines, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("Status =\n%s\nwant\n%s", strings.Join(lines, "\n"),
					strings.Join(tc.want, "\n"))
			}
		})
	}
}

func statusLine(s ServiceStatus) string {
	by := s.OpenedBy
	if by == "" {
		by = "-"
	}
	var tasks []string
	for _, t := range s.Tasks {
		tasks = append(tasks, fmt.Sprintf("%s %s/%s agent %s", t.ID, t.LastStatus,
			t.DesiredStatus, t.AgentStatus))
	}
	return fmt.Sprintf("%s/%s %s %d/%d %s [%s]", s.Env, s.Service, s.ECSService, s.Desired,
		s.Running, by, strings.Join(tasks, ", "))
}

func TestStatusFields(t *testing.T) {
	f := testWorld().api()
	got, err := New(f, Options{}).Status(context.Background(), "breakglass", "DEMO", "EFS-Util",
		naming.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	s := got[0]
	if s.Cluster != testCluster || s.ARN != testServiceARN || s.Status != "ACTIVE" ||
		!s.ExecEnabled || !s.OpenedAt.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("status = %+v", s)
	}
	if ts := s.Tasks[0]; ts.ARN != testTaskARN ||
		!ts.StartedAt.Equal(time.Date(2026, 1, 2, 3, 4, 30, 0, time.UTC)) {
		t.Errorf("task status = %+v", ts)
	}
}

func TestStatusSkipsTaskCallsForServicesAtRest(t *testing.T) {
	f := testWorld().api()
	if _, err := New(f, Options{}).Status(context.Background(), "", "PROD", "",
		naming.Overrides{}); err != nil {
		t.Fatal(err)
	}
	if n := f.count("ListTasks") + f.count("DescribeTasks"); n != 0 {
		t.Errorf("%d task calls for services at rest, want 0", n)
	}
}
