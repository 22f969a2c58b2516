package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// describeFrom answers DescribeServices from a set of services by name,
// with a MISSING failure for any other.
func describeFrom(svcs ...types.Service) func(*ecs.DescribeServicesInput) (
	*ecs.DescribeServicesOutput, error) {
	return func(in *ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
		out := &ecs.DescribeServicesOutput{}
	next:
		for _, want := range in.Services {
			for _, s := range svcs {
				if want == deref(s.ServiceName) || want == deref(s.ServiceArn) {
					if len(in.Include) == 0 {
						s.Tags = nil // tags only come with include TAGS
					}
					out.Services = append(out.Services, s)
					continue next
				}
			}
			out.Failures = append(out.Failures, types.Failure{
				Arn: aws.String(serviceARN(lastSegment(want))), Reason: aws.String("MISSING"),
			})
		}
		return out, nil
	}
}

func listFrom(svcs ...types.Service) func(*ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
	return func(*ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
		out := &ecs.ListServicesOutput{}
		for _, s := range svcs {
			out.ServiceArns = append(out.ServiceArns, deref(s.ServiceArn))
		}
		return out, nil
	}
}

func plainService(name string) types.Service {
	s := managedService(name, 2)
	s.Tags = []types.Tag{tag("team", "app")}
	return s
}

func TestPreflight(t *testing.T) {
	efs := managedService(testService, 0)
	app := plainService("breakglass-App-DEMO")
	other := managedService("breakglass-Other-DEMO", 0)

	tests := []struct {
		name     string
		target   Target
		api      *fakeAPI
		wantKind Kind
		wantErr  bool
		wantMsg  []string
		wantHint []string
		notHint  []string
		calls    int // API calls expected, 0 to skip
	}{
		{
			name:   "a breakglass service with exec enabled passes with a single call",
			target: testTarget,
			api:    &fakeAPI{describeServices: describeFrom(efs, app)},
			calls:  1,
		},
		{
			name: "cluster and service may be given as ARNs",
			target: Target{Cluster: testClusterARN, Service: testServiceARN,
				Container: testContainer},
			api:   &fakeAPI{describeServices: describeFrom(efs)},
			calls: 1,
		},
		{
			name:   "an unknown cluster is reported with the environments that exist",
			target: Target{Cluster: "breakglass-ECS-DEMX", Service: testService},
			api: &fakeAPI{
				describeServices: func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
					return nil, apiErr("ClusterNotFoundException", "Cluster not found.")
				},
				listClusters: func(*ecs.ListClustersInput) (*ecs.ListClustersOutput, error) {
					return &ecs.ListClustersOutput{ClusterArns: []string{
						clusterARN("breakglass-ECS-PROD"), clusterARN(testCluster),
						clusterARN("payments"),
					}}, nil
				},
			},
			wantErr:  true,
			wantKind: KindClusterNotFound,
			wantMsg:  []string{"cluster breakglass-ECS-DEMX not found"},
			wantHint: []string{"environments of breakglass in this region: DEMO, PROD"},
			notHint:  []string{"payments"},
		},
		{
			name:   "an unknown cluster in an empty region points at the region",
			target: Target{Cluster: testCluster, Service: testService},
			api: &fakeAPI{
				describeServices: func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
					return nil, apiErr("ClusterNotFoundException", "Cluster not found.")
				},
				listClusters: func(*ecs.ListClustersInput) (*ecs.ListClustersOutput, error) {
					return &ecs.ListClustersOutput{}, nil
				},
			},
			wantErr:  true,
			wantKind: KindClusterNotFound,
			wantHint: []string{"no ECS clusters in this region", "--region"},
		},
		{
			name:   "an unknown service is reported with the breakglass services that exist",
			target: Target{Cluster: testCluster, Service: "breakglass-EFS-Utl-DEMO"},
			api: &fakeAPI{
				describeServices: describeFrom(efs, app, other),
				listServices:     listFrom(efs, app, other),
			},
			wantErr:  true,
			wantKind: KindServiceNotFound,
			wantMsg:  []string{"service breakglass-EFS-Utl-DEMO not found in cluster " + testCluster},
			wantHint: []string{"breakglass services in cluster breakglass-ECS-DEMO: " +
				"EFS-Util (breakglass-EFS-Util-DEMO), Other (breakglass-Other-DEMO)"},
			notHint: []string{"App"},
		},
		{
			name:   "an unknown service in a cluster without breakglass services says there are none",
			target: Target{Cluster: testCluster, Service: "breakglass-EFS-Util-DEMO"},
			api: &fakeAPI{
				describeServices: describeFrom(app),
				listServices:     listFrom(app),
			},
			wantErr:  true,
			wantKind: KindServiceNotFound,
			wantHint: []string{"there are no breakglass services"},
		},
		{
			name:   "a draining service is refused as inactive",
			target: testTarget,
			api: &fakeAPI{describeServices: describeFrom(func() types.Service {
				s := efs
				s.Status = aws.String("DRAINING")
				return s
			}())},
			wantErr:  true,
			wantKind: KindInactive,
			wantMsg:  []string{"is DRAINING"},
		},
		{
			name:   "an untagged service is refused, saying why scaling it would be an outage",
			target: Target{Cluster: testCluster, Service: "breakglass-App-DEMO"},
			api: &fakeAPI{
				describeServices: describeFrom(efs, app),
				listServices:     listFrom(efs, app),
			},
			wantErr:  true,
			wantKind: KindNotBreakglass,
			wantMsg: []string{"refusing to scale service breakglass-App-DEMO in cluster " +
				testCluster, "not a breakglass service", "breakglass:managed=true"},
			wantHint: []string{"outage", "EFS-Util (breakglass-EFS-Util-DEMO)"},
		},
		{
			name:   "a service tagged managed=false is not a breakglass service",
			target: testTarget,
			api: &fakeAPI{describeServices: describeFrom(func() types.Service {
				s := efs
				s.Tags = []types.Tag{tag("breakglass:managed", "false")}
				return s
			}())},
			wantErr:  true,
			wantKind: KindNotBreakglass,
		},
		{
			name:   "a service without exec is refused with the command that enables it",
			target: testTarget,
			api: &fakeAPI{describeServices: describeFrom(func() types.Service {
				s := efs
				s.EnableExecuteCommand = false
				return s
			}())},
			wantErr:  true,
			wantKind: KindExecDisabled,
			wantMsg:  []string{"ECS Exec is not enabled on service " + testService},
			wantHint: []string{"aws ecs update-service --cluster breakglass-ECS-DEMO --service " +
				"breakglass-EFS-Util-DEMO --enable-execute-command", "CDK app"},
		},
		{
			name:   "access denied names the action to grant",
			target: testTarget,
			api: &fakeAPI{
				describeServices: func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
					return nil, apiErr("AccessDeniedException", "User: arn:aws:iam::1:user/bob is "+
						"not authorized to perform: ecs:DescribeServices on resource: x")
				},
			},
			wantErr:  true,
			wantKind: KindAccessDenied,
			wantMsg:  []string{"describe service " + testService + " in cluster " + testCluster},
			wantHint: []string{"ecs:DescribeServices", "operator policy"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(tc.api, Options{})
			svc, err := c.Preflight(context.Background(), tc.target)
			for _, op := range []string{"UpdateService", "TagResource", "UntagResource", "StopTask"} {
				if n := tc.api.count(op); n != 0 {
					t.Errorf("Preflight called %s %d times, want no change in AWS", op, n)
				}
			}
			if tc.calls != 0 && tc.api.count("") != tc.calls {
				t.Errorf("Preflight made %d calls, want %d", tc.api.count(""), tc.calls)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Preflight: %v", err)
				}
				if svc.Name != testService || svc.ARN != testServiceARN || !svc.Managed() ||
					!svc.ExecEnabled || svc.Status != "ACTIVE" {
					t.Errorf("Preflight service = %+v", svc)
				}
				in := tc.api.recorded()[0].in.(*ecs.DescribeServicesInput)
				if len(in.Include) != 1 || in.Include[0] != types.ServiceFieldTags {
					t.Errorf("DescribeServices include = %v, want TAGS", in.Include)
				}
				return
			}
			checkError(t, err, tc.wantKind, tc.wantMsg, tc.wantHint, tc.notHint)
		})
	}
}

// checkError checks err's kind and that its message and hint contain, or
// do not contain, the given texts.
func checkError(t *testing.T, err error, kind Kind, msg, hint, notHint []string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want a *Error", err, err)
	}
	if e.Kind != kind {
		t.Errorf("kind = %v, want %v (error: %v)", e.Kind, kind, err)
	}
	for _, m := range msg {
		if !strings.Contains(e.Error(), m) {
			t.Errorf("error %q does not contain %q", e.Error(), m)
		}
	}
	for _, h := range hint {
		if !strings.Contains(e.Hint(), h) {
			t.Errorf("hint %q does not contain %q", e.Hint(), h)
		}
	}
	for _, h := range notHint {
		if strings.Contains(e.Hint(), h) {
			t.Errorf("hint %q contains %q", e.Hint(), h)
		}
	}
	if strings.HasSuffix(e.Error(), ".") {
		t.Errorf("error %q ends with a period", e.Error())
	}
}

func TestListManagedDescribesInChunksOfTen(t *testing.T) {
	var all []types.Service
	for i := range 23 {
		s := managedService(fmt.Sprintf("breakglass-S%02d-DEMO", i), 0)
		if i%2 == 1 {
			s = plainService(fmt.Sprintf("breakglass-S%02d-DEMO", i))
		}
		all = append(all, s)
	}
	f := &fakeAPI{describeServices: describeFrom(all...)}
	// Two pages, as ListServices returns at most 100 (here: 15 then 8).
	f.listServices = func(in *ecs.ListServicesInput) (*ecs.ListServicesOutput, error) {
		page := all[:15]
		out := &ecs.ListServicesOutput{NextToken: aws.String("p2")}
		if deref(in.NextToken) == "p2" {
			page, out.NextToken = all[15:], nil
		}
		for _, s := range page {
			out.ServiceArns = append(out.ServiceArns, deref(s.ServiceArn))
		}
		return out, nil
	}
	c := New(f, Options{})
	got, err := c.listManaged(context.Background(), testCluster)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 12 {
		t.Errorf("listManaged returned %d services, want the 12 tagged ones", len(got))
	}
	var sizes []int
	for _, c := range f.recorded() {
		if in, ok := c.in.(*ecs.DescribeServicesInput); ok {
			sizes = append(sizes, len(in.Services))
		}
	}
	if fmt.Sprint(sizes) != "[10 10 3]" {
		t.Errorf("DescribeServices chunk sizes = %v, want [10 10 3]", sizes)
	}
}
