// Package config reads the breakglass CDK app's settings from CDK context and
// derives every name the stacks use from the naming convention the CLI uses
// (internal/naming), so that infrastructure and CLI agree by construction.
//
// It is plain Go with no jsii dependency: everything here is unit-tested
// without node.
package config

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// Context keys the app reads. Values come from cdk.json's "context", from
// cdk.context.json, or from `cdk synth -c key=value` (always a string).
const (
	KeyEnv                  = "env"
	KeyProject              = "project"
	KeyServices             = "services"
	KeyVpcID                = "vpcId"
	KeyNatGateways          = "natGateways"
	KeyVpcEndpoints         = "vpcEndpoints"
	KeyContainerInsights    = "containerInsights"
	KeyImage                = "image"
	KeyExecLogRetentionDays = "execLogRetentionDays"
)

// Defaults for unset context keys.
const (
	DefaultEnv     = "DEMO"
	DefaultService = "EFS-Util"
	// DefaultImage is busybox from ECR Public, which has no anonymous pull
	// limits from inside AWS (Docker Hub has). The tag is pinned so that a
	// redeploy never changes what the breakglass container runs.
	DefaultImage                = "public.ecr.aws/docker/library/busybox:1.37.0"
	DefaultNatGateways          = 1
	DefaultExecLogRetentionDays = 365
)

// reservedServices are SERVICE names whose stack name would collide with one
// of the environment's fixed stacks (<project>-VPC-<ENV> and so on).
var reservedServices = []string{"VPC", "ECS", "EFS", "Operator"}

// retentionDays are the values CloudWatch Logs accepts for a log group's
// retention, in days.
var retentionDays = []int{
	1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
	1827, 2192, 2557, 2922, 3288, 3653,
}

var (
	fileSystemIDPattern    = regexp.MustCompile(`^fs-[0-9a-f]{8,40}$`)
	securityGroupIDPattern = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	vpcIDPattern           = regexp.MustCompile(`^vpc-[0-9a-f]{8,17}$`)
	privateECRPattern      = regexp.MustCompile(
		`^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([a-z0-9._/-]+)` +
			`(?::([\w][\w.-]{0,127})|@(sha256:[0-9a-f]{64}))?$`)
)

// Config is the validated configuration of one environment.
type Config struct {
	Project  string    // naming prefix, e.g. "breakglass"
	Env      string    // environment, e.g. "DEMO"
	Services []Service // breakglass services, at least one
	VPC      VPC
	// ContainerInsights turns on CloudWatch Container Insights for the
	// cluster (billed per metric).
	ContainerInsights bool
	// Image is the breakglass container image, pinned by tag or digest.
	Image string
	// ExecLogRetentionDays is how long exec session logs are kept.
	ExecLogRetentionDays int
}

// VPC says which VPC the environment uses.
type VPC struct {
	// ID selects an existing VPC; empty creates one.
	ID string
	// NATGateways is the number of NAT gateways of a created VPC (0 to 2).
	// With 0 the private subnets have no egress and Endpoints is required.
	NATGateways int
	// Endpoints adds the interface and gateway endpoints ECS Exec, image
	// pulls and the EFS init function need without internet egress.
	Endpoints bool
}

// Service is one breakglass service.
type Service struct {
	// Name is SERVICE in the naming convention, e.g. "EFS-Util".
	Name string `json:"name"`
	// FileSystemID mounts an existing EFS file system instead of the
	// environment's own one.
	FileSystemID string `json:"fileSystemId,omitempty"`
	// SecurityGroupID is the security group of FileSystemID's mount targets;
	// required with FileSystemID so that the service can be admitted on NFS.
	SecurityGroupID string `json:"securityGroupId,omitempty"`
}

// SharedFileSystem reports whether the service mounts the environment's own
// file system.
func (s Service) SharedFileSystem() bool { return s.FileSystemID == "" }

// Error reports a context value that cannot be used. Key is the context key.
type Error struct {
	Key    string
	Value  any
	Reason string
}

func (e *Error) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("invalid context %q: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("invalid context %q (%v): %s", e.Key, e.Value, e.Reason)
}

// Hint says where the value comes from and how to change it.
func (e *Error) Hint() string {
	return fmt.Sprintf("set %q in the \"context\" of infra/cdk/cdk.json, or pass -c %s=VALUE to cdk",
		e.Key, e.Key)
}

// Lookup returns the context value of key, or nil when it is not set.
type Lookup func(key string) any

// FromContext reads and validates the configuration. Unset keys take their
// defaults. The error is a *Error, or a *naming.Error for a bad name.
func FromContext(get Lookup) (Config, error) {
	c := Config{
		Project:              naming.DefaultProject,
		Env:                  DefaultEnv,
		Services:             []Service{{Name: DefaultService}},
		VPC:                  VPC{NATGateways: DefaultNatGateways},
		Image:                DefaultImage,
		ExecLogRetentionDays: DefaultExecLogRetentionDays,
	}
	var err error
	if c.Project, err = stringValue(get, KeyProject, c.Project); err != nil {
		return Config{}, err
	}
	if c.Env, err = stringValue(get, KeyEnv, c.Env); err != nil {
		return Config{}, err
	}
	if v := get(KeyServices); v != nil {
		if c.Services, err = parseServices(deref(v)); err != nil {
			return Config{}, err
		}
	}
	if c.VPC.ID, err = stringValue(get, KeyVpcID, ""); err != nil {
		return Config{}, err
	}
	if c.VPC.NATGateways, err = intValue(get, KeyNatGateways, c.VPC.NATGateways); err != nil {
		return Config{}, err
	}
	if c.VPC.Endpoints, err = boolValue(get, KeyVpcEndpoints, false); err != nil {
		return Config{}, err
	}
	if c.ContainerInsights, err = boolValue(get, KeyContainerInsights, false); err != nil {
		return Config{}, err
	}
	if c.Image, err = stringValue(get, KeyImage, c.Image); err != nil {
		return Config{}, err
	}
	c.ExecLogRetentionDays, err = intValue(get, KeyExecLogRetentionDays, c.ExecLogRetentionDays)
	if err != nil {
		return Config{}, err
	}

	if c.VPC.ID != "" {
		// An existing VPC's subnets and routes are its owner's business; a
		// NAT or endpoint setting would be silently ignored, so refuse it.
		for _, k := range []string{KeyNatGateways, KeyVpcEndpoints} {
			if get(k) != nil {
				return Config{}, &Error{Key: k, Value: deref(get(k)),
					Reason: "applies only to a VPC this app creates; unset it or unset vpcId"}
			}
		}
	}
	return c, c.Validate()
}

// Validate checks the names and the settings that depend on each other. The
// error is a *Error or a *naming.Error naming the first bad value.
func (c Config) Validate() error {
	if err := validateNamePart(KeyProject, "project", c.Project); err != nil {
		return err
	}
	if err := validateNamePart(KeyEnv, "environment", c.Env); err != nil {
		return err
	}
	if len(c.Services) == 0 {
		return &Error{Key: KeyServices, Reason: "lists no breakglass service"}
	}
	seen := map[string]bool{}
	for _, s := range c.Services {
		if err := c.validateService(s); err != nil {
			return err
		}
		folded := strings.ToLower(s.Name)
		if seen[folded] {
			return &Error{Key: KeyServices, Value: s.Name,
				Reason: "listed twice (names are compared ignoring case)"}
		}
		seen[folded] = true
	}

	if c.VPC.ID != "" && !vpcIDPattern.MatchString(c.VPC.ID) {
		return &Error{Key: KeyVpcID, Value: c.VPC.ID,
			Reason: "is not a VPC id like vpc-0123456789abcdef0"}
	}
	if c.VPC.NATGateways < 0 || c.VPC.NATGateways > 2 {
		return &Error{Key: KeyNatGateways, Value: c.VPC.NATGateways,
			Reason: "must be 0, 1 or 2 (the VPC spans two availability zones)"}
	}
	if c.VPC.ID == "" && c.VPC.NATGateways == 0 {
		if !c.VPC.Endpoints {
			return &Error{Key: KeyNatGateways, Value: 0,
				Reason: "private subnets without NAT need vpcEndpoints=true, or ECS Exec cannot connect"}
		}
		if _, ok := c.PrivateECRImage(); !ok {
			return &Error{Key: KeyImage, Value: c.Image,
				Reason: "cannot be pulled without internet egress (ECR Public has no VPC endpoint); " +
					"use an image in a private ECR repository of this account"}
		}
	}

	if err := validateImage(c.Image); err != nil {
		return err
	}
	if !slices.Contains(retentionDays, c.ExecLogRetentionDays) {
		return &Error{Key: KeyExecLogRetentionDays, Value: c.ExecLogRetentionDays,
			Reason: fmt.Sprintf("must be one of the CloudWatch Logs retention values %v", retentionDays)}
	}
	return nil
}

func (c Config) validateService(s Service) error {
	if err := validateNamePart(KeyServices, "service", s.Name); err != nil {
		return err
	}
	for _, r := range reservedServices {
		if strings.EqualFold(s.Name, r) {
			return &Error{Key: KeyServices, Value: s.Name,
				Reason: fmt.Sprintf("is reserved: its stack name would be that of the %s stack", r)}
		}
	}
	if _, err := naming.Resolve(c.Project, c.Env, s.Name, naming.Overrides{}); err != nil {
		return err
	}
	if n := len(c.ServiceStackName(s.Name)); n > maxStackNameLen {
		return &Error{Key: KeyServices, Value: s.Name,
			Reason: fmt.Sprintf("makes the stack name %d characters long, more than %d",
				n, maxStackNameLen)}
	}

	switch {
	case s.FileSystemID == "" && s.SecurityGroupID != "":
		return &Error{Key: KeyServices, Value: s.Name,
			Reason: "securityGroupId given without fileSystemId"}
	case s.FileSystemID == "":
		return nil
	case !fileSystemIDPattern.MatchString(s.FileSystemID):
		return &Error{Key: KeyServices, Value: s.FileSystemID,
			Reason: "is not an EFS file system id like fs-0123456789abcdef0"}
	case !securityGroupIDPattern.MatchString(s.SecurityGroupID):
		return &Error{Key: KeyServices, Value: s.Name,
			Reason: "fileSystemId needs the securityGroupId of its mount targets, " +
				"like sg-0123456789abcdef0"}
	}
	return nil
}

// maxStackNameLen is CloudFormation's limit on stack names.
const maxStackNameLen = 128

// validateNamePart applies the ECS naming rules (naming.Validate) and the
// stricter CloudFormation stack name rules: stack names allow no '_' and
// must start with a letter, and every name part ends up in one.
func validateNamePart(key, field, value string) error {
	if err := naming.Validate(field, value); err != nil {
		return err
	}
	if strings.Contains(value, "_") {
		return &Error{Key: key, Value: value,
			Reason: "contains '_', which CloudFormation stack names do not allow"}
	}
	if field == "project" && !isLetter(value[0]) {
		return &Error{Key: key, Value: value,
			Reason: "must start with a letter, as CloudFormation stack names do"}
	}
	return nil
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// validateImage insists on a pinned image: a tag other than latest, or a
// digest.
func validateImage(image string) error {
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "" || tag == "latest" {
		return &Error{Key: KeyImage, Value: image,
			Reason: "must be pinned by a tag other than latest, or by digest"}
	}
	return nil
}

// ECRImage is an image in a private ECR repository.
type ECRImage struct {
	Account, Region, Repository, Tag string
}

// PrivateECRImage reports whether Image is in a private ECR repository. Such
// images need an execution role allowed to pull them, which the stack grants.
func (c Config) PrivateECRImage() (ECRImage, bool) { return ParseECRImage(c.Image) }

// ParseECRImage splits an image in a private ECR repository into its parts;
// Tag is the tag or the digest ("sha256:..."), empty when neither is given.
// It reports false for any other image.
func ParseECRImage(image string) (ECRImage, bool) {
	m := privateECRPattern.FindStringSubmatch(image)
	if m == nil {
		return ECRImage{}, false
	}
	tag := m[4]
	if m[5] != "" {
		tag = m[5]
	}
	return ECRImage{Account: m[1], Region: m[2], Repository: m[3], Tag: tag}, true
}

// Names returns the naming-convention names of service s. It panics for a
// service Validate would refuse; call it on a validated Config.
func (c Config) Names(service string) naming.Names {
	n, err := naming.Resolve(c.Project, c.Env, service, naming.Overrides{})
	if err != nil {
		panic(fmt.Sprintf("config: names of unvalidated service %q: %v", service, err))
	}
	return n
}

// ClusterName is the environment's ECS cluster.
func (c Config) ClusterName() string { return naming.ClusterName(c.Project, c.Env) }

// Stack names follow the naming convention <project>-<THING>-<ENV>.

// NetworkStackName names the VPC stack.
func (c Config) NetworkStackName() string { return c.stackName("VPC") }

// ClusterStackName names the ECS cluster stack; it equals the cluster name.
func (c Config) ClusterStackName() string { return c.stackName("ECS") }

// StorageStackName names the EFS stack.
func (c Config) StorageStackName() string { return c.stackName("EFS") }

// OperatorStackName names the stack of the operator policy.
func (c Config) OperatorStackName() string { return c.stackName("Operator") }

// ServiceStackName names a breakglass service's stack; it equals the ECS
// service name.
func (c Config) ServiceStackName(service string) string {
	return naming.ServiceName(c.Project, c.Env, service)
}

func (c Config) stackName(thing string) string { return c.Project + "-" + thing + "-" + c.Env }

// ExecLogGroupName is the CloudWatch log group of the environment's exec
// sessions.
func (c Config) ExecLogGroupName() string { return "/" + c.Project + "/" + c.Env + "/ecs-exec" }

// OperatorPolicyName is the name of the operators' managed policy.
func (c Config) OperatorPolicyName() string { return c.stackName("Operator") }

// deref turns the pointers jsii may hand back into plain values.
func deref(v any) any {
	switch p := v.(type) {
	case *string:
		if p == nil {
			return nil
		}
		return *p
	case *float64:
		if p == nil {
			return nil
		}
		return *p
	case *bool:
		if p == nil {
			return nil
		}
		return *p
	}
	return v
}

func stringValue(get Lookup, key, def string) (string, error) {
	switch v := deref(get(key)).(type) {
	case nil:
		return def, nil
	case string:
		if v == "" {
			return def, nil
		}
		return v, nil
	default:
		return "", &Error{Key: key, Value: v, Reason: "must be a string"}
	}
}

func intValue(get Lookup, key string, def int) (int, error) {
	switch v := deref(get(key)).(type) {
	case nil:
		return def, nil
	case float64:
		if v != float64(int(v)) {
			return 0, &Error{Key: key, Value: v, Reason: "must be a whole number"}
		}
		return int(v), nil
	case int:
		return v, nil
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, &Error{Key: key, Value: v, Reason: "must be a whole number"}
		}
		return n, nil
	default:
		return 0, &Error{Key: key, Value: v, Reason: "must be a whole number"}
	}
}

func boolValue(get Lookup, key string, def bool) (bool, error) {
	switch v := deref(get(key)).(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, &Error{Key: key, Value: v, Reason: "must be true or false"}
		}
		return b, nil
	default:
		return false, &Error{Key: key, Value: v, Reason: "must be true or false"}
	}
}

// parseServices accepts a JSON array from cdk.json (names or objects), a
// JSON array in a string, or a comma-separated list of names (what -c gives).
func parseServices(v any) ([]Service, error) {
	if s, ok := v.(string); ok {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "[") {
			var out []Service
			for name := range strings.SplitSeq(s, ",") {
				if name = strings.TrimSpace(name); name != "" {
					out = append(out, Service{Name: name})
				}
			}
			return out, nil
		}
		var decoded []any
		if err := json.Unmarshal([]byte(s), &decoded); err != nil {
			return nil, &Error{Key: KeyServices, Value: s,
				Reason: fmt.Sprintf("is not a JSON array: %v", err)}
		}
		v = decoded
	}

	items, ok := v.([]any)
	if !ok {
		return nil, &Error{Key: KeyServices, Value: v,
			Reason: "must be a list of service names or {\"name\": ...} objects"}
	}
	out := make([]Service, 0, len(items))
	for _, item := range items {
		switch it := deref(item).(type) {
		case string:
			out = append(out, Service{Name: it})
		case map[string]any:
			s, err := parseServiceObject(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		default:
			return nil, &Error{Key: KeyServices, Value: it,
				Reason: "entries must be service names or {\"name\": ...} objects"}
		}
	}
	return out, nil
}

func parseServiceObject(m map[string]any) (Service, error) {
	var s Service
	fields := map[string]*string{
		"name":            &s.Name,
		"fileSystemId":    &s.FileSystemID,
		"securityGroupId": &s.SecurityGroupID,
	}
	for k, v := range m {
		dst, ok := fields[k]
		if !ok {
			return Service{}, &Error{Key: KeyServices, Value: k,
				Reason: "unknown service field (known: name, fileSystemId, securityGroupId)"}
		}
		str, ok := deref(v).(string)
		if !ok {
			return Service{}, &Error{Key: KeyServices, Value: v,
				Reason: fmt.Sprintf("field %q must be a string", k)}
		}
		*dst = str
	}
	return s, nil
}
