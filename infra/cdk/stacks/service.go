package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/infra/cdk/config"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// MountPath is where the breakglass container sees the file system root.
const MountPath = "/mnt/efs"

// KeepAliveCommand keeps the container running without doing anything:
// busybox's sleep blocks in the kernel until ECS stops the task, and the init
// process ends it on SIGTERM.
var KeepAliveCommand = []string{"sleep", "infinity"}

// ServiceStackProps configure one breakglass service.
type ServiceStackProps struct {
	awscdk.StackProps
	// Names are the naming-convention names of the service; the CLI finds the
	// cluster, service, container and task family by them.
	Names naming.Names
	Vpc   awsec2.IVpc
	// Subnets are private subnets with a route to ssmmessages (NAT or
	// endpoint); nil selects the private subnets with egress.
	Subnets    *awsec2.SubnetSelection
	FileSystem FileSystemSource
	// ExecLogGroupName is the cluster's exec log group; empty when the
	// cluster does not log sessions to CloudWatch.
	ExecLogGroupName string
	// ExecKey is the cluster's exec key; nil when sessions are not encrypted
	// with a key of the account.
	ExecKey awskms.IKey
	// Image is the container image, pinned.
	Image string
}

// ServiceStack is a breakglass service: a Fargate service at desired count 0
// whose one container mounts the root of a file system, can be exec'd into,
// and is tagged as a breakglass service.
type ServiceStack struct {
	awscdk.Stack
	Service        awsecs.FargateService
	TaskDefinition awsecs.FargateTaskDefinition
	TaskRole       awsiam.Role
	SecurityGroup  awsec2.SecurityGroup
}

// NewServiceStack adds a breakglass service's stack to scope. It refers to
// the cluster by name and takes everything else as props, so it can be used
// in an estate this app did not create.
func NewServiceStack(scope constructs.Construct, id string, props *ServiceStackProps) *ServiceStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	n := props.Names

	role := newTaskRole(stack, props)
	fsys := serviceFileSystem(stack, props.FileSystem)
	fsys.GrantRootAccess(role)

	const volume = "efs-root"
	taskDef := awsecs.NewFargateTaskDefinition(stack, jsii.String("TaskDefinition"),
		&awsecs.FargateTaskDefinitionProps{
			Family:         jsii.String(n.TaskFamily),
			Cpu:            jsii.Number(256),
			MemoryLimitMiB: jsii.Number(512),
			RuntimePlatform: &awsecs.RuntimePlatform{
				CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
				OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
			},
			TaskRole: role,
			Volumes: &[]*awsecs.Volume{{
				Name: jsii.String(volume),
				EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
					FileSystemId:        fsys.FileSystemId(),
					RootDirectory:       jsii.String("/"),
					TransitEncryption:   jsii.String("ENABLED"),
					AuthorizationConfig: &awsecs.AuthorizationConfig{Iam: jsii.String("ENABLED")},
				},
			}},
		})

	container := taskDef.AddContainer(jsii.String("Container"), &awsecs.ContainerDefinitionOptions{
		ContainerName: jsii.String(n.Container),
		Image:         containerImage(stack, props.Image),
		Command:       jsii.Strings(KeepAliveCommand...),
		Essential:     jsii.Bool(true),
		// Reaps the exec agent's and the shells' orphans.
		LinuxParameters: awsecs.NewLinuxParameters(stack, jsii.String("LinuxParameters"),
			&awsecs.LinuxParametersProps{InitProcessEnabled: jsii.Bool(true)}),
		// The exec agent writes into the container's file system. There is
		// no Environment at all, so no credentials can shadow the task role.
		ReadonlyRootFilesystem: jsii.Bool(false),
	})
	container.AddMountPoints(&awsecs.MountPoint{
		ContainerPath: jsii.String(MountPath),
		SourceVolume:  jsii.String(volume),
		ReadOnly:      jsii.Bool(false),
	})

	sg := awsec2.NewSecurityGroup(stack, jsii.String("SecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:         props.Vpc,
		Description: jsii.String("breakglass service " + n.ECSService + ": nothing inbound"),
		// Exec needs HTTPS to ssmmessages, the image pull HTTPS to the
		// registry, the mount NFS; nothing connects to the container.
		AllowAllOutbound: jsii.Bool(true),
	})
	// Allowing NFS *to* the file system puts the ingress rule on its security
	// group into this stack, so the EFS stack never depends on a service.
	sg.Connections().AllowToDefaultPort(fsys, jsii.String("NFS from "+n.ECSService))
	awscdk.Annotations_Of(sg).AcknowledgeWarning(jsii.String("@aws-cdk/aws-ec2:ipv4IgnoreEgressRule"),
		jsii.String("all outbound traffic is allowed, which includes NFS"))

	// The service names its cluster: the CLI finds it by that name, and a
	// reference would give the service the permissions the CDK derives from
	// the cluster's exec configuration, which are broader than ours.
	cluster := awsecs.Cluster_FromClusterAttributes(stack, jsii.String("Cluster"),
		&awsecs.ClusterAttributes{ClusterName: jsii.String(n.Cluster), Vpc: props.Vpc})
	service := awsecs.NewFargateService(stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:        cluster,
		ServiceName:    jsii.String(n.ECSService),
		TaskDefinition: taskDef,
		// Resting count; breakglass scales to 1 and back.
		DesiredCount: jsii.Number(0),
		// One task at most: a deployment stops the old task before it
		// starts the new one.
		MinHealthyPercent: jsii.Number(0),
		MaxHealthyPercent: jsii.Number(100),
		CircuitBreaker: &awsecs.DeploymentCircuitBreaker{
			Enable: jsii.Bool(true), Rollback: jsii.Bool(true),
		},
		// Fargate platform 1.4.0 or later is required for exec and EFS;
		// LATEST is that.
		PlatformVersion:      awsecs.FargatePlatformVersion_LATEST,
		EnableExecuteCommand: jsii.Bool(true),
		AssignPublicIp:       jsii.Bool(false),
		VpcSubnets:           orPrivate(props.Subnets),
		SecurityGroups:       &[]awsec2.ISecurityGroup{sg},
		// Tasks carry the service's tags, breakglass:managed included, so the
		// operator policy can condition ExecuteCommand and StopTask on it.
		PropagateTags:        awsecs.PropagatedTagSource_SERVICE,
		EnableECSManagedTags: jsii.Bool(true),
	})
	awscdk.Tags_Of(service).Add(jsii.String(naming.ManagedTagKey), jsii.String(naming.ManagedTagValue), nil)

	open := fmt.Sprintf("breakglass open %s %s", n.Env, n.Service)
	if n.Project != naming.DefaultProject {
		open = fmt.Sprintf("breakglass --project %s open %s %s", n.Project, n.Env, n.Service)
	}
	awscdk.NewCfnOutput(stack, jsii.String("ServiceName"), &awscdk.CfnOutputProps{
		Value:       service.ServiceName(),
		Description: jsii.String("open it with: " + open),
	})
	return &ServiceStack{Stack: stack, Service: service, TaskDefinition: taskDef, TaskRole: role,
		SecurityGroup: sg}
}

// newTaskRole returns the task role with exactly what the exec agent needs
// (the CDK adds the four ssmmessages actions when exec is enabled) plus root
// access to the file system, which the service grants.
func newTaskRole(stack awscdk.Stack, props *ServiceStackProps) awsiam.Role {
	account, partition, region := *awscdk.Aws_ACCOUNT_ID(), *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION()

	// Only ECS tasks of this account may assume it (confused deputy).
	sourceArn := fmt.Sprintf("arn:%s:ecs:%s:%s:*", partition, region, account)
	principal := awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"),
		&awsiam.ServicePrincipalOpts{Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": account},
			"ArnLike":      map[string]any{"aws:SourceArn": sourceArn},
		}})
	role := awsiam.NewRole(stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy: principal,
		Description: jsii.String("breakglass " + props.Names.ECSService +
			": ECS Exec and root on its file system"),
	})

	if props.ExecLogGroupName != "" {
		// The agent checks the log group's encryption before it logs.
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("logs:DescribeLogGroups"),
			Resources: jsii.Strings("*"),
		}))
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"),
			Resources: jsii.Strings(fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s:*",
				partition, region, account, props.ExecLogGroupName)),
		}))
	}
	if props.ExecKey != nil {
		// The agent decrypts the session's data key.
		role.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("kms:Decrypt"),
			Resources: jsii.Strings(*props.ExecKey.KeyArn()),
		}))
	}
	return role
}

// serviceFileSystem returns the file system to mount, importing an existing
// one into stack. The import's security group is mutable so that the service
// can add its NFS ingress rule to it.
func serviceFileSystem(stack awscdk.Stack, src FileSystemSource) awsefs.IFileSystem {
	if src.FileSystem != nil {
		return src.FileSystem
	}
	sg := awsec2.SecurityGroup_FromSecurityGroupId(stack, jsii.String("FileSystemSecurityGroup"),
		jsii.String(src.SecurityGroupID), &awsec2.SecurityGroupImportOptions{Mutable: jsii.Bool(true)})
	return awsefs.FileSystem_FromFileSystemAttributes(stack, jsii.String("FileSystem"),
		&awsefs.FileSystemAttributes{FileSystemId: jsii.String(src.ID), SecurityGroup: sg})
}

// containerImage pulls from a registry by name, or from a private ECR
// repository through an execution role the CDK creates and grants the pull.
func containerImage(stack awscdk.Stack, image string) awsecs.ContainerImage {
	ecr, ok := config.ParseECRImage(image)
	if !ok {
		return awsecs.ContainerImage_FromRegistry(jsii.String(image), nil)
	}
	repo := awsecr.Repository_FromRepositoryAttributes(stack, jsii.String("ImageRepository"),
		&awsecr.RepositoryAttributes{
			RepositoryName: jsii.String(ecr.Repository),
			RepositoryArn: jsii.String(fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s",
				*awscdk.Aws_PARTITION(), ecr.Region, ecr.Account, ecr.Repository)),
		})
	return awsecs.ContainerImage_FromEcrRepository(repo, jsii.String(ecr.Tag))
}
