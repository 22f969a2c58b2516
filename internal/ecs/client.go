// Package ecs is the ECS side of breakglass: it checks that a service is a
// breakglass service that can be exec'd into, scales it, watches its task
// until the exec agent accepts a session, starts that session with
// ExecuteCommand, watches the task while the session runs, reports status
// and puts the service back to rest.
//
// Every error a method returns is a *Error (or wraps one), so that the CLI
// can map it to an exit code and show its hint; see Classify.
package ecs

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// API is the subset of *ecs.Client that breakglass calls; *ecs.Client
// satisfies it.
type API interface {
	DescribeClusters(ctx context.Context, in *ecs.DescribeClustersInput,
		optFns ...func(*ecs.Options)) (*ecs.DescribeClustersOutput, error)
	ListClusters(ctx context.Context, in *ecs.ListClustersInput,
		optFns ...func(*ecs.Options)) (*ecs.ListClustersOutput, error)
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput,
		optFns ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
	ListServices(ctx context.Context, in *ecs.ListServicesInput,
		optFns ...func(*ecs.Options)) (*ecs.ListServicesOutput, error)
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput,
		optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	ListTasks(ctx context.Context, in *ecs.ListTasksInput,
		optFns ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
	DescribeTasks(ctx context.Context, in *ecs.DescribeTasksInput,
		optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(ctx context.Context, in *ecs.StopTaskInput,
		optFns ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
	ExecuteCommand(ctx context.Context, in *ecs.ExecuteCommandInput,
		optFns ...func(*ecs.Options)) (*ecs.ExecuteCommandOutput, error)
	TagResource(ctx context.Context, in *ecs.TagResourceInput,
		optFns ...func(*ecs.Options)) (*ecs.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *ecs.UntagResourceInput,
		optFns ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error)
}

var _ API = (*ecs.Client)(nil)

// Default intervals; see Options.
const (
	DefaultPollInterval    = time.Second
	DefaultConnectInterval = 500 * time.Millisecond
	DefaultWatchInterval   = 3 * time.Second
)

// maxCallRate is the most API calls per second WaitReady makes on average.
// ECS rate limits are per account and region and shared with every other
// caller, so a waiting operator must not eat into them (field report 17).
const maxCallRate = 2

// Options tune a Client. Zero fields take their defaults.
type Options struct {
	// PollInterval is the DescribeTasks/ListTasks poll interval while
	// waiting for the task; default 1s, with ±20% jitter.
	PollInterval time.Duration
	// ConnectInterval is the ExecuteCommand retry interval (and the
	// DescribeTasks interval while the exec agent starts); default 500ms,
	// with ±20% jitter.
	ConnectInterval time.Duration
	// WatchInterval is the DescribeTasks interval of WatchTask; default 3s.
	WatchInterval time.Duration
	// Profile is the AWS profile in use; it only appears in hints such as
	// "aws sso login --profile ...". Empty means AWS_PROFILE.
	Profile string
	// OnRetry, if set, is called with each error WaitReady rides out
	// (throttling, 5xx, a network failure), so that a wait that makes no
	// progress does not look like one that does.
	OnRetry func(err error)

	// Sleep waits for d or until ctx ends (test seam); default a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now returns the current time (test seam); default time.Now.
	Now func() time.Time
}

// Client performs breakglass's ECS operations through an API.
type Client struct {
	api API
	o   Options
}

// New returns a Client calling api, with zero fields of o set to defaults.
func New(api API, o Options) *Client {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.ConnectInterval <= 0 {
		o.ConnectInterval = DefaultConnectInterval
	}
	if o.WatchInterval <= 0 {
		o.WatchInterval = DefaultWatchInterval
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Client{api: api, o: o}
}

// Target names the service breakglass works on, as naming.Names derives it
// (Cluster, ECSService, Container). Cluster and Service may be names or
// ARNs; Container may be empty when the task has a single container.
type Target struct {
	Cluster   string
	Service   string
	Container string
}

func (t Target) clusterName() string { return lastSegment(t.Cluster) }
func (t Target) serviceName() string { return lastSegment(t.Service) }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// jitter returns d changed by a random amount of up to ±20%, so that
// several waiting clients do not poll in lock step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// lastSegment returns the name at the end of an ARN ("arn:...:cluster/x"
// → "x"), or s itself when it is a plain name.
func lastSegment(s string) string {
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tagMap(tags []types.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if t.Key != nil {
			m[*t.Key] = deref(t.Value)
		}
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// chunks splits s into slices of at most n elements.
func chunks(s []string, n int) [][]string {
	var out [][]string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	if len(s) > 0 {
		out = append(out, s)
	}
	return out
}
