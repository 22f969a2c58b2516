package ecs

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// TaskStatus is one task of a breakglass service.
type TaskStatus struct {
	ID            string
	ARN           string
	LastStatus    string
	DesiredStatus string
	AgentStatus   string // the exec agent of the service's container; "" if none
	StartedAt     time.Time
	CreatedAt     time.Time
	StopCode      string
	StoppedReason string
}

// ServiceStatus is the state of one breakglass service.
type ServiceStatus struct {
	Env         string // environment, "" when the cluster is not named by the convention
	Service     string // SERVICE as the user types it, else the ECS name
	Cluster     string // cluster name
	ECSService  string // ECS service name
	ARN         string
	Status      string
	Desired     int32
	Running     int32
	Pending     int32
	ExecEnabled bool
	OpenedBy    string    // from the breakglass:opened-by tag
	OpenedAt    time.Time // from the breakglass:opened-at tag
	Tasks       []TaskStatus
}

// Status lists breakglass services (tagged breakglass:managed=true; never
// any other) with their tasks, sorted by environment and service. An empty
// env means every cluster whose name follows the convention for project;
// an empty service means every breakglass service of the environment. An
// explicit environment or service that does not exist, or a service that
// is not a breakglass service, is an error as in Preflight. Overrides
// replace the derived cluster, service and container names.
func (c *Client) Status(ctx context.Context, project, env, service string,
	o naming.Overrides) ([]ServiceStatus, error) {
	if project == "" {
		project = naming.DefaultProject
	}
	if err := validateStatusArgs(project, env, service, o); err != nil {
		return nil, err
	}

	clusters, err := c.statusClusters(ctx, project, env, o)
	if err != nil {
		return nil, err
	}
	explicit := env != "" || o.Cluster != ""

	var out []ServiceStatus
	for _, cl := range clusters {
		svcs, err := c.statusServices(ctx, project, cl, service, o)
		if err != nil {
			if !explicit && KindOf(err) == KindClusterNotFound {
				continue // deleted since ListClusters
			}
			return nil, err
		}
		tasks, err := c.serviceTasks(ctx, cl.name, svcs)
		if err != nil {
			return nil, err
		}
		for _, s := range svcs {
			out = append(out, serviceStatus(project, cl, s, tasks[s.Name], o))
		}
	}

	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Env != b.Env {
			return a.Env < b.Env
		}
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		return a.ECSService < b.ECSService
	})
	return out, nil
}

func validateStatusArgs(project, env, service string, o naming.Overrides) error {
	checks := []struct{ field, value string }{
		{"project", project}, {"environment", env}, {"service", service},
		{"--cluster", o.Cluster}, {"--service", o.Service}, {"--container", o.Container},
	}
	for _, ch := range checks {
		if ch.value == "" && ch.field != "project" {
			continue
		}
		if err := naming.Validate(ch.field, ch.value); err != nil {
			e := &Error{Kind: KindOther, Op: "status", Msg: err.Error(), Err: err}
			var ne *naming.Error
			if errors.As(err, &ne) {
				e.HintMsg = ne.Hint()
			}
			return e
		}
	}
	if service != "" && env == "" && o.Service == "" {
		return &Error{Kind: KindOther, Op: "status", Msg: "a service needs its environment",
			HintMsg: "run `breakglass status ENV SERVICE`"}
	}
	return nil
}

type statusCluster struct {
	name string // name or ARN to call ECS with
	env  string
}

func (c *Client) statusClusters(ctx context.Context, project, env string,
	o naming.Overrides) ([]statusCluster, error) {
	switch {
	case o.Cluster != "":
		if env == "" {
			env, _ = naming.EnvFromCluster(project, lastSegment(o.Cluster))
		}
		return []statusCluster{{name: o.Cluster, env: env}}, nil
	case env != "":
		return []statusCluster{{name: naming.ClusterName(project, env), env: env}}, nil
	}

	names, err := c.listClusterNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []statusCluster
	for _, n := range names {
		if e, ok := naming.EnvFromCluster(project, n); ok {
			out = append(out, statusCluster{name: n, env: e})
		}
	}
	return out, nil
}

// statusServices returns the breakglass services of a cluster, or the one
// named service.
func (c *Client) statusServices(ctx context.Context, project string, cl statusCluster,
	service string, o naming.Overrides) ([]*Service, error) {
	if service == "" {
		managed, err := c.listManaged(ctx, cl.name)
		if err != nil {
			if KindOf(err) == KindClusterNotFound {
				return nil, c.clusterNotFound(ctx, cl.name, err)
			}
			return nil, err
		}
		out := make([]*Service, 0, len(managed))
		for _, s := range managed {
			out = append(out, toService(s))
		}
		return out, nil
	}

	name := o.Service
	if name == "" {
		name = naming.ServiceName(project, cl.env, service)
	}
	t := Target{Cluster: cl.name, Service: name}
	svc, err := c.describeService(ctx, t)
	if err != nil {
		return nil, err
	}
	if !svc.Managed() {
		return nil, c.notBreakglass(ctx, t, "")
	}
	return []*Service{svc}, nil
}

// serviceTasks returns the tasks of services that have any, by service
// name: ListTasks per service, then DescribeTasks for the whole cluster.
func (c *Client) serviceTasks(ctx context.Context, cluster string,
	svcs []*Service) (map[string][]types.Task, error) {
	owner := map[string]string{} // task ARN → service name
	var arns []string
	for _, s := range svcs {
		if s.Desired == 0 && s.Running == 0 && s.Pending == 0 {
			continue // at rest: save the calls
		}
		out, err := c.api.ListTasks(ctx, &ecs.ListTasksInput{
			Cluster:       aws.String(cluster),
			ServiceName:   aws.String(s.Name),
			DesiredStatus: types.DesiredStatusRunning,
		})
		if err != nil {
			e := c.classify("list tasks of service "+s.Name+" in cluster "+lastSegment(cluster), err)
			e.Cluster, e.Service = lastSegment(cluster), s.Name
			return nil, e
		}
		for _, a := range out.TaskArns {
			owner[a] = s.Name
			arns = append(arns, a)
		}
	}

	tasks := map[string][]types.Task{}
	for _, chunk := range chunks(arns, 100) {
		out, err := c.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{
			Cluster: aws.String(cluster),
			Tasks:   chunk,
		})
		if err != nil {
			e := c.classify("describe tasks in cluster "+lastSegment(cluster), err)
			e.Cluster = lastSegment(cluster)
			return nil, e
		}
		for _, t := range out.Tasks {
			name := owner[deref(t.TaskArn)]
			tasks[name] = append(tasks[name], t)
		}
	}
	return tasks, nil
}

func serviceStatus(project string, cl statusCluster, s *Service, tasks []types.Task,
	o naming.Overrides) ServiceStatus {
	st := ServiceStatus{
		Env:         cl.env,
		Service:     s.Name,
		Cluster:     lastSegment(cl.name),
		ECSService:  s.Name,
		ARN:         s.ARN,
		Status:      s.Status,
		Desired:     s.Desired,
		Running:     s.Running,
		Pending:     s.Pending,
		ExecEnabled: s.ExecEnabled,
		OpenedBy:    s.Tags[OpenedByTagKey],
	}
	if cl.env != "" {
		if svc, ok := naming.ServiceFromName(project, cl.env, s.Name); ok {
			st.Service = svc
		}
	}
	if at, err := time.Parse(time.RFC3339, s.Tags[OpenedAtTagKey]); err == nil {
		st.OpenedAt = at
	}

	container := o.Container
	if container == "" && st.Service != s.Name {
		container = naming.ContainerName(st.Service)
	}
	for _, t := range tasks {
		st.Tasks = append(st.Tasks, taskStatus(t, container))
	}
	sort.Slice(st.Tasks, func(i, j int) bool {
		return st.Tasks[i].CreatedAt.Before(st.Tasks[j].CreatedAt)
	})
	return st
}

func taskStatus(t types.Task, container string) TaskStatus {
	ts := TaskStatus{
		ID:            lastSegment(deref(t.TaskArn)),
		ARN:           deref(t.TaskArn),
		LastStatus:    deref(t.LastStatus),
		DesiredStatus: deref(t.DesiredStatus),
		StartedAt:     derefTime(t.StartedAt),
		CreatedAt:     derefTime(t.CreatedAt),
		StopCode:      string(t.StopCode),
		StoppedReason: deref(t.StoppedReason),
	}
	// The agent of the service's own container; failing that, of the
	// only container, or of the first that has one.
	var chosen *types.Container
	for i := range t.Containers {
		if deref(t.Containers[i].Name) == container {
			chosen = &t.Containers[i]
		}
	}
	if chosen == nil && len(t.Containers) == 1 {
		chosen = &t.Containers[0]
	}
	if chosen == nil {
		for i := range t.Containers {
			if execAgent(&t.Containers[i]) != nil {
				chosen = &t.Containers[i]
				break
			}
		}
	}
	if a := execAgent(chosen); a != nil {
		ts.AgentStatus = deref(a.LastStatus)
	}
	return ts
}
