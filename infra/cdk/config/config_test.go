package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

func lookup(ctx map[string]any) Lookup {
	return func(key string) any { return ctx[key] }
}

func TestFromContextDefaultsMatchTheCLI(t *testing.T) {
	c, err := FromContext(lookup(nil))
	if err != nil {
		t.Fatalf("FromContext(empty) = %v", err)
	}

	// These are the names `breakglass open DEMO EFS-Util` looks for.
	n := c.Names("EFS-Util")
	checks := []struct{ what, got, want string }{
		{"project", c.Project, naming.DefaultProject},
		{"env", c.Env, "DEMO"},
		{"cluster", c.ClusterName(), "breakglass-ECS-DEMO"},
		{"service", n.ECSService, "breakglass-EFS-Util-DEMO"},
		{"container", n.Container, "efs_util"},
		{"task family", n.TaskFamily, "breakglass-EFS-Util-Task-DEMO"},
		{"cluster stack", c.ClusterStackName(), "breakglass-ECS-DEMO"},
		{"network stack", c.NetworkStackName(), "breakglass-VPC-DEMO"},
		{"storage stack", c.StorageStackName(), "breakglass-EFS-DEMO"},
		{"operator stack", c.OperatorStackName(), "breakglass-Operator-DEMO"},
		{"service stack", c.ServiceStackName("EFS-Util"), "breakglass-EFS-Util-DEMO"},
		{"exec log group", c.ExecLogGroupName(), "/breakglass/DEMO/ecs-exec"},
		{"image", c.Image, DefaultImage},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if want := []Service{{Name: "EFS-Util"}}; !reflect.DeepEqual(c.Services, want) {
		t.Errorf("services = %+v, want %+v", c.Services, want)
	}
	if c.VPC != (VPC{NATGateways: 1}) {
		t.Errorf("vpc = %+v, want a new VPC with one NAT gateway", c.VPC)
	}
	if c.ContainerInsights {
		t.Error("container insights on by default, want off")
	}
	if c.ExecLogRetentionDays != 365 {
		t.Errorf("exec log retention = %d, want 365", c.ExecLogRetentionDays)
	}
}

func TestFromContextReadsEveryKey(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name  string
		ctx   map[string]any
		check func(t *testing.T, c Config)
	}{
		{
			name: "env and project given with -c arrive as strings",
			ctx:  map[string]any{"env": "PROD", "project": "acme"},
			check: func(t *testing.T, c Config) {
				if got := c.Names("EFS-Util").ECSService; got != "acme-EFS-Util-PROD" {
					t.Errorf("service = %q", got)
				}
				if got := c.ClusterName(); got != "acme-ECS-PROD" {
					t.Errorf("cluster = %q", got)
				}
			},
		},
		{
			name: "values jsii hands back as pointers are read",
			ctx:  map[string]any{"env": str("STAGE")},
			check: func(t *testing.T, c Config) {
				if c.Env != "STAGE" {
					t.Errorf("env = %q", c.Env)
				}
			},
		},
		{
			name: "a comma-separated service list from -c gives several services",
			ctx:  map[string]any{"services": "EFS-Util, Media-Util,"},
			check: func(t *testing.T, c Config) {
				want := []Service{{Name: "EFS-Util"}, {Name: "Media-Util"}}
				if !reflect.DeepEqual(c.Services, want) {
					t.Errorf("services = %+v, want %+v", c.Services, want)
				}
			},
		},
		{
			name: "a JSON list from cdk.json may mix names and objects",
			ctx: map[string]any{"services": []any{
				"EFS-Util",
				map[string]any{"name": "Media-Util", "fileSystemId": "fs-0123456789abcdef0",
					"securityGroupId": "sg-0123456789abcdef0"},
			}},
			check: func(t *testing.T, c Config) {
				want := []Service{
					{Name: "EFS-Util"},
					{Name: "Media-Util", FileSystemID: "fs-0123456789abcdef0",
						SecurityGroupID: "sg-0123456789abcdef0"},
				}
				if !reflect.DeepEqual(c.Services, want) {
					t.Errorf("services = %+v, want %+v", c.Services, want)
				}
				if !c.Services[0].SharedFileSystem() || c.Services[1].SharedFileSystem() {
					t.Error("SharedFileSystem is wrong")
				}
			},
		},
		{
			name: "a JSON list inside a -c string is decoded",
			ctx:  map[string]any{"services": `["A-Util","B-Util"]`},
			check: func(t *testing.T, c Config) {
				if len(c.Services) != 2 || c.Services[1].Name != "B-Util" {
					t.Errorf("services = %+v", c.Services)
				}
			},
		},
		{
			name: "string booleans and numbers from -c are parsed",
			ctx: map[string]any{"vpcEndpoints": "true", "containerInsights": "true",
				"natGateways": "2", "execLogRetentionDays": "30"},
			check: func(t *testing.T, c Config) {
				if !c.VPC.Endpoints || !c.ContainerInsights || c.VPC.NATGateways != 2 ||
					c.ExecLogRetentionDays != 30 {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "JSON numbers from cdk.json are read",
			ctx: map[string]any{"natGateways": float64(0), "vpcEndpoints": true,
				"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/busybox:1.37.0"},
			check: func(t *testing.T, c Config) {
				if c.VPC.NATGateways != 0 || !c.VPC.Endpoints {
					t.Errorf("vpc = %+v", c.VPC)
				}
			},
		},
		{
			name: "an existing VPC is selected by id",
			ctx:  map[string]any{"vpcId": "vpc-0123456789abcdef0"},
			check: func(t *testing.T, c Config) {
				if c.VPC.ID != "vpc-0123456789abcdef0" {
					t.Errorf("vpc = %+v", c.VPC)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromContext(lookup(tt.ctx))
			if err != nil {
				t.Fatalf("FromContext = %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestFromContextRefusesBadValues(t *testing.T) {
	tests := []struct {
		name    string
		ctx     map[string]any
		wantKey string // context key a *Error must name, or "" for a *naming.Error
		wantMsg string
	}{
		{"an environment with a space", map[string]any{"env": "DE MO"}, "", `invalid environment "DE MO"`},
		{"a project with an underscore, which stack names forbid", map[string]any{"project": "my_proj"},
			"project", "'_'"},
		{"a project starting with a digit", map[string]any{"project": "1team"}, "project", "start with a letter"},
		{"a service with an underscore", map[string]any{"services": "EFS_Util"}, "services", "'_'"},
		{"a service named like the VPC stack", map[string]any{"services": "vpc"}, "services", "reserved"},
		{"a service named like the operator stack", map[string]any{"services": "Operator"}, "services",
			"reserved"},
		{"a service listed twice in different case", map[string]any{"services": "EFS-Util,efs-util"},
			"services", "listed twice"},
		{"an empty service list", map[string]any{"services": " , "}, "services", "no breakglass service"},
		{"a service whose stack name is too long", map[string]any{"services": strings.Repeat("A", 120)},
			"services", "stack name"},
		{"a service list that is a number", map[string]any{"services": float64(3)}, "services", "list"},
		{"a service object with an unknown field", map[string]any{"services": []any{
			map[string]any{"name": "X", "fileSystem": "fs-1"}}}, "services", "unknown service field"},
		{"a foreign file system without its security group", map[string]any{"services": []any{
			map[string]any{"name": "X", "fileSystemId": "fs-0123456789abcdef0"}}}, "services",
			"securityGroupId"},
		{"a malformed file system id", map[string]any{"services": []any{
			map[string]any{"name": "X", "fileSystemId": "fs-XYZ", "securityGroupId": "sg-0123456789abcdef0"}}},
			"services", "file system id"},
		{"a malformed VPC id", map[string]any{"vpcId": "my-vpc"}, "vpcId", "VPC id"},
		{"NAT settings together with an existing VPC", map[string]any{"vpcId": "vpc-0123456789abcdef0",
			"natGateways": float64(2)}, "natGateways", "applies only"},
		{"three NAT gateways", map[string]any{"natGateways": float64(3)}, "natGateways", "0, 1 or 2"},
		{"no NAT and no endpoints", map[string]any{"natGateways": float64(0)}, "natGateways",
			"vpcEndpoints"},
		{"no NAT with an image from ECR Public", map[string]any{"natGateways": float64(0),
			"vpcEndpoints": true}, "image", "private ECR"},
		{"an image without a tag", map[string]any{"image": "public.ecr.aws/docker/library/busybox"},
			"image", "pinned"},
		{"an image tagged latest", map[string]any{"image": "busybox:latest"}, "image", "pinned"},
		{"a registry port is not a tag", map[string]any{"image": "registry:5000/busybox"}, "image",
			"pinned"},
		{"a retention CloudWatch does not offer", map[string]any{"execLogRetentionDays": float64(10)},
			"execLogRetentionDays", "retention values"},
		{"a fractional number", map[string]any{"natGateways": 1.5}, "natGateways", "whole number"},
		{"a boolean that is not one", map[string]any{"vpcEndpoints": "yes please"}, "vpcEndpoints",
			"true or false"},
		{"an env that is not a string", map[string]any{"env": float64(1)}, "env", "string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromContext(lookup(tt.ctx))
			if err == nil {
				t.Fatal("FromContext accepted it")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			hinter, ok := err.(interface{ Hint() string })
			if !ok || hinter.Hint() == "" {
				t.Errorf("error %T carries no hint", err)
			}

			var ce *Error
			var ne *naming.Error
			switch {
			case tt.wantKey == "":
				if !errors.As(err, &ne) {
					t.Errorf("error %T is not a *naming.Error", err)
				}
			case !errors.As(err, &ce):
				t.Errorf("error %T is not a *config.Error", err)
			case ce.Key != tt.wantKey:
				t.Errorf("error names key %q, want %q", ce.Key, tt.wantKey)
			}
		})
	}
}

func TestImagesArePinnedAndPrivateECRIsRecognised(t *testing.T) {
	tests := []struct {
		image   string
		pinned  bool
		private bool
	}{
		{"public.ecr.aws/docker/library/busybox:1.37.0", true, false},
		{"public.ecr.aws/docker/library/busybox@sha256:" + strings.Repeat("ab", 32), true, false},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/tools/busybox:1.37.0", true, true},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/busybox", false, true},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com/busybox@sha256:" + strings.Repeat("0f", 32), true, true},
		{"localhost:5000/busybox", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if got := validateImage(tt.image) == nil; got != tt.pinned {
				t.Errorf("pinned = %v, want %v", got, tt.pinned)
			}
			img, ok := Config{Image: tt.image}.PrivateECRImage()
			if ok != tt.private {
				t.Fatalf("private = %v, want %v", ok, tt.private)
			}
			if ok && (img.Account != "123456789012" || img.Region != "eu-west-1" ||
				!strings.HasSuffix(img.Repository, "busybox")) {
				t.Errorf("parsed %+v", img)
			}
		})
	}
}
