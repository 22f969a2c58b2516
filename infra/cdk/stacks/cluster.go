package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ClusterStackProps configure the cluster.
type ClusterStackProps struct {
	awscdk.StackProps
	ClusterName string
	// Vpc is the VPC the cluster's services run in; nil looks up VpcID.
	Vpc   awsec2.IVpc
	VpcID string
	// ContainerInsights turns on CloudWatch Container Insights.
	ContainerInsights bool
	// ExecLogGroupName is the log group every exec session is logged to.
	ExecLogGroupName string
	// ExecLogRetention is in days, one of the values CloudWatch accepts.
	ExecLogRetention int
}

// ClusterStack is the environment's ECS cluster with ECS Exec configured:
// every session is encrypted with ExecKey and logged to ExecLogGroup, which
// ExecKey encrypts too.
type ClusterStack struct {
	awscdk.Stack
	Vpc          awsec2.IVpc
	Cluster      awsecs.Cluster
	ExecKey      awskms.Key
	ExecLogGroup awslogs.LogGroup
}

// NewClusterStack adds the cluster stack to scope.
func NewClusterStack(scope constructs.Construct, id string, props *ClusterStackProps) *ClusterStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	vpc := props.Vpc
	if vpc == nil {
		vpc = awsec2.Vpc_FromLookup(stack, jsii.String("Vpc"), &awsec2.VpcLookupOptions{
			VpcId: jsii.String(props.VpcID),
		})
	}

	// The key outlives the stack (the CDK default for keys): exec logs
	// encrypted with it stay readable after a teardown.
	key := awskms.NewKey(stack, jsii.String("ExecKey"), &awskms.KeyProps{
		Description:       jsii.String("ECS Exec sessions and their logs in cluster " + props.ClusterName),
		Alias:             jsii.String("alias/" + props.ClusterName + "-exec"),
		EnableKeyRotation: jsii.Bool(true),
	})

	// CloudWatch Logs encrypts the log group with the key itself, so the key
	// policy must let the regional Logs service use it, for this log group
	// only. The ARN is built from the name: referencing the log group here
	// would be circular, as the log group references the key.
	logGroupArn := fmt.Sprintf("arn:%s:logs:%s:%s:log-group:%s",
		*awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID(), props.ExecLogGroupName)
	logsPrincipal := awsiam.NewServicePrincipal(
		jsii.String(fmt.Sprintf("logs.%s.amazonaws.com", *awscdk.Aws_REGION())), nil)
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("CloudWatchLogsEncryptsTheExecLogGroup"),
		Principals: &[]awsiam.IPrincipal{logsPrincipal},
		Actions: jsii.Strings("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
			"kms:Describe*"),
		Resources: jsii.Strings("*"),
		Conditions: &map[string]any{
			"ArnEquals": map[string]any{"kms:EncryptionContext:aws:logs:arn": logGroupArn},
		},
	}), nil)

	logGroup := awslogs.NewLogGroup(stack, jsii.String("ExecLogGroup"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(props.ExecLogGroupName),
		EncryptionKey: key,
		Retention:     retention(props.ExecLogRetention),
		// An audit trail is kept when the stack goes.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})

	insights := awsecs.ContainerInsights_DISABLED
	if props.ContainerInsights {
		insights = awsecs.ContainerInsights_ENABLED
	}
	cluster := awsecs.NewCluster(stack, jsii.String("Cluster"), &awsecs.ClusterProps{
		ClusterName:         jsii.String(props.ClusterName),
		Vpc:                 vpc,
		ContainerInsightsV2: insights,
		ExecuteCommandConfiguration: &awsecs.ExecuteCommandConfiguration{
			KmsKey:  key,
			Logging: awsecs.ExecuteCommandLogging_OVERRIDE,
			LogConfiguration: &awsecs.ExecuteCommandLogConfiguration{
				CloudWatchLogGroup: logGroup,
				// The agent then insists on an encrypted log group, so the
				// session logs can't end up in plain text unnoticed.
				CloudWatchEncryptionEnabled: jsii.Bool(true),
			},
		},
	})

	awscdk.NewCfnOutput(stack, jsii.String("ClusterName"), &awscdk.CfnOutputProps{
		Value:       cluster.ClusterName(),
		Description: jsii.String("the cluster breakglass finds by the naming convention"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("ExecLogGroupName"), &awscdk.CfnOutputProps{
		Value:       logGroup.LogGroupName(),
		Description: jsii.String("where every ECS Exec session is logged"),
	})
	return &ClusterStack{Stack: stack, Vpc: vpc, Cluster: cluster, ExecKey: key, ExecLogGroup: logGroup}
}

// retentions maps days to the CDK's names for them; config only lets days
// through that CloudWatch accepts.
var retentions = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK,
	14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS,
	180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS,
	1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS,
}

func retention(days int) awslogs.RetentionDays {
	r, ok := retentions[days]
	if !ok {
		panic(fmt.Sprintf("stacks: log retention of %d days is not a CloudWatch value", days))
	}
	return r
}
