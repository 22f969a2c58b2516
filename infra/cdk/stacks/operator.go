package stacks

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// OperatorStackProps configure the operator policy.
type OperatorStackProps struct {
	awscdk.StackProps
	PolicyName  string
	ClusterName string
	// Project and Env give the task families UpdateService may keep.
	Project, Env string
	// ExecKey is the cluster's exec key; nil when sessions are not
	// encrypted with one.
	ExecKey awskms.IKey
}

// OperatorStack holds the managed policy that lets an operator run
// `breakglass open`, `status` and `close` on the breakglass services of one
// environment, and nothing else.
type OperatorStack struct {
	awscdk.Stack
	Policy awsiam.ManagedPolicy
}

// NewOperatorStack adds the operator policy's stack to scope. Its ARN is the
// stack output OperatorPolicyArn.
func NewOperatorStack(scope constructs.Construct, id string, props *OperatorStackProps) *OperatorStack {
	stack := awscdk.NewStack(scope, &id, &props.StackProps)

	policy := awsiam.NewManagedPolicy(stack, jsii.String("OperatorPolicy"), &awsiam.ManagedPolicyProps{
		ManagedPolicyName: jsii.String(props.PolicyName),
		Description: jsii.String(fmt.Sprintf("breakglass open/status/close on the breakglass services of %s",
			props.ClusterName)),
		Statements: OperatorStatements(props),
	})

	awscdk.NewCfnOutput(stack, jsii.String("OperatorPolicyArn"), &awscdk.CfnOutputProps{
		Value:       policy.ManagedPolicyArn(),
		Description: jsii.String("attach to the roles or groups of breakglass operators"),
		ExportName:  jsii.String(props.PolicyName + "-PolicyArn"),
	})
	return &OperatorStack{Stack: stack, Policy: policy}
}

// tagNamespace is the prefix of breakglass's tags ("breakglass:").
var tagNamespace = naming.ManagedTagKey[:strings.Index(naming.ManagedTagKey, ":")+1]

// OperatorStatements are the statements of the operator policy. The
// resource-level permissions and condition keys each action supports are
// those of the service authorization reference for Amazon ECS.
//
// Reading is allowed on the whole cluster, so that status can list every
// service and open can say that a service is not a breakglass service
// instead of failing with access denied. Everything that changes something
// requires the resource to be tagged breakglass:managed=true.
func OperatorStatements(props *OperatorStackProps) *[]awsiam.PolicyStatement {
	partition, region, account := *awscdk.Aws_PARTITION(), *awscdk.Aws_REGION(), *awscdk.Aws_ACCOUNT_ID()
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:%s:%s:%s:%s:%s", partition, service, region, account, resource)
	}
	clusterArn := arn("ecs", "cluster/"+props.ClusterName)
	services := arn("ecs", "service/"+props.ClusterName+"/*")
	tasks := arn("ecs", "task/"+props.ClusterName+"/*")
	inCluster := map[string]any{"ArnEquals": map[string]any{"ecs:cluster": clusterArn}}
	managed := map[string]any{"aws:ResourceTag/" + naming.ManagedTagKey: naming.ManagedTagValue}

	statement := func(sid string, actions, resources []string,
		conditions map[string]any) awsiam.PolicyStatement {
		p := &awsiam.PolicyStatementProps{
			Sid:       jsii.String(sid),
			Actions:   jsii.Strings(actions...),
			Resources: jsii.Strings(resources...),
		}
		if conditions != nil {
			p.Conditions = &conditions
		}
		return awsiam.NewPolicyStatement(p)
	}

	stmts := []awsiam.PolicyStatement{
		// ListClusters has no resource-level permissions.
		statement("ListClusters", []string{"ecs:ListClusters"}, []string{"*"}, nil),
		// DescribeClusters supports no ecs:cluster key; the ARN scopes it.
		statement("DescribeTheCluster", []string{"ecs:DescribeClusters"}, []string{clusterArn}, nil),
		// Quirk: the reference gives ListTasks the resource type
		// container-instance, which Fargate tasks have none of, and
		// ListServices none at all; "*" narrowed by ecs:cluster is what works.
		statement("ListInTheCluster", []string{"ecs:ListServices", "ecs:ListTasks"}, []string{"*"},
			inCluster),
		statement("DescribeInTheCluster", []string{"ecs:DescribeServices", "ecs:DescribeTasks"},
			[]string{services, tasks}, inCluster),

		// UpdateService has no key for desiredCount. It can be kept from
		// swapping the task definition, the change that would run other
		// code with other permissions: ecs:task-definition is in the
		// request only when a task definition is, hence IfExists. Without
		// iam:PassRole, which this policy does not grant, a task definition
		// with a different role is refused anyway.
		statement("ScaleBreakglassServices", []string{"ecs:UpdateService"}, []string{services},
			map[string]any{
				"ArnEquals":    map[string]any{"ecs:cluster": clusterArn},
				"StringEquals": managed,
				"ArnLikeIfExists": map[string]any{"ecs:task-definition": arn("ecs",
					fmt.Sprintf("task-definition/%s-*-Task-%s:*", props.Project, props.Env))},
			}),
		statement("StopBreakglassTasks", []string{"ecs:StopTask"}, []string{tasks},
			map[string]any{"ArnEquals": inCluster["ArnEquals"], "StringEquals": managed}),

		// ExecuteCommand is authorised against the cluster and the task
		// separately, with the same condition keys. The cluster carries no
		// breakglass tag, so the tag condition applies to tasks only; they
		// have the tag because the services propagate their tags.
		statement("ExecIntoTheCluster", []string{"ecs:ExecuteCommand"}, []string{clusterArn}, inCluster),
		statement("ExecIntoBreakglassTasks", []string{"ecs:ExecuteCommand"}, []string{tasks},
			map[string]any{"ArnEquals": inCluster["ArnEquals"], "StringEquals": managed}),

		// breakglass records who holds a service open in its own tags. Only
		// those keys may change, so nobody can tag an ordinary service as a
		// breakglass service, or untag one. TagResource supports no
		// ecs:cluster key; the ARN scopes it. ForAllValues holds for an
		// empty set, hence the Null check.
		statement("RecordWhoHoldsAServiceOpen", []string{"ecs:TagResource", "ecs:UntagResource"},
			[]string{services}, map[string]any{
				"StringEquals":            managed,
				"ForAllValues:StringLike": map[string]any{"aws:TagKeys": tagNamespace + "opened-*"},
				"Null":                    map[string]any{"aws:TagKeys": "false"},
			}),

		// The Session Manager plugin resumes and ends the session. Exec
		// session ids start with ecs-execute-command-; unlike StartSession
		// ids they carry no user name, so the resource can't be narrowed to
		// the caller's own sessions.
		statement("ResumeAndEndExecSessions", []string{"ssm:ResumeSession", "ssm:TerminateSession"},
			[]string{arn("ssm", "session/ecs-execute-command-*")}, nil),
	}

	if props.ExecKey != nil {
		// With an exec key, the client side of the session generates the
		// data key the agent then decrypts with the task role.
		stmts = append(stmts, statement("EncryptExecSessions", []string{"kms:GenerateDataKey"},
			[]string{*props.ExecKey.KeyArn()}, nil))
	}

	// sts:GetCallerIdentity is missing on purpose: it needs no permission
	// and cannot be denied.
	return &stmts
}
