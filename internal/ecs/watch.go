package ecs

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// WatchTask describes the task every WatchInterval until it is stopped or
// being stopped, and then returns a *Error of KindTaskStopped with its stop
// code and reason (a task ECS no longer knows counts as stopped). It
// returns ctx.Err() when ctx ends. API errors are tolerated: the watch only
// shortens a session whose task is gone, and expired credentials or a
// throttled account must not end a working one.
func (c *Client) WatchTask(ctx context.Context, cluster, taskARN string) error {
	for {
		if err := c.o.Sleep(ctx, c.o.WatchInterval); err != nil {
			return ctx.Err()
		}
		err := c.CheckTask(ctx, cluster, taskARN)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if KindOf(err) == KindTaskStopped {
			return err
		}
	}
}

// CheckTask describes the task once. It returns a *Error of KindTaskStopped
// (with stop code and reason) if the task is stopped, being stopped or no
// longer known to ECS, nil if it runs, and the classified error if the call
// fails. After a session ends it tells a stopped task from a shell that
// exited: the data channel can close before WatchTask's next poll.
func (c *Client) CheckTask(ctx context.Context, cluster, taskARN string) error {
	out, err := c.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{
		Cluster: aws.String(cluster),
		Tasks:   []string{taskARN},
	})
	if err != nil {
		e := c.classify("describe task "+lastSegment(taskARN)+" in cluster "+
			lastSegment(cluster), err)
		e.Cluster, e.Task = lastSegment(cluster), lastSegment(taskARN)
		return e
	}
	if len(out.Tasks) == 0 {
		if missing(out.Failures) {
			return watchStopped(cluster, taskARN, nil)
		}
		return nil
	}
	if task := &out.Tasks[0]; isStopping(task) {
		return watchStopped(cluster, taskARN, task)
	}
	return nil
}

func missing(failures []types.Failure) bool {
	for _, f := range failures {
		if deref(f.Reason) == "MISSING" {
			return true
		}
	}
	return false
}

func watchStopped(cluster, taskARN string, task *types.Task) *Error {
	id := lastSegment(taskARN)
	e := &Error{
		Kind:    KindTaskStopped,
		Cluster: lastSegment(cluster),
		Task:    id,
	}
	if task == nil {
		e.Msg = fmt.Sprintf("task %s no longer exists", id)
		return e
	}
	e.Service = strings.TrimPrefix(deref(task.Group), "service:")
	e.StopCode = string(task.StopCode)
	e.StoppedReason = deref(task.StoppedReason)

	verb := "stopped"
	if deref(task.LastStatus) != "STOPPED" {
		verb = "is stopping"
	}
	details := []string{}
	if e.StopCode != "" {
		details = append(details, e.StopCode)
	}
	if e.StoppedReason != "" {
		details = append(details, e.StoppedReason)
	}
	for _, ctr := range task.Containers {
		if d := containerExit(ctr); d != "" {
			details = append(details, d)
		}
	}
	e.Msg = fmt.Sprintf("task %s %s", id, verb)
	if len(details) > 0 {
		e.Msg += ": " + strings.Join(details, "; ")
	}
	return e
}
