package stacks_test

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/infra/cdk/config"
	"github.com/breakglass-dev/breakglass/infra/cdk/stacks"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// Pseudo parameters as render shows them.
const (
	arnPrefix  = "arn:${AWS::Partition}:"
	regionAcct = "${AWS::Region}:${AWS::AccountId}"
)

func TestAFailingAssertionIsATestErrorNotAPanic(t *testing.T) {
	a := defaultSynth(t)
	tmpl := a.assertions(t, "breakglass-EFS-Util-DEMO")

	err := recovered(func() { tmpl.ResourceCountIs(jsii.String("AWS::ECS::Service"), jsii.Number(42)) })
	if err == nil || !strings.Contains(err.Error(), "42") {
		t.Fatalf("a wrong resource count gave %v, want an assertion error", err)
	}
	// jsii must still work after the recovered panic.
	check(t, "the service count", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::ECS::Service"), jsii.Number(1))
	})
}

func TestStacksAreNamedByTheConvention(t *testing.T) {
	tests := []struct {
		name      string
		overrides map[string]any
		want      []string
	}{
		{
			name: "cdk.json alone gives the DEMO environment with EFS-Util",
			want: []string{"breakglass-ECS-DEMO", "breakglass-EFS-DEMO", "breakglass-EFS-Util-DEMO",
				"breakglass-Operator-DEMO", "breakglass-VPC-DEMO"},
		},
		{
			name:      "another project, environment and two services",
			overrides: map[string]any{"project": "acme", "env": "PROD", "services": "EFS-Util,Media-Util"},
			want: []string{"acme-ECS-PROD", "acme-EFS-PROD", "acme-EFS-Util-PROD", "acme-Media-Util-PROD",
				"acme-Operator-PROD", "acme-VPC-PROD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a *app
			if tt.overrides == nil {
				a = defaultSynth(t)
			} else {
				a = synth(t, tt.overrides, stacks.Options{}, false)
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for name := range a.templates {
					if !yield(name) {
						return
					}
				}
			})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("stacks = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestServiceIsWhatTheCLIExpects(t *testing.T) {
	a := defaultSynth(t)
	n := a.cfg.Names("EFS-Util")
	tmpl := a.assertions(t, naming.ServiceName(a.cfg.Project, a.cfg.Env, "EFS-Util"))

	check(t, "the service", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Service"), map[string]any{
			"ServiceName":          naming.ServiceName("breakglass", "DEMO", "EFS-Util"),
			"Cluster":              naming.ClusterName("breakglass", "DEMO"),
			"DesiredCount":         0,
			"EnableExecuteCommand": true,
			"LaunchType":           "FARGATE",
			"PlatformVersion":      "LATEST",
			"PropagateTags":        "SERVICE",
			"DeploymentConfiguration": map[string]any{
				"MinimumHealthyPercent": 0,
				"MaximumPercent":        100,
			},
			"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": map[string]any{
				"AssignPublicIp": "DISABLED",
			}},
			"Tags": assertions.Match_ArrayWith(&[]any{map[string]any{
				"Key": naming.ManagedTagKey, "Value": naming.ManagedTagValue,
			}}),
		})
	})

	check(t, "the task definition", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::TaskDefinition"), map[string]any{
			"Family":                  naming.TaskFamily("breakglass", "DEMO", "EFS-Util"),
			"RequiresCompatibilities": []any{"FARGATE"},
			"RuntimePlatform": map[string]any{
				"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
			// A public image needs no execution role, so there is none.
			"ExecutionRoleArn": assertions.Match_Absent(),
			"Volumes": []any{map[string]any{
				"Name": "efs-root",
				"EFSVolumeConfiguration": map[string]any{
					"RootDirectory":       "/",
					"TransitEncryption":   "ENABLED",
					"AuthorizationConfig": map[string]any{"IAM": "ENABLED"},
					"FilesystemId":        assertions.Match_AnyValue(),
				},
			}},
			"ContainerDefinitions": []any{map[string]any{
				"Name":      naming.ContainerName("EFS-Util"),
				"Image":     "public.ecr.aws/docker/library/busybox:1.37.0",
				"Command":   []any{"sleep", "infinity"},
				"Essential": true,
				"LinuxParameters": assertions.Match_ObjectLike(
					&map[string]any{"InitProcessEnabled": true}),
				"ReadonlyRootFilesystem": false,
				"Environment":            assertions.Match_Absent(),
				"EnvironmentFiles":       assertions.Match_Absent(),
				"Secrets":                assertions.Match_Absent(),
				"MountPoints": []any{map[string]any{
					"ContainerPath": "/mnt/efs", "SourceVolume": "efs-root", "ReadOnly": false,
				}},
			}},
		})
	})

	// The CLI looks these names up; they must be the naming package's.
	_, td := only(t, a.template(t, n.ECSService), "AWS::ECS::TaskDefinition")
	containers, _ := td["ContainerDefinitions"].([]any)
	if len(containers) != 1 {
		t.Fatalf("%d containers, want exactly the breakglass one", len(containers))
	}
	if got := containers[0].(map[string]any)["Name"]; got != n.Container {
		t.Errorf("container %v, want %s", got, n.Container)
	}
	vol := render(td["Volumes"]).([]any)[0].(map[string]any)["EFSVolumeConfiguration"].(map[string]any)
	if !matches(`\$\{breakglass-EFS-DEMO:.*FileSystem.*\}`, fmt.Sprint(vol["FilesystemId"])) {
		t.Errorf("the volume mounts %v, want the EFS stack's file system", vol["FilesystemId"])
	}
}

func TestTaskRoleHasExactlyTheExecAndFileSystemPermissions(t *testing.T) {
	a := defaultSynth(t)
	tmpl := a.template(t, "breakglass-EFS-Util-DEMO")

	roleID, role := only(t, tmpl, "AWS::IAM::Role")
	if _, ok := role["ManagedPolicyArns"]; ok {
		t.Errorf("task role has managed policies: %v", role["ManagedPolicyArns"])
	}
	if _, ok := role["Policies"]; ok {
		t.Errorf("task role has inline policies: %v", role["Policies"])
	}
	trust := statements(t, role["AssumeRolePolicyDocument"])
	wantTrust := map[string]any{
		"StringEquals": map[string]any{"aws:SourceAccount": "${AWS::AccountId}"},
		"ArnLike":      map[string]any{"aws:SourceArn": arnPrefix + "ecs:" + regionAcct + ":*"},
	}
	if len(trust) != 1 || !reflect.DeepEqual(trust[0].Conditions, wantTrust) {
		t.Errorf("trust policy %v, want ecs-tasks of this account only", trust)
	}

	// Every permission of the role, as action -> resource pattern and
	// condition. The policy may group them differently; the set must be
	// exactly this.
	type grant struct {
		resource  string // regular expression
		condition any
	}
	efs := grant{`\$\{breakglass-EFS-DEMO:.*FileSystem.*Arn.*\}`,
		map[string]any{"Bool": map[string]any{"elasticfilesystem:AccessedViaMountTarget": "true"}}}
	logGroup := grant{
		regexpQuote(arnPrefix + "logs:" + regionAcct + ":log-group:/breakglass/DEMO/ecs-exec:*"), nil}
	want := map[string]grant{
		"ssmmessages:CreateControlChannel":   {`\*`, nil},
		"ssmmessages:CreateDataChannel":      {`\*`, nil},
		"ssmmessages:OpenControlChannel":     {`\*`, nil},
		"ssmmessages:OpenDataChannel":        {`\*`, nil},
		"logs:DescribeLogGroups":             {`\*`, nil},
		"logs:CreateLogStream":               logGroup,
		"logs:DescribeLogStreams":            logGroup,
		"logs:PutLogEvents":                  logGroup,
		"kms:Decrypt":                        {`\$\{breakglass-ECS-DEMO:.*ExecKey.*Arn.*\}`, nil},
		"elasticfilesystem:ClientMount":      efs,
		"elasticfilesystem:ClientWrite":      efs,
		"elasticfilesystem:ClientRootAccess": efs,
	}

	got := map[string]bool{}
	for _, p := range resources(tmpl, "AWS::IAM::Policy") {
		props := p["Properties"].(map[string]any)
		attached := func(r any) bool { return r == "${"+roleID+"}" }
		if !slices.ContainsFunc(render(props["Roles"]).([]any), attached) {
			continue
		}
		for _, s := range statements(t, props["PolicyDocument"]) {
			if s.Effect != "Allow" {
				t.Errorf("unexpected %s statement %v", s.Effect, s)
			}
			for _, action := range s.Actions {
				g, ok := want[action]
				if !ok {
					t.Errorf("task role has %s (%v), which it must not", action, s.Resources)
					continue
				}
				got[action] = true
				if len(s.Resources) != 1 || !matches(g.resource, s.Resources[0]) {
					t.Errorf("%s on %v, want on %s", action, s.Resources, g.resource)
				}
				if !reflect.DeepEqual(s.Conditions, g.condition) {
					t.Errorf("%s under %v, want %v", action, s.Conditions, g.condition)
				}
			}
		}
	}
	for action := range want {
		if !got[action] {
			t.Errorf("task role lacks %s", action)
		}
	}
}

func regexpQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, ".", `\.`, "*", `\*`, "$", `\$`, "{", `\{`, "}", `\}`,
		"(", `\(`, ")", `\)`, "+", `\+`, "?", `\?`, "[", `\[`, "|", `\|`, "^", `\^`).Replace(s)
}

func TestClusterLogsAndEncryptsEveryExecSession(t *testing.T) {
	a := defaultSynth(t)
	raw := a.template(t, "breakglass-ECS-DEMO")
	tmpl := a.assertions(t, "breakglass-ECS-DEMO")
	keyID, key := only(t, raw, "AWS::KMS::Key")
	logID, logGroup := only(t, raw, "AWS::Logs::LogGroup")

	check(t, "the cluster's exec configuration", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
			"ClusterName":     naming.ClusterName("breakglass", "DEMO"),
			"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "disabled"}},
			"Configuration": map[string]any{"ExecuteCommandConfiguration": map[string]any{
				"KmsKeyId": map[string]any{"Fn::GetAtt": []any{keyID, "Arn"}},
				"Logging":  "OVERRIDE",
				"LogConfiguration": map[string]any{
					"CloudWatchEncryptionEnabled": true,
					"CloudWatchLogGroupName":      map[string]any{"Ref": logID},
				},
			}},
		})
	})
	check(t, "the exec log group", func() {
		tmpl.HasResource(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"DeletionPolicy": "Retain",
			"Properties": map[string]any{
				"LogGroupName":    "/breakglass/DEMO/ecs-exec",
				"KmsKeyId":        map[string]any{"Fn::GetAtt": []any{keyID, "Arn"}},
				"RetentionInDays": 365,
			},
		})
	})
	if logGroup["RetentionInDays"] == nil {
		t.Error("exec log group keeps logs forever")
	}
	if key["EnableKeyRotation"] != true {
		t.Error("exec key is not rotated")
	}

	// The key lets CloudWatch Logs use it for this log group and no other.
	var logs []statement
	for _, s := range statements(t, key["KeyPolicy"]) {
		if strings.HasPrefix(s.Sid, "CloudWatchLogs") {
			logs = append(logs, s)
		}
	}
	wantCond := map[string]any{"ArnEquals": map[string]any{
		"kms:EncryptionContext:aws:logs:arn": arnPrefix + "logs:" + regionAcct +
			":log-group:/breakglass/DEMO/ecs-exec",
	}}
	if len(logs) != 1 || !reflect.DeepEqual(logs[0].Conditions, wantCond) {
		t.Errorf("key policy statements for CloudWatch Logs %v, want one limited by %v", logs, wantCond)
	}
}

func TestFileSystemAdmitsOnlyItsClients(t *testing.T) {
	a := defaultSynth(t)
	raw := a.template(t, "breakglass-EFS-DEMO")
	tmpl := a.assertions(t, "breakglass-EFS-DEMO")

	check(t, "the file system", func() {
		tmpl.HasResource(jsii.String("AWS::EFS::FileSystem"), map[string]any{
			"DeletionPolicy": "Retain",
			"Properties":     map[string]any{"Encrypted": true},
		})
	})
	check(t, "a mount target per private subnet", func() {
		tmpl.ResourceCountIs(jsii.String("AWS::EFS::MountTarget"), jsii.Number(2))
	})
	for id, mt := range resources(raw, "AWS::EFS::MountTarget") {
		subnet := fmt.Sprint(render(mt["Properties"].(map[string]any)["SubnetId"]))
		if !strings.Contains(subnet, "PrivateSubnet") {
			t.Errorf("mount target %s in %s, want a private subnet", id, subnet)
		}
	}

	_, fs := only(t, raw, "AWS::EFS::FileSystem")
	for _, s := range statements(t, fs["FileSystemPolicy"]) {
		if s.Effect == "Allow" {
			t.Errorf("file system policy allows %v: access must come from IAM grants only", s)
		}
	}

	var sgID string
	var sg map[string]any
	for id, r := range resources(raw, "AWS::EC2::SecurityGroup") {
		if strings.HasPrefix(id, "FileSystemSecurityGroup") {
			sgID, sg = id, r["Properties"].(map[string]any)
		}
	}
	if sg == nil {
		t.Fatal("no security group for the file system")
	}
	if _, ok := sg["SecurityGroupIngress"]; ok {
		t.Errorf("file system security group has inline ingress %v", sg["SecurityGroupIngress"])
	}

	// Every ingress rule on the file system's group, in any stack: NFS from
	// the init function's group and from each service's group, no CIDR.
	var sources []string
	for name, tm := range a.templates {
		for id, r := range resources(tm, "AWS::EC2::SecurityGroupIngress") {
			p := r["Properties"].(map[string]any)
			if !strings.Contains(fmt.Sprint(render(p["GroupId"])), sgID) {
				continue
			}
			if p["IpProtocol"] != "tcp" || p["FromPort"] != 2049.0 || p["ToPort"] != 2049.0 {
				t.Errorf("%s/%s admits %v %v-%v, want NFS only", name, id, p["IpProtocol"],
					p["FromPort"], p["ToPort"])
			}
			if p["CidrIp"] != nil || p["CidrIpv6"] != nil {
				t.Errorf("%s/%s admits a CIDR", name, id)
			}
			sources = append(sources, name+":"+fmt.Sprint(render(p["SourceSecurityGroupId"])))
		}
	}
	slices.Sort(sources)
	want := []string{
		"breakglass-EFS-DEMO:${InitFunctionSecurityGroup.GroupId}",
		"breakglass-EFS-Util-DEMO:${SecurityGroup.GroupId}",
	}
	if len(sources) != len(want) {
		t.Fatalf("NFS admitted from %v, want from %v", sources, want)
	}
	for i := range want {
		// Logical ids carry a hash suffix.
		stack, src, _ := strings.Cut(want[i], ":")
		gotStack, gotSrc, _ := strings.Cut(sources[i], ":")
		prefix := strings.TrimSuffix(src, ".GroupId}")
		ok := gotStack == stack && strings.HasPrefix(gotSrc, prefix) && strings.HasSuffix(gotSrc, ".GroupId}")
		if !ok {
			t.Errorf("NFS admitted from %s, want from %s", sources[i], want[i])
		}
	}
}

func TestInitFunctionCreatesTheDirectories(t *testing.T) {
	a := defaultSynth(t)
	raw := a.template(t, "breakglass-EFS-DEMO")
	tmpl := a.assertions(t, "breakglass-EFS-DEMO")
	fnID, _ := only(t, raw, "AWS::Lambda::Function")
	apID, _ := only(t, raw, "AWS::EFS::AccessPoint")

	check(t, "the init function", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
			"Runtime":       "provided.al2023",
			"Architectures": []any{"arm64"},
			"Handler":       "bootstrap",
			"FileSystemConfigs": []any{map[string]any{
				"LocalMountPath": stacks.InitMountPath,
				"Arn":            assertions.Match_AnyValue(),
			}},
			"VpcConfig": assertions.Match_ObjectLike(&map[string]any{
				"SubnetIds": assertions.Match_AnyValue(),
			}),
			"Code": map[string]any{
				"S3Bucket": assertions.Match_AnyValue(),
				"S3Key":    assertions.Match_StringLikeRegexp(jsii.String(`\.zip$`)),
			},
		})
	})
	check(t, "the access point acts as root at the root", func() {
		tmpl.HasResourceProperties(jsii.String("AWS::EFS::AccessPoint"), map[string]any{
			"PosixUser":     map[string]any{"Uid": "0", "Gid": "0"},
			"RootDirectory": map[string]any{"Path": "/"},
		})
	})
	check(t, "the custom resource", func() {
		tmpl.HasResourceProperties(jsii.String("Custom::EfsDirectories"), map[string]any{
			"ServiceToken":   map[string]any{"Fn::GetAtt": []any{fnID, "Arn"}},
			"ServiceTimeout": "300",
			"FileSystemId":   assertions.Match_AnyValue(),
			"Directories": []any{
				map[string]any{"Path": "/mysql/data", "Owner": "999", "Group": "999", "Mode": "0750"},
				map[string]any{"Path": "/rabbitmq/data", "Owner": "999", "Group": "999", "Mode": "0750"},
			},
		})
	})

	// Root through the access point needs ClientRootAccess, limited to it.
	var rootAccess []statement
	for _, p := range resources(raw, "AWS::IAM::Policy") {
		for _, s := range statements(t, p["Properties"].(map[string]any)["PolicyDocument"]) {
			if slices.Contains(s.Actions, "elasticfilesystem:ClientRootAccess") {
				rootAccess = append(rootAccess, s)
			}
		}
	}
	wantAP := arnPrefix + "elasticfilesystem:" + regionAcct + ":access-point/${" + apID + "}"
	if len(rootAccess) != 1 || !reflect.DeepEqual(rootAccess[0].Conditions, map[string]any{
		"StringEquals": map[string]any{"elasticfilesystem:AccessPointArn": wantAP}}) {
		t.Errorf("ClientRootAccess granted as %v, want once, through the init access point", rootAccess)
	}
}

func TestOperatorPolicyGrantsExactlyWhatBreakglassCalls(t *testing.T) {
	a := defaultSynth(t)
	raw := a.template(t, "breakglass-Operator-DEMO")
	check(t, "the policy output", func() {
		a.assertions(t, "breakglass-Operator-DEMO").HasOutput(jsii.String("OperatorPolicyArn"),
			map[string]any{"Export": map[string]any{"Name": "breakglass-Operator-DEMO-PolicyArn"}})
	})

	_, policy := only(t, raw, "AWS::IAM::ManagedPolicy")
	if policy["ManagedPolicyName"] != "breakglass-Operator-DEMO" {
		t.Errorf("policy name %v", policy["ManagedPolicyName"])
	}

	ecs := arnPrefix + "ecs:" + regionAcct + ":"
	cluster := ecs + "cluster/breakglass-ECS-DEMO"
	services := ecs + "service/breakglass-ECS-DEMO/*"
	tasks := ecs + "task/breakglass-ECS-DEMO/*"
	inCluster := map[string]any{"ArnEquals": map[string]any{"ecs:cluster": cluster}}
	managed := map[string]any{"aws:ResourceTag/breakglass:managed": "true"}
	managedInCluster := map[string]any{"ArnEquals": inCluster["ArnEquals"], "StringEquals": managed}

	want := []statement{
		{Sid: "ListClusters", Actions: []string{"ecs:ListClusters"}, Resources: []string{"*"}},
		{Sid: "DescribeTheCluster", Actions: []string{"ecs:DescribeClusters"}, Resources: []string{cluster}},
		{Sid: "ListInTheCluster", Actions: []string{"ecs:ListServices", "ecs:ListTasks"},
			Resources: []string{"*"}, Conditions: inCluster},
		{Sid: "DescribeInTheCluster", Actions: []string{"ecs:DescribeServices", "ecs:DescribeTasks"},
			Resources: []string{services, tasks}, Conditions: inCluster},
		{Sid: "ScaleBreakglassServices", Actions: []string{"ecs:UpdateService"}, Resources: []string{services},
			Conditions: map[string]any{
				"ArnEquals":    inCluster["ArnEquals"],
				"StringEquals": managed,
				"ArnLikeIfExists": map[string]any{
					"ecs:task-definition": ecs + "task-definition/breakglass-*-Task-DEMO:*"},
			}},
		{Sid: "StopBreakglassTasks", Actions: []string{"ecs:StopTask"}, Resources: []string{tasks},
			Conditions: managedInCluster},
		{Sid: "ExecIntoTheCluster", Actions: []string{"ecs:ExecuteCommand"}, Resources: []string{cluster},
			Conditions: inCluster},
		{Sid: "ExecIntoBreakglassTasks", Actions: []string{"ecs:ExecuteCommand"}, Resources: []string{tasks},
			Conditions: managedInCluster},
		{Sid: "RecordWhoHoldsAServiceOpen", Actions: []string{"ecs:TagResource", "ecs:UntagResource"},
			Resources: []string{services}, Conditions: map[string]any{
				"StringEquals":            managed,
				"ForAllValues:StringLike": map[string]any{"aws:TagKeys": "breakglass:opened-*"},
				"Null":                    map[string]any{"aws:TagKeys": "false"},
			}},
		{Sid: "ResumeAndEndExecSessions", Actions: []string{"ssm:ResumeSession", "ssm:TerminateSession"},
			Resources: []string{arnPrefix + "ssm:" + regionAcct + ":session/ecs-execute-command-*"}},
		{Sid: "EncryptExecSessions", Actions: []string{"kms:GenerateDataKey"}},
	}

	got := statements(t, policy["PolicyDocument"])
	if len(got) != len(want) {
		t.Errorf("%d statements, want %d:\n%v", len(got), len(want), got)
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		w.Effect = "Allow"
		if w.Sid == "EncryptExecSessions" {
			// The key's ARN comes from the cluster stack.
			keyArn := `\$\{breakglass-ECS-DEMO:.*ExecKey.*Arn.*\}`
			if len(g.Resources) == 1 && matches(keyArn, g.Resources[0]) {
				w.Resources = g.Resources
			}
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("statement %d:\n got %v\nwant %v", i, g, w)
		}
	}
}

func TestContextChangesWhatIsBuilt(t *testing.T) {
	privateImage := "123456789012.dkr.ecr.eu-west-1.amazonaws.com/tools/busybox:1.37.0"
	tests := []struct {
		name      string
		overrides map[string]any
		opts      stacks.Options
		check     func(t *testing.T, a *app)
	}{
		{
			name:      "vpcEndpoints adds the endpoints exec and image pulls need",
			overrides: map[string]any{"vpcEndpoints": true},
			check: func(t *testing.T, a *app) {
				var services []string
				for _, e := range resources(a.template(t, "breakglass-VPC-DEMO"), "AWS::EC2::VPCEndpoint") {
					name := fmt.Sprint(render(e["Properties"].(map[string]any)["ServiceName"]))
					services = append(services, name[strings.LastIndex(name, ".")+1:])
				}
				slices.Sort(services)
				want := []string{"api", "dkr", "kms", "logs", "s3", "ssm", "ssmmessages"}
				if !reflect.DeepEqual(services, want) {
					t.Errorf("endpoints %v, want %v", services, want)
				}
			},
		},
		{
			name: "no NAT gateway isolates the subnets and pulls from private ECR",
			overrides: map[string]any{"natGateways": 0.0, "vpcEndpoints": true,
				"image": privateImage},
			check: func(t *testing.T, a *app) {
				vpc := a.template(t, "breakglass-VPC-DEMO")
				if n := len(resources(vpc, "AWS::EC2::NatGateway")); n != 0 {
					t.Errorf("%d NAT gateways, want none", n)
				}
				svc := a.template(t, "breakglass-EFS-Util-DEMO")
				_, td := only(t, svc, "AWS::ECS::TaskDefinition")
				if td["ExecutionRoleArn"] == nil {
					t.Error("no execution role to pull the private image with")
				}
				image := fmt.Sprint(render(td["ContainerDefinitions"].([]any)[0].(map[string]any)["Image"]))
				if !strings.HasPrefix(image, "123456789012.dkr.ecr.eu-west-1.") ||
					!strings.HasSuffix(image, "/tools/busybox:1.37.0") {
					t.Errorf("image %s, want %s", image, privateImage)
				}
			},
		},
		{
			name:      "container insights can be turned on",
			overrides: map[string]any{"containerInsights": "true"},
			check: func(t *testing.T, a *app) {
				check(t, "cluster settings", func() {
					tmpl := a.assertions(t, "breakglass-ECS-DEMO")
					tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
						"ClusterSettings": []any{
							map[string]any{"Name": "containerInsights", "Value": "enabled"}}})
				})
			},
		},
		{
			name: "a service on another file system mounts and admits itself to that one",
			overrides: map[string]any{"services": []any{"EFS-Util", map[string]any{
				"name": "Media-Util", "fileSystemId": "fs-0123456789abcdef0",
				"securityGroupId": "sg-0123456789abcdef0"}}},
			check: func(t *testing.T, a *app) {
				svc := a.template(t, "breakglass-Media-Util-DEMO")
				_, td := only(t, svc, "AWS::ECS::TaskDefinition")
				vol := td["Volumes"].([]any)[0].(map[string]any)["EFSVolumeConfiguration"].(map[string]any)
				if vol["FilesystemId"] != "fs-0123456789abcdef0" {
					t.Errorf("volume mounts %v", vol["FilesystemId"])
				}
				_, ingress := only(t, svc, "AWS::EC2::SecurityGroupIngress")
				if ingress["GroupId"] != "sg-0123456789abcdef0" || ingress["FromPort"] != 2049.0 {
					t.Errorf("ingress %v, want NFS on sg-0123456789abcdef0", ingress)
				}
				for _, p := range resources(svc, "AWS::IAM::Policy") {
					for _, s := range statements(t, p["Properties"].(map[string]any)["PolicyDocument"]) {
						if slices.Contains(s.Actions, "elasticfilesystem:ClientRootAccess") &&
							!strings.HasSuffix(s.Resources[0], ":file-system/fs-0123456789abcdef0") {
							t.Errorf("root access granted on %v", s.Resources)
						}
					}
				}
				if n := len(resources(svc, "AWS::EFS::FileSystem")); n != 0 {
					t.Errorf("the service stack created %d file systems", n)
				}
			},
		},
		{
			name:      "an existing VPC replaces the VPC stack",
			overrides: existingVPC(),
			opts: stacks.Options{Env: &awscdk.Environment{
				Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}},
			check: func(t *testing.T, a *app) {
				if _, ok := a.templates["breakglass-VPC-DEMO"]; ok {
					t.Error("a VPC stack was built although an existing VPC was chosen")
				}
				for name, tm := range a.templates {
					if n := len(resources(tm, "AWS::EC2::VPC")); n != 0 {
						t.Errorf("%s creates %d VPCs", name, n)
					}
				}
				_, svc := only(t, a.template(t, "breakglass-EFS-Util-DEMO"), "AWS::ECS::Service")
				network := svc["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"]
				subnets := render(network.(map[string]any)["Subnets"])
				want := []any{"subnet-0000000000000000c", "subnet-0000000000000000d"}
				if !reflect.DeepEqual(subnets, want) {
					t.Errorf("service in subnets %v, want the existing VPC's private ones %v", subnets, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, synth(t, tt.overrides, tt.opts, false))
		})
	}
}

func TestInitFunctionIsBuiltForArm64DuringSynth(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the Lambda for linux/arm64; skipped with -short")
	}
	a := synth(t, nil, stacks.Options{}, true)

	_, fn := only(t, a.template(t, "breakglass-EFS-DEMO"), "AWS::Lambda::Function")
	key := fn["Code"].(map[string]any)["S3Key"].(string)
	bootstrap := filepath.Join(a.outdir, "asset."+strings.TrimSuffix(key, ".zip"), "bootstrap")
	f, err := elf.Open(bootstrap)
	if err != nil {
		t.Fatalf("the function's asset has no bootstrap binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		t.Errorf("bootstrap is for %v, want arm64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bootstrap is dynamically linked; provided.al2023 needs no libc, build it static")
		}
	}
	if info, err := os.Stat(bootstrap); err == nil && info.Mode()&0o111 == 0 {
		t.Error("bootstrap is not executable")
	}
}

// existingVPC is the context for vpcId with the lookup result cdk.context.json
// would hold after `cdk synth` had looked the VPC up: public subnets a and b,
// private subnets c and d.
func existingVPC() map[string]any {
	subnet := func(letter, az string) map[string]any {
		return map[string]any{
			"subnetId": "subnet-000000000000000" + "0" + letter, "availabilityZone": "eu-west-1" + az,
			"cidr": "10.1.0.0/24", "routeTableId": "rtb-000000000000000" + "0" + letter,
		}
	}
	return map[string]any{
		"vpcId": "vpc-0123456789abcdef0",
		"vpc-provider:account=123456789012:filter.vpc-id=vpc-0123456789abcdef0:region=eu-west-1:" +
			"returnAsymmetricSubnets=true": map[string]any{
			"vpcId":             "vpc-0123456789abcdef0",
			"vpcCidrBlock":      "10.1.0.0/16",
			"ownerAccountId":    "123456789012",
			"availabilityZones": []any{},
			"subnetGroups": []any{
				map[string]any{"name": "Public", "type": "Public",
					"subnets": []any{subnet("a", "a"), subnet("b", "b")}},
				map[string]any{"name": "Private", "type": "Private",
					"subnets": []any{subnet("c", "a"), subnet("d", "b")}},
			},
		},
	}
}

func TestAnExistingVPCNeedsAnAccountAndRegion(t *testing.T) {
	t.Setenv("CDK_DEFAULT_ACCOUNT", "")
	t.Setenv("CDK_DEFAULT_REGION", "")
	cfg, err := config.FromContext(func(k string) any {
		return map[string]any{"vpcId": "vpc-0123456789abcdef0"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}

	// It fails before it builds anything, so no scope (and no node) is needed.
	_, err = stacks.New(nil, cfg, stacks.Options{})
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Key != config.KeyVpcID || !strings.Contains(err.Error(), "region") {
		t.Fatalf("error = %v, want one about vpcId needing an account and region", err)
	}
}
