package stacks

import (
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// InitMountPath is where the init function mounts the file system. Lambda
// requires mount paths under /mnt.
const InitMountPath = "/mnt/efs"

// Directory is a directory the init function creates on the file system.
type Directory struct {
	Path     string // absolute within the file system
	UID, GID int    // owner, applied only when the directory is created
	Mode     uint32 // permission bits, applied only when it is created
}

// DefaultDirectories are the data directories of the applications that
// share the file system. 999:999 is the mysql and rabbitmq user of their
// official images, so those containers can write their data through access
// points that enforce that user.
var DefaultDirectories = []Directory{
	{Path: "/mysql/data", UID: 999, GID: 999, Mode: 0o750},
	{Path: "/rabbitmq/data", UID: 999, GID: 999, Mode: 0o750},
}

// StorageStackProps configure the file system.
type StorageStackProps struct {
	awscdk.StackProps
	Vpc awsec2.IVpc
	// Subnets are the private subnets for the mount targets and the init
	// function; nil selects the private subnets with egress.
	Subnets        *awsec2.SubnetSelection
	FileSystemName string
	Directories    []Directory
	// InitCode is the init function's code; nil builds lambda/efsinit.
	InitCode awslambda.Code
}

// StorageStack is an encrypted EFS file system in the private subnets whose
// security group admits NFS only from what mounts it, and a custom resource
// that creates its directories.
type StorageStack struct {
	awscdk.Stack
	FileSystem   awsefs.FileSystem
	InitFunction awslambda.Function
}

// NewStorageStack adds the storage stack to scope.
func NewStorageStack(scope constructs.Construct, id string, props *StorageStackProps) *StorageStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	// No rules of its own: each client adds the NFS ingress it needs (the
	// breakglass services do so from their own stacks).
	sg := awsec2.NewSecurityGroup(stack, jsii.String("FileSystemSecurityGroup"),
		&awsec2.SecurityGroupProps{
			Vpc: props.Vpc,
			Description: jsii.String("EFS mount targets of " + props.FileSystemName +
				": NFS from its clients only"),
			AllowAllOutbound: jsii.Bool(false),
		})

	fs := awsefs.NewFileSystem(stack, jsii.String("FileSystem"), &awsefs.FileSystemProps{
		Vpc:            props.Vpc,
		VpcSubnets:     orPrivate(props.Subnets),
		SecurityGroup:  sg,
		FileSystemName: jsii.String(props.FileSystemName),
		Encrypted:      jsii.Bool(true),
		ThroughputMode: awsefs.ThroughputMode_ELASTIC,
		// Data outlives the stack; see the README on tearing down.
		RemovalPolicy:    awscdk.RemovalPolicy_RETAIN,
		FileSystemPolicy: fileSystemPolicy(),
		// Despite its name this only stops the CDK from adding a statement
		// that allows root access to every IAM principal reaching a mount
		// target. Our policy allows nobody, so every client needs an IAM
		// grant of its own, and NFS clients without IAM are refused.
		AllowAnonymousAccess: jsii.Bool(true),
	})

	initFn := newInitFunction(stack, fs, props)
	return &StorageStack{Stack: stack, FileSystem: fs, InitFunction: initFn}
}

// fileSystemPolicy refuses unencrypted NFS. It allows nothing, so access
// comes only from identity policies of the same account (task roles, the
// init function's role): a file system policy without an Allow denies
// anonymous clients.
func fileSystemPolicy() awsiam.PolicyDocument {
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
		Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Sid:        jsii.String("DenyUnencryptedTransport"),
				Effect:     awsiam.Effect_DENY,
				Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
				Actions:    jsii.Strings("*"),
				Resources:  jsii.Strings("*"),
				Conditions: &map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}),
		},
	})
}

// newInitFunction adds the Go Lambda that creates the directories, mounted
// through an access point that acts as root at the file system root, and the
// custom resource that runs it on every deploy that changes its properties.
func newInitFunction(stack awscdk.Stack, fs awsefs.FileSystem,
	props *StorageStackProps) awslambda.Function {
	ap := fs.AddAccessPoint(jsii.String("InitAccessPoint"), &awsefs.AccessPointOptions{
		Path:      jsii.String("/"),
		PosixUser: &awsefs.PosixUser{Uid: jsii.String("0"), Gid: jsii.String("0")},
	})

	code := props.InitCode
	if code == nil {
		code = goLambdaCode("lambda/efsinit")
	}
	logs := awslogs.NewLogGroup(stack, jsii.String("InitFunctionLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	fn := awslambda.NewFunction(stack, jsii.String("InitFunction"), &awslambda.FunctionProps{
		Description:  jsii.String("creates the directories of " + props.FileSystemName),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         code,
		MemorySize:   jsii.Number(128),
		Timeout:      awscdk.Duration_Minutes(jsii.Number(2)),
		Vpc:          props.Vpc,
		VpcSubnets:   orPrivate(props.Subnets),
		// It needs HTTPS to the response URL and NFS to the mount targets.
		AllowAllOutbound: jsii.Bool(true),
		Filesystem:       awslambda.FileSystem_FromEfsAccessPoint(ap, jsii.String(InitMountPath)),
		Environment:      &map[string]*string{"EFS_ROOT": jsii.String(InitMountPath)},
		LogGroup:         logs,
	})
	// The CDK grants ClientMount and ClientWrite through the access point;
	// an access point acting as uid 0 also needs ClientRootAccess, or EFS
	// squashes it to nobody and mkdir fails.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("elasticfilesystem:ClientRootAccess"),
		Resources: jsii.Strings(*fs.FileSystemArn()),
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"elasticfilesystem:AccessPointArn": ap.AccessPointArn()},
		},
	}))
	// With all outbound allowed the CDK skips the NFS egress rule it would
	// add, and says so; the ingress rule on the file system is what counts.
	awscdk.Annotations_Of(fn).AcknowledgeWarning(jsii.String("@aws-cdk/aws-ec2:ipv4IgnoreEgressRule"),
		jsii.String("all outbound traffic is allowed, which includes NFS"))

	dirs := make([]any, 0, len(props.Directories))
	for _, d := range props.Directories {
		dirs = append(dirs, map[string]any{
			"Path":  d.Path,
			"Owner": strconv.Itoa(d.UID),
			"Group": strconv.Itoa(d.GID),
			"Mode":  "0" + strconv.FormatUint(uint64(d.Mode), 8),
		})
	}
	awscdk.NewCustomResource(stack, jsii.String("Directories"), &awscdk.CustomResourceProps{
		ServiceToken: fn.FunctionArn(),
		ResourceType: jsii.String("Custom::EfsDirectories"),
		// Without a limit a function that never answers (say, no route to
		// the response URL) holds the stack for an hour.
		ServiceTimeout: awscdk.Duration_Minutes(jsii.Number(5)),
		Properties: &map[string]any{
			"FileSystemId": fs.FileSystemId(),
			"Directories":  dirs,
		},
	})
	return fn
}

// orPrivate returns subnets, or the private subnets with egress if nil.
func orPrivate(subnets *awsec2.SubnetSelection) *awsec2.SubnetSelection {
	if subnets != nil {
		return subnets
	}
	return &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
}
