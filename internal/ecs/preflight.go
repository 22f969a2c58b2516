package ecs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// Service is an ECS service as breakglass sees it.
type Service struct {
	ARN         string
	Name        string
	ClusterARN  string
	Status      string // ACTIVE, DRAINING or INACTIVE
	Desired     int32
	Running     int32
	Pending     int32
	ExecEnabled bool
	Tags        map[string]string
	Events      []Event // newest first, as ECS returns them
}

// Event is a service event ("(service X) has started 1 tasks ...").
type Event struct {
	At      time.Time
	Message string
}

// Managed reports whether the service carries breakglass:managed=true.
func (s *Service) Managed() bool {
	return s.Tags[naming.ManagedTagKey] == naming.ManagedTagValue
}

// Preflight checks, in this order and without changing anything, that the
// cluster exists (else KindClusterNotFound), the service exists
// (KindServiceNotFound, whose hint lists the breakglass services that do
// exist there), it is ACTIVE (KindInactive), it is a breakglass service
// (KindNotBreakglass) and ECS Exec is enabled on it (KindExecDisabled). In
// the common case it makes one call, DescribeServices.
func (c *Client) Preflight(ctx context.Context, t Target) (*Service, error) {
	svc, err := c.managedService(ctx, t, "refusing to scale")
	if err != nil {
		return nil, err
	}
	if !svc.ExecEnabled {
		return nil, &Error{
			Kind:    KindExecDisabled,
			Cluster: t.clusterName(),
			Service: t.serviceName(),
			Msg: fmt.Sprintf("ECS Exec is not enabled on service %s in cluster %s",
				t.serviceName(), t.clusterName()),
			HintMsg: fmt.Sprintf("enable it with `aws ecs update-service --cluster %s --service %s "+
				"--enable-execute-command` (the service rests at 0 tasks, so its next task "+
				"gets it), or deploy the breakglass CDK app, which enables it",
				t.clusterName(), t.serviceName()),
		}
	}
	return svc, nil
}

// managedService returns the service t names if it exists, is ACTIVE and
// is a breakglass service, else the error for the first check that fails;
// verb says what a non-breakglass service is refused, as for notBreakglass.
func (c *Client) managedService(ctx context.Context, t Target, verb string) (*Service, error) {
	svc, err := c.describeService(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := checkActive(t, svc); err != nil {
		return nil, err
	}
	if !svc.Managed() {
		return nil, c.notBreakglass(ctx, t, verb)
	}
	return svc, nil
}

// describeService returns the service t names, with its tags, or a
// KindClusterNotFound or KindServiceNotFound error with a helpful hint.
func (c *Client) describeService(ctx context.Context, t Target) (*Service, error) {
	op := fmt.Sprintf("describe service %s in cluster %s", t.serviceName(), t.clusterName())
	out, err := c.api.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(t.Cluster),
		Services: []string{t.Service},
		Include:  []types.ServiceField{types.ServiceFieldTags},
	})
	if err != nil {
		e := c.classify(op, err)
		e.Cluster, e.Service = t.clusterName(), t.serviceName()
		if e.Kind == KindClusterNotFound {
			return nil, c.clusterNotFound(ctx, t.Cluster, e.Err)
		}
		return nil, e
	}

	// An unknown service is not an error but a failure with reason
	// MISSING. A deleted service can still be returned, as INACTIVE, next
	// to a newer ACTIVE one of the same name: prefer the ACTIVE one.
	var found *types.Service
	for i := range out.Services {
		s := &out.Services[i]
		if !sameResource(deref(s.ServiceName), deref(s.ServiceArn), t.Service) {
			continue
		}
		if found == nil || deref(s.Status) == "ACTIVE" {
			found = s
		}
	}
	if found == nil {
		return nil, c.serviceNotFound(ctx, t)
	}
	return toService(*found), nil
}

// sameResource reports whether a service (or cluster) with this name and
// ARN is the one the user named by want, a name or an ARN.
func sameResource(name, arn, want string) bool {
	return want == name || want == arn || lastSegment(want) == name
}

func toService(s types.Service) *Service {
	svc := &Service{
		ARN:         deref(s.ServiceArn),
		Name:        deref(s.ServiceName),
		ClusterARN:  deref(s.ClusterArn),
		Status:      deref(s.Status),
		Desired:     s.DesiredCount,
		Running:     s.RunningCount,
		Pending:     s.PendingCount,
		ExecEnabled: s.EnableExecuteCommand,
		Tags:        tagMap(s.Tags),
	}
	for _, ev := range s.Events {
		svc.Events = append(svc.Events, Event{At: derefTime(ev.CreatedAt), Message: deref(ev.Message)})
	}
	return svc
}

func checkActive(t Target, svc *Service) error {
	if svc.Status == "ACTIVE" || svc.Status == "" {
		return nil
	}
	return &Error{
		Kind:    KindInactive,
		Cluster: t.clusterName(),
		Service: t.serviceName(),
		Msg: fmt.Sprintf("service %s in cluster %s is %s", t.serviceName(), t.clusterName(),
			svc.Status),
		HintMsg: "the service has been deleted or is being deleted; deploy the breakglass " +
			"CDK app again to recreate it",
	}
}

// notBreakglass builds the KindNotBreakglass error; verb is what is refused
// ("refusing to scale") or empty for a plain statement.
func (c *Client) notBreakglass(ctx context.Context, t Target, verb string) *Error {
	hint := fmt.Sprintf("breakglass only scales services tagged %s=%s: scaling an ordinary "+
		"service to 1 and back to 0 would stop the tasks it runs, an outage",
		naming.ManagedTagKey, naming.ManagedTagValue)
	if list := c.managedListHint(ctx, t.Cluster); list != "" {
		hint += "; " + list
	}
	e := &Error{
		Kind:    KindNotBreakglass,
		Cluster: t.clusterName(),
		Service: t.serviceName(),
		Msg: fmt.Sprintf("service %s in cluster %s is not a breakglass service (no tag %s=%s)",
			t.serviceName(), t.clusterName(), naming.ManagedTagKey, naming.ManagedTagValue),
		HintMsg: hint,
	}
	if verb != "" {
		e.Msg = fmt.Sprintf("%s service %s in cluster %s: it is not a breakglass service "+
			"(no tag %s=%s)", verb, t.serviceName(), t.clusterName(),
			naming.ManagedTagKey, naming.ManagedTagValue)
	}
	return e
}

func (c *Client) serviceNotFound(ctx context.Context, t Target) error {
	e := &Error{
		Kind:    KindServiceNotFound,
		Cluster: t.clusterName(),
		Service: t.serviceName(),
		Msg:     fmt.Sprintf("service %s not found in cluster %s", t.serviceName(), t.clusterName()),
	}
	managed, err := c.listManaged(ctx, t.Cluster)
	if err != nil {
		if KindOf(err) == KindClusterNotFound {
			return c.clusterNotFound(ctx, t.Cluster, err)
		}
		e.HintMsg = "check the service name; `breakglass status` lists the breakglass services"
		return e
	}
	e.HintMsg = managedList(t.clusterName(), managed)
	return e
}

// managedListHint lists the breakglass services of a cluster for a hint,
// or returns "" when they cannot be listed.
func (c *Client) managedListHint(ctx context.Context, cluster string) string {
	managed, err := c.listManaged(ctx, cluster)
	if err != nil {
		return ""
	}
	return managedList(lastSegment(cluster), managed)
}

func managedList(cluster string, managed []types.Service) string {
	if len(managed) == 0 {
		return fmt.Sprintf("there are no breakglass services (tagged %s=%s) in cluster %s",
			naming.ManagedTagKey, naming.ManagedTagValue, cluster)
	}
	names := make([]string, 0, len(managed))
	for _, s := range managed {
		names = append(names, displayService(cluster, deref(s.ServiceName)))
	}
	sort.Strings(names)
	return fmt.Sprintf("breakglass services in cluster %s: %s", cluster, strings.Join(names, ", "))
}

// displayService names a service the way the user types it ("EFS-Util")
// when the cluster and service follow the naming convention, followed by
// its ECS name.
func displayService(cluster, ecsName string) string {
	project, env, ok := splitCluster(cluster)
	if !ok {
		return ecsName
	}
	if svc, ok := naming.ServiceFromName(project, env, ecsName); ok {
		return svc + " (" + ecsName + ")"
	}
	return ecsName
}

// splitCluster recovers project and environment from a cluster named
// <project>-ECS-<ENV>.
func splitCluster(cluster string) (project, env string, ok bool) {
	i := strings.Index(cluster, "-ECS-")
	if i <= 0 {
		return "", "", false
	}
	project = cluster[:i]
	env, ok = naming.EnvFromCluster(project, cluster)
	return project, env, ok
}

// listManaged returns the breakglass services of a cluster: ListServices,
// then DescribeServices with tags in chunks of 10 (its limit).
func (c *Client) listManaged(ctx context.Context, cluster string) ([]types.Service, error) {
	op := "list services in cluster " + lastSegment(cluster)
	var arns []string
	var next *string
	for {
		out, err := c.api.ListServices(ctx, &ecs.ListServicesInput{
			Cluster:    aws.String(cluster),
			MaxResults: aws.Int32(100),
			NextToken:  next,
		})
		if err != nil {
			e := c.classify(op, err)
			e.Cluster = lastSegment(cluster)
			return nil, e
		}
		arns = append(arns, out.ServiceArns...)
		if out.NextToken == nil || *out.NextToken == "" {
			break
		}
		next = out.NextToken
	}

	var managed []types.Service
	for _, chunk := range chunks(arns, 10) {
		out, err := c.api.DescribeServices(ctx, &ecs.DescribeServicesInput{
			Cluster:  aws.String(cluster),
			Services: chunk,
			Include:  []types.ServiceField{types.ServiceFieldTags},
		})
		if err != nil {
			e := c.classify("describe services in cluster "+lastSegment(cluster), err)
			e.Cluster = lastSegment(cluster)
			return nil, e
		}
		for _, s := range out.Services {
			if tagMap(s.Tags)[naming.ManagedTagKey] == naming.ManagedTagValue {
				managed = append(managed, s)
			}
		}
	}
	return managed, nil
}

// clusterNotFound builds the KindClusterNotFound error, with a hint naming
// the environments (or clusters) that do exist in the region.
func (c *Client) clusterNotFound(ctx context.Context, cluster string, cause error) *Error {
	name := lastSegment(cluster)
	e := &Error{
		Kind:    KindClusterNotFound,
		Cluster: name,
		Msg:     fmt.Sprintf("cluster %s not found", name),
		Err:     cause,
		HintMsg: "check the environment name and the region (--region or AWS_REGION)",
	}
	names, err := c.listClusterNames(ctx)
	if err != nil {
		return e
	}
	if len(names) == 0 {
		e.HintMsg = "there are no ECS clusters in this region: check --region (or AWS_REGION) " +
			"and --profile"
		return e
	}
	if project, _, ok := splitCluster(name); ok {
		var envs []string
		for _, n := range names {
			if env, ok := naming.EnvFromCluster(project, n); ok {
				envs = append(envs, env)
			}
		}
		if len(envs) > 0 {
			sort.Strings(envs)
			e.HintMsg = fmt.Sprintf("environments of %s in this region: %s", project,
				strings.Join(envs, ", "))
			return e
		}
	}
	sort.Strings(names)
	const max = 10
	if len(names) > max {
		names = append(names[:max], "...")
	}
	e.HintMsg = "clusters in this region: " + strings.Join(names, ", ") +
		"; check the environment name, the naming project (--project, BREAKGLASS_PROJECT or " +
		"the config file) and --region"
	return e
}

// listClusterNames returns the names of all clusters in the region.
func (c *Client) listClusterNames(ctx context.Context) ([]string, error) {
	var names []string
	var next *string
	for {
		out, err := c.api.ListClusters(ctx, &ecs.ListClustersInput{
			MaxResults: aws.Int32(100),
			NextToken:  next,
		})
		if err != nil {
			return nil, c.classify("list clusters", err)
		}
		for _, arn := range out.ClusterArns {
			names = append(names, lastSegment(arn))
		}
		if out.NextToken == nil || *out.NextToken == "" {
			return names, nil
		}
		next = out.NextToken
	}
}
