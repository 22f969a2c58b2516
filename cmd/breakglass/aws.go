package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/config"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"

	"github.com/breakglass-dev/breakglass/internal/ecs"
)

// awsFlags are the AWS settings a command was given. Empty fields leave the
// choice to the SDK's own chain: AWS_PROFILE, AWS_REGION, the shared config
// and credentials files, SSO and the endpoint variables.
type awsFlags struct {
	profile string
	region  string
	// profileSource says where profile was set ("--profile", a config
	// file line), for errors about it; "" means --profile.
	profileSource string
}

// awsSession is one aws.Config and the clients built from it. Every client
// comes from the same config so that SSO and credential_process profiles
// behave the same for each call.
type awsSession struct {
	cfg         aws.Config
	profile     string
	ecs         *ecssdk.Client
	sts         *sts.Client
	ssmEndpoint string // "" unless AWS_ENDPOINT_URL(_SSM) or the config names one
}

// awsConfigError is a problem with the local AWS configuration, found before
// any call is made.
type awsConfigError struct {
	msg  string
	hint string
	err  error
}

func (e *awsConfigError) Error() string { return e.msg }
func (e *awsConfigError) Unwrap() error { return e.err }
func (e *awsConfigError) Hint() string  { return e.hint }

// loadAWS loads the SDK configuration and builds the clients. With --verbose
// every API call is logged with its duration.
func loadAWS(ctx context.Context, f awsFlags, io *IOStreams) (*awsSession, error) {
	var opts []func(*config.LoadOptions) error
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	if f.region != "" {
		opts = append(opts, config.WithRegion(f.region))
	}
	// The SDK's own warnings (a response body it could not drain, say) say
	// nothing an operator can act on; they are shown only with --verbose.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	if io.Verbose {
		opts = append(opts, config.WithAPIOptions([]func(*middleware.Stack) error{
			logCalls(io),
		}), config.WithLogger(logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
			io.Printf("sdk %s: %s", strings.ToLower(string(c)), fmt.Sprintf(format, v...))
		})))
	}

	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, configLoadError(err, f.profileSource)
	}
	if cfg.Region == "" {
		return nil, &awsConfigError{
			msg: "no AWS region is set",
			hint: "pass --region, set AWS_REGION, set region for the environment in the breakglass " +
				"config file ('breakglass config --help'), or set region in the profile " +
				"(aws configure set region eu-west-1)",
		}
	}

	profile := f.profile
	if profile == "" {
		profile = os.Getenv("AWS_PROFILE")
	}
	s := &awsSession{
		cfg:     cfg,
		profile: profile,
		ecs:     ecssdk.NewFromConfig(cfg),
		sts:     sts.NewFromConfig(cfg),
	}
	// The SSM client resolves AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL the
	// same way the session child's plugin would; reading it here lets the
	// child use exactly the endpoint breakglass itself would use.
	if ep := ssm.NewFromConfig(cfg).Options().BaseEndpoint; ep != nil {
		s.ssmEndpoint = *ep
	}
	return s, nil
}

func configLoadError(err error, profileSource string) error {
	var missing config.SharedConfigProfileNotExistError
	if errors.As(err, &missing) {
		from := ""
		if profileSource != "" && profileSource != "--profile" {
			from = " (set by " + profileSource + ")"
		}
		hint := "check the name with 'aws configure list-profiles', or create it with " +
			"'aws configure --profile " + missing.Profile + "' or 'aws configure sso'"
		return &awsConfigError{
			msg:  fmt.Sprintf("AWS profile %q%s is not in the shared config", missing.Profile, from),
			hint: hint,
			err:  err,
		}
	}
	return &awsConfigError{
		msg:  fmt.Sprintf("load AWS configuration: %v", err),
		hint: "check AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE and the profile's settings",
		err:  err,
	}
}

// callerIdentity returns who is calling, for the opened-by record: the
// caller's ARN when STS answers, else user@host. It never fails: the record
// is informative and must not block an emergency.
func (s *awsSession) callerIdentity(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := s.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil && out.Arn != nil {
		return *out.Arn
	}
	return localIdentity()
}

func localIdentity() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return name + "@" + host
}

// logCalls returns middleware that logs each API call and its duration.
func logCalls(io *IOStreams) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("breakglassCallLog",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
				middleware.InitializeOutput, middleware.Metadata, error,
			) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				svc := awsmiddleware.GetServiceID(ctx)
				op := awsmiddleware.GetOperationName(ctx)
				if err != nil {
					io.Printf("api %s.%s failed after %v: %v", svc, op,
						time.Since(start).Round(time.Millisecond), err)
				} else {
					io.Printf("api %s.%s %v", svc, op, time.Since(start).Round(time.Millisecond))
				}
				return out, md, err
			}), middleware.Before)
	}
}

// ecsClient builds the ECS side from the session. Hints name the session's
// profile, wherever it was chosen.
func (s *awsSession) ecsClient(o ecs.Options) *ecs.Client {
	if o.Profile == "" {
		o.Profile = s.profile
	}
	return ecs.New(s.ecs, o)
}

// clusterNames lists the names of the region's ECS clusters, for
// suggestions and completion; ListClusters returns ARNs.
func (s *awsSession) clusterNames(ctx context.Context) ([]string, error) {
	var names []string
	p := ecssdk.NewListClustersPaginator(s.ecs, &ecssdk.ListClustersInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, ecs.Classify("list clusters", err)
		}
		for _, arn := range out.ClusterArns {
			names = append(names, arn[strings.LastIndex(arn, "/")+1:])
		}
	}
	return names, nil
}
