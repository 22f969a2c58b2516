package ecs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// CloseResult says what Close did.
type CloseResult struct {
	PreviousDesired int32
	StoppedTasks    []string // IDs of the tasks Close stopped
	// OpenedBy and OpenedAt are who had recorded holding the service open,
	// and since when ("" if nobody): their shell ends with the close.
	OpenedBy, OpenedAt string
	// TagsErr is set when the opened-by tags could not be removed; the
	// service is at rest nonetheless.
	TagsErr error
}

// closeReason is the StopTask reason Close records when given none (ECS
// shows it as the task's stoppedReason).
const closeReason = "breakglass close"

// maxStopReason is the longest StopTask reason ECS accepts.
const maxStopReason = 255

// Close puts a breakglass service back to rest: it refuses any other
// service (KindNotBreakglass, as Preflight), sets the desired count to 0
// (retried like Scale), stops the tasks that were running with reason as
// the StopTask reason ("breakglass close" if empty; ECS shows it as the
// stopped reason) and removes the opened-by tags. Once the scale-down has
// succeeded the result is returned even with an error: a task that could
// not be listed or stopped (after all were tried).
func (c *Client) Close(ctx context.Context, t Target, reason string) (*CloseResult, error) {
	svc, err := c.managedService(ctx, t, "refusing to close")
	if err != nil {
		return nil, err
	}

	// The tasks are listed before the scale-down: once the desired count is
	// 0 the scheduler marks them STOPPED at once and ListTasks (desired
	// status RUNNING) no longer shows them. A failed listing must not hold
	// up the scale-down.
	arns, listErr := c.runningTasks(ctx, t)

	res := &CloseResult{PreviousDesired: svc.Desired,
		OpenedBy: svc.Tags[OpenedByTagKey], OpenedAt: svc.Tags[OpenedAtTagKey]}
	if err := c.Scale(ctx, t, 0); err != nil {
		return res, err
	}

	// StopTask after the scale-down, never before: with the desired count
	// still 1 the scheduler would start a replacement. It records who
	// stopped the task and why, where the scheduler has not done so first.
	stopErr := listErr
	if listErr == nil {
		stopErr = c.stopTasks(ctx, t, arns, stopReason(reason), res)
	}

	if svc.Tags[OpenedByTagKey] != "" || svc.Tags[OpenedAtTagKey] != "" {
		res.TagsErr = c.ClearOpen(ctx, svc.ARN)
	}
	return res, stopErr
}

func stopReason(reason string) string {
	r := reason
	if r == "" {
		r = closeReason
	}
	if len(r) > maxStopReason {
		r = strings.ToValidUTF8(r[:maxStopReason], "")
	}
	return r
}

// runningTasks returns the ARNs of the service's tasks whose desired
// status is RUNNING.
func (c *Client) runningTasks(ctx context.Context, t Target) ([]string, error) {
	out, err := c.api.ListTasks(ctx, &ecs.ListTasksInput{
		Cluster:       aws.String(t.Cluster),
		ServiceName:   aws.String(t.serviceName()),
		DesiredStatus: types.DesiredStatusRunning,
	})
	if err != nil {
		e := c.classify(fmt.Sprintf("list tasks of service %s in cluster %s", t.serviceName(),
			t.clusterName()), err)
		e.Cluster, e.Service = t.clusterName(), t.serviceName()
		return nil, e
	}
	return out.TaskArns, nil
}

func (c *Client) stopTasks(ctx context.Context, t Target, arns []string, reason string,
	res *CloseResult) error {
	var errs []error
	for _, arn := range arns {
		id := lastSegment(arn)
		_, err := c.api.StopTask(ctx, &ecs.StopTaskInput{
			Cluster: aws.String(t.Cluster),
			Task:    aws.String(arn),
			Reason:  aws.String(reason),
		})
		if err != nil {
			if _, msg, ok := apiError(err); ok && msg == "The referenced task was not found." {
				continue // stopped and gone meanwhile
			}
			e := c.classify(fmt.Sprintf("stop task %s of service %s", id, t.serviceName()), err)
			e.Cluster, e.Service, e.Task = t.clusterName(), t.serviceName(), id
			errs = append(errs, e)
			continue
		}
		res.StoppedTasks = append(res.StoppedTasks, id)
	}
	if len(errs) > 0 {
		if len(errs) == 1 {
			return errs[0]
		}
		return &Error{
			Kind:    KindOf(errs[0]),
			Op:      fmt.Sprintf("close service %s in cluster %s", t.serviceName(), t.clusterName()),
			Cluster: t.clusterName(),
			Service: t.serviceName(),
			Msg:     errors.Join(errs...).Error(),
			Err:     errs[0],
		}
	}
	return nil
}
