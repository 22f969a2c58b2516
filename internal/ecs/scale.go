package ecs

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
)

// scaleAttempts is the SDK attempt budget for UpdateService. Putting a
// service back to rest must not be given up because the account is being
// throttled (field report 17), so it gets more attempts than other calls.
const scaleAttempts = 10

// Scale sets the service's desired count and changes nothing else. It
// retries throttling and server errors with a larger budget than other
// calls; ctx bounds how long.
func (c *Client) Scale(ctx context.Context, t Target, desired int32) error {
	_, err := c.api.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster:      aws.String(t.Cluster),
		Service:      aws.String(t.Service),
		DesiredCount: aws.Int32(desired),
	}, withRestoreRetryer)
	if err != nil {
		e := c.classify(fmt.Sprintf("scale service %s in cluster %s to %d",
			t.serviceName(), t.clusterName(), desired), err)
		e.Cluster, e.Service = t.clusterName(), t.serviceName()
		return e
	}
	return nil
}

// withRestoreRetryer keeps the client's retryer (its backoff and mode) but
// raises the attempt budget and ignores the retry quota, which a burst of
// throttled polls may have drained just before the scale-back.
func withRestoreRetryer(o *ecs.Options) {
	if o.Retryer == nil {
		return
	}
	r := retry.AddWithMaxAttempts(o.Retryer, scaleAttempts)
	if v2, ok := r.(aws.RetryerV2); ok {
		o.Retryer = noQuota{v2}
		return
	}
	o.Retryer = r
}

// noQuota is a retryer whose retries never wait for, or fail on, the
// client-side retry token bucket.
type noQuota struct{ aws.RetryerV2 }

func (noQuota) GetRetryToken(context.Context, error) (func(error) error, error) {
	return func(error) error { return nil }, nil
}
