// Package naming derives the AWS names of a breakglass service from an
// environment and a service name, by the convention shared by the CLI and the
// CDK app:
//
//	cluster       <project>-ECS-<ENV>
//	service       <project>-<SERVICE>-<ENV>
//	container     SERVICE lower-cased, "-" replaced by "_"
//	task family   <project>-<SERVICE>-Task-<ENV>
//
// Every name is validated before it is used, so that a typo is reported
// before any AWS call is made.
package naming

import (
	"fmt"
	"strings"
)

// DefaultProject is the project prefix used when neither --project nor
// BREAKGLASS_PROJECT is set.
const DefaultProject = "breakglass"

// ProjectEnv is the environment variable that sets the project prefix.
const ProjectEnv = "BREAKGLASS_PROJECT"

// ManagedTagKey and ManagedTagValue mark a service as a breakglass service.
// breakglass scales nothing that lacks this tag.
const (
	ManagedTagKey   = "breakglass:managed"
	ManagedTagValue = "true"
)

// maxNameLen is the longest cluster, service or container name ECS accepts.
const maxNameLen = 255

// Names are the AWS names of one breakglass service.
type Names struct {
	Project string // naming prefix, e.g. "breakglass"
	Env     string // environment as given, e.g. "DEMO"
	Service string // service as given, e.g. "EFS-Util"

	Cluster    string // ECS cluster name
	ECSService string // ECS service name
	Container  string // container to exec into
	TaskFamily string // task definition family
}

// Overrides replace derived names; an empty field keeps the derived name.
type Overrides struct {
	Cluster   string
	Service   string
	Container string
}

// Error reports an invalid input. Field names the input ("environment",
// "service", "--cluster", ...).
type Error struct {
	Field  string
	Value  string
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Hint says how to correct the input.
func (e *Error) Hint() string {
	return "names may contain only letters, digits, '-' and '_' (1-255 characters)"
}

// Resolve validates project, env and service and returns the derived names
// with overrides applied. It returns a *Error naming the first bad input.
func Resolve(project, env, service string, o Overrides) (Names, error) {
	if project == "" {
		project = DefaultProject
	}
	checks := []struct{ field, value string }{
		{"project", project},
		{"environment", env},
		{"service", service},
	}
	for _, c := range checks {
		if err := Validate(c.field, c.value); err != nil {
			return Names{}, err
		}
	}

	n := Names{
		Project:    project,
		Env:        env,
		Service:    service,
		Cluster:    ClusterName(project, env),
		ECSService: ServiceName(project, env, service),
		Container:  ContainerName(service),
		TaskFamily: TaskFamily(project, env, service),
	}

	overrides := []struct {
		field string
		value string
		dst   *string
	}{
		{"--cluster", o.Cluster, &n.Cluster},
		{"--service", o.Service, &n.ECSService},
		{"--container", o.Container, &n.Container},
	}
	for _, ov := range overrides {
		if ov.value == "" {
			continue
		}
		if err := Validate(ov.field, ov.value); err != nil {
			return Names{}, err
		}
		*ov.dst = ov.value
	}

	// Derived names add a prefix and suffix, so valid parts can still make
	// a name that is too long.
	derived := []struct{ field, value string }{
		{"cluster name", n.Cluster},
		{"service name", n.ECSService},
		{"task family", n.TaskFamily},
	}
	for _, d := range derived {
		if len(d.value) > maxNameLen {
			return Names{}, &Error{Field: d.field, Value: d.value, Reason: "longer than 255 characters"}
		}
	}
	return n, nil
}

// Validate reports whether value is a valid ECS name part: 1 to 255 letters,
// digits, '-' or '_'. The error is a *Error naming field.
func Validate(field, value string) error {
	if value == "" {
		return &Error{Field: field, Value: value, Reason: "must not be empty"}
	}
	if len(value) > maxNameLen {
		return &Error{Field: field, Value: value, Reason: "longer than 255 characters"}
	}
	for i, r := range value {
		if !isNameRune(r) {
			return &Error{
				Field:  field,
				Value:  value,
				Reason: fmt.Sprintf("character %q at position %d is not allowed", r, i+1),
			}
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// ClusterName returns the cluster of an environment.
func ClusterName(project, env string) string {
	return project + "-ECS-" + env
}

// ServiceName returns the ECS service name of a breakglass service.
func ServiceName(project, env, service string) string {
	return project + "-" + service + "-" + env
}

// ContainerName returns the container name of a breakglass service.
func ContainerName(service string) string {
	return strings.ReplaceAll(strings.ToLower(service), "-", "_")
}

// TaskFamily returns the task definition family of a breakglass service.
func TaskFamily(project, env, service string) string {
	return project + "-" + service + "-Task-" + env
}

// EnvFromCluster returns the environment of a cluster named by the
// convention, and false for any other cluster.
func EnvFromCluster(project, cluster string) (string, bool) {
	env, ok := strings.CutPrefix(cluster, project+"-ECS-")
	if !ok || Validate("environment", env) != nil {
		return "", false
	}
	return env, true
}

// ServiceFromName returns SERVICE of an ECS service named by the convention
// in env, and false for any other name.
func ServiceFromName(project, env, ecsService string) (string, bool) {
	rest, ok := strings.CutPrefix(ecsService, project+"-")
	if !ok {
		return "", false
	}
	svc, ok := strings.CutSuffix(rest, "-"+env)
	if !ok || Validate("service", svc) != nil {
		return "", false
	}
	return svc, true
}
