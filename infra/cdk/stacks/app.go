// Package stacks holds the breakglass infrastructure as CDK stacks, one per
// concern, each named by the naming convention:
//
//	<project>-VPC-<ENV>       the VPC (absent when an existing VPC is used)
//	<project>-ECS-<ENV>       the cluster, with exec logging and its KMS key
//	<project>-EFS-<ENV>       the file system and its directory initialiser
//	<project>-<SERVICE>-<ENV> one breakglass service each
//	<project>-Operator-<ENV>  the managed policy operators need
//
// A service stack takes its cluster by name and its file system, log group
// and key as interfaces, so a team can add only that stack to an estate it
// already has (see NewServiceStack).
package stacks

import (
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/infra/cdk/config"
)

// Options change how the app is built without changing what it describes.
// The zero value is what `cdk synth` uses.
type Options struct {
	// InitCode is the code of the EFS init function. Nil builds
	// lambda/efsinit with the local Go toolchain during synth.
	InitCode awslambda.Code
	// Env is the account and region of every stack. Nil leaves the stacks
	// environment-agnostic, except with an existing VPC, whose lookup needs
	// CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION (the CDK CLI sets both).
	Env *awscdk.Environment
}

// Stacks are the stacks of one environment.
type Stacks struct {
	Network  *NetworkStack // nil when an existing VPC is used
	Cluster  *ClusterStack
	Storage  *StorageStack
	Services []*ServiceStack // in the order of config.Services
	Operator *OperatorStack
}

// New adds the stacks of the environment cfg describes to scope, usually the
// app. cfg must be valid (config.FromContext validates).
func New(scope constructs.Construct, cfg config.Config, opts Options) (*Stacks, error) {
	env := opts.Env
	if env == nil && cfg.VPC.ID != "" {
		account, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION")
		if account == "" || region == "" {
			return nil, &config.Error{Key: config.KeyVpcID, Value: cfg.VPC.ID,
				Reason: "looking up an existing VPC needs an account and region; " +
					"run through the cdk CLI with AWS credentials and a region configured"}
		}
		env = &awscdk.Environment{Account: jsii.String(account), Region: jsii.String(region)}
	}
	props := func(description string) *awscdk.StackProps {
		return &awscdk.StackProps{Env: env, Description: jsii.String(description)}
	}

	// Isolated subnets only when the VPC is ours and has no NAT (config
	// refuses that without endpoints).
	subnets := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	if cfg.VPC.ID == "" && cfg.VPC.NATGateways == 0 {
		subnets = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED}
	}

	s := &Stacks{}
	var vpc awsec2.IVpc
	if cfg.VPC.ID == "" {
		s.Network = NewNetworkStack(scope, cfg.NetworkStackName(), &NetworkStackProps{
			StackProps:  *props("breakglass " + cfg.Env + ": VPC with public and private subnets in two AZs"),
			NATGateways: cfg.VPC.NATGateways,
			Endpoints:   cfg.VPC.Endpoints,
		})
		vpc = s.Network.Vpc
	}

	s.Cluster = NewClusterStack(scope, cfg.ClusterStackName(), &ClusterStackProps{
		StackProps:        *props("breakglass " + cfg.Env + ": ECS cluster with audited, encrypted ECS Exec"),
		ClusterName:       cfg.ClusterName(),
		Vpc:               vpc,
		VpcID:             cfg.VPC.ID,
		ContainerInsights: cfg.ContainerInsights,
		ExecLogGroupName:  cfg.ExecLogGroupName(),
		ExecLogRetention:  cfg.ExecLogRetentionDays,
	})
	vpc = s.Cluster.Vpc

	s.Storage = NewStorageStack(scope, cfg.StorageStackName(), &StorageStackProps{
		StackProps:     *props("breakglass " + cfg.Env + ": encrypted EFS file system and its directories"),
		Vpc:            vpc,
		Subnets:        subnets,
		FileSystemName: cfg.StorageStackName(),
		Directories:    DefaultDirectories,
		InitCode:       opts.InitCode,
	})

	for _, svc := range cfg.Services {
		names := cfg.Names(svc.Name)
		st := NewServiceStack(scope, cfg.ServiceStackName(svc.Name), &ServiceStackProps{
			StackProps: *props(fmt.Sprintf("breakglass %s: breakglass service %s at desired count 0",
				cfg.Env, svc.Name)),
			Names:            names,
			Vpc:              vpc,
			Subnets:          subnets,
			FileSystem:       s.serviceFileSystem(svc),
			ExecLogGroupName: cfg.ExecLogGroupName(),
			ExecKey:          s.Cluster.ExecKey,
			Image:            cfg.Image,
		})
		// The service names its cluster rather than referencing it, so
		// CloudFormation would not know the order without this.
		st.Stack.AddStackDependency(s.Cluster.Stack, jsii.String("runs in the environment's cluster"))
		s.Services = append(s.Services, st)
	}

	s.Operator = NewOperatorStack(scope, cfg.OperatorStackName(), &OperatorStackProps{
		StackProps:  *props("breakglass " + cfg.Env + ": the managed policy breakglass operators need"),
		PolicyName:  cfg.OperatorPolicyName(),
		ClusterName: cfg.ClusterName(),
		Project:     cfg.Project,
		Env:         cfg.Env,
		ExecKey:     s.Cluster.ExecKey,
	})
	return s, nil
}

// serviceFileSystem is the file system svc mounts: the environment's own, or
// an existing one, which the service's stack imports.
func (s *Stacks) serviceFileSystem(svc config.Service) FileSystemSource {
	if svc.SharedFileSystem() {
		return FileSystemSource{FileSystem: s.Storage.FileSystem}
	}
	return FileSystemSource{ID: svc.FileSystemID, SecurityGroupID: svc.SecurityGroupID}
}

// FileSystemSource says which file system a breakglass service mounts:
// either FileSystem, or an existing one by ID and the SecurityGroupID of its
// mount targets.
type FileSystemSource struct {
	FileSystem      awsefs.IFileSystem
	ID              string
	SecurityGroupID string
}
