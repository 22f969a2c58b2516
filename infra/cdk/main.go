// Command cdk is the breakglass infrastructure as a CDK app; cdk.json runs it
// for `cdk synth` and `cdk deploy`. Its settings are CDK context (see
// README.md and package config).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/breakglass-dev/breakglass/infra/cdk/config"
	"github.com/breakglass-dev/breakglass/infra/cdk/stacks"
)

func main() {
	err := run()
	// Close stops the node process jsii runs the CDK in.
	jsii.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "breakglass-cdk: %v\n", err)
		var h interface{ Hint() string }
		if errors.As(err, &h) {
			fmt.Fprintf(os.Stderr, "breakglass-cdk: hint: %s\n", h.Hint())
		}
		os.Exit(1)
	}
}

func run() error {
	app := awscdk.NewApp(nil)
	cfg, err := config.FromContext(func(key string) any {
		return app.Node().TryGetContext(jsii.String(key))
	})
	if err != nil {
		return err
	}
	if _, err := stacks.New(app, cfg, stacks.Options{}); err != nil {
		return err
	}
	app.Synth(nil)
	return nil
}
