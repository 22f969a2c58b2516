// Command efsinit is the Lambda behind the Custom::EfsDirectories resource of
// the EFS stack. It runs with the file system mounted through a root access
// point and creates the directories the resource lists, such as /mysql/data
// and /rabbitmq/data, so that applications can mount them through their own
// access points.
//
// It is built for provided.al2023 on arm64 during `cdk synth` (see
// stacks/bundle.go) and answers CloudFormation itself through the response
// URL of each request (aws-lambda-go's cfn package), so no provider framework
// is involved.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-lambda-go/lambda"
)

// defaultRoot is where the stack mounts the file system in the function.
const defaultRoot = "/mnt/efs"

func main() {
	root := os.Getenv("EFS_ROOT")
	if root == "" {
		root = defaultRoot
	}
	h := &handler{root: root}
	lambda.Start(cfn.LambdaWrap(h.handle))
}
