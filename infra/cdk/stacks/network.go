package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// NetworkStackProps configure the VPC.
type NetworkStackProps struct {
	awscdk.StackProps
	// NATGateways is 0, 1 or 2. One NAT gateway serves both AZs (the main
	// fixed cost of the environment); with 0 the private subnets are
	// isolated and Endpoints must be set.
	NATGateways int
	// Endpoints adds the VPC endpoints that ECS Exec, image pulls from
	// private ECR and the EFS init function need without internet egress.
	Endpoints bool
}

// NetworkStack is a VPC over two availability zones with public subnets and
// private subnets (with egress through NAT, or isolated).
type NetworkStack struct {
	awscdk.Stack
	Vpc awsec2.Vpc
}

// NewNetworkStack adds the VPC stack to scope.
func NewNetworkStack(scope constructs.Construct, id string, props *NetworkStackProps) *NetworkStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	privateType := awsec2.SubnetType_PRIVATE_WITH_EGRESS
	if props.NATGateways == 0 {
		privateType = awsec2.SubnetType_PRIVATE_ISOLATED
	}
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(float64(props.NATGateways)),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
			{Name: jsii.String("Private"), SubnetType: privateType, CidrMask: jsii.Number(22)},
		},
	})

	if props.Endpoints {
		addEndpoints(vpc, privateType)
	}
	return &NetworkStack{Stack: stack, Vpc: vpc}
}

// addEndpoints adds what the private subnets need when they have no route to
// the internet: S3 (a free gateway endpoint) for ECR image layers and for
// the presigned URL the init function answers CloudFormation on, and
// interface endpoints (billed per AZ and hour) for the rest. KMS is not in
// the usual ECS Exec list but is needed: the exec agent decrypts the session
// with the cluster's exec key.
func addEndpoints(vpc awsec2.Vpc, private awsec2.SubnetType) {
	subnets := &awsec2.SubnetSelection{SubnetType: private}
	vpc.AddGatewayEndpoint(jsii.String("S3"), &awsec2.GatewayVpcEndpointOptions{
		Service: awsec2.GatewayVpcEndpointAwsService_S3(),
		Subnets: &[]*awsec2.SubnetSelection{subnets},
	})

	interfaces := []struct {
		id      string
		service awsec2.InterfaceVpcEndpointAwsService
	}{
		{"EcrApi", awsec2.InterfaceVpcEndpointAwsService_ECR()},
		{"EcrDocker", awsec2.InterfaceVpcEndpointAwsService_ECR_DOCKER()},
		{"Ssm", awsec2.InterfaceVpcEndpointAwsService_SSM()},
		{"SsmMessages", awsec2.InterfaceVpcEndpointAwsService_SSM_MESSAGES()},
		{"Logs", awsec2.InterfaceVpcEndpointAwsService_CLOUDWATCH_LOGS()},
		{"Kms", awsec2.InterfaceVpcEndpointAwsService_KMS()},
	}
	for _, e := range interfaces {
		vpc.AddInterfaceEndpoint(jsii.String(e.id), &awsec2.InterfaceVpcEndpointOptions{
			Service: e.service,
			Subnets: subnets,
		})
	}
}
