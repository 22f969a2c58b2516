package ecs

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Exec is a started ECS Exec session: what the Session Manager plugin
// needs to open its data channel.
type Exec struct {
	ClusterARN    string
	TaskARN       string
	TaskID        string
	ContainerName string
	RuntimeID     string
	SessionID     string
	StreamURL     string
	Token         string
	// SSMTarget is "ecs:<clusterName>_<taskId>_<runtimeId>", the target
	// the plugin is started with.
	SSMTarget string
}

// SessionJSON returns the session as the plugin reads it:
// {"sessionId":...,"streamUrl":...,"tokenValue":...}. It holds the session
// token: never log it or pass it on a command line.
func (e *Exec) SessionJSON() []byte {
	b, err := json.Marshal(struct {
		SessionID  string `json:"sessionId"`
		StreamURL  string `json:"streamUrl"`
		TokenValue string `json:"tokenValue"`
	}{e.SessionID, e.StreamURL, e.Token})
	if err != nil {
		panic(err) // three strings always marshal
	}
	return b
}

// String describes the session without its token.
func (e *Exec) String() string {
	return fmt.Sprintf("session %s in container %s of task %s", e.SessionID, e.ContainerName, e.TaskID)
}

// recheckEvery is how many poll intervals may pass, while ExecuteCommand
// answers TargetNotConnected, before the task is described again: a task
// that stops meanwhile must end the wait, not run into the deadline.
const recheckEvery = 5

// connect calls ExecuteCommand until it succeeds. It returns (nil, nil)
// when the task should be described again first: the agent was reported
// not running, or the task has not been looked at for a while.
func (w *waiter) connect(task *types.Task) (*Exec, error) {
	taskID := lastSegment(deref(task.TaskArn))
	ctr, err := w.container(task, true)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := w.pause(w.c.o.ConnectInterval); err != nil {
				return nil, err
			}
		}
		out, err := w.execute(taskID, deref(ctr.Name))
		if err == nil {
			return w.session(task, ctr, out)
		}

		code, message, _ := apiError(err)
		switch {
		case code == "TargetNotConnectedException":
			// The agent runs but has not registered with Systems Manager
			// yet (field report 1), or cannot reach it (report 2).
			w.report(StageConnecting)
			w.lastErr = err // expected while the agent connects: not a retry to report
		case code == "InvalidParameterException" && agentNotRunning(message):
			// Exec was on when the task launched (inspect checked), so the
			// agent is not (or no longer) running: look at the task.
			w.lastErr = err
			return nil, nil
		case transient(err):
			w.retrying(err)
		default:
			return nil, err
		}
		if w.c.o.Now().Sub(w.lastDescribe) >= recheckEvery*w.c.o.PollInterval {
			return nil, nil
		}
	}
}

// agentNotRunning reports whether an InvalidParameterException message is
// ECS's "execute command was not enabled when the task was run or the
// execute command agent isn’t running" (with a curly apostrophe).
func agentNotRunning(message string) bool {
	m := strings.ToLower(message)
	for _, text := range []string{"agent isn’t running", "agent isn't running",
		"agent is not running"} {
		if strings.Contains(m, text) {
			return true
		}
	}
	return false
}

func (w *waiter) execute(taskID, container string) (*ecs.ExecuteCommandOutput, error) {
	if err := w.pace(); err != nil {
		return nil, err
	}
	in := &ecs.ExecuteCommandInput{
		Cluster:     aws.String(w.t.Cluster),
		Task:        aws.String(taskID), // the bare ID: some ARN forms are refused
		Command:     aws.String(w.command),
		Interactive: true,
	}
	if container != "" {
		in.Container = aws.String(container)
	}
	return w.c.api.ExecuteCommand(w.ctx, in)
}

// session builds the Exec from a successful ExecuteCommand.
func (w *waiter) session(task *types.Task, ctr *types.Container,
	out *ecs.ExecuteCommandOutput) (*Exec, error) {
	s := out.Session
	if s == nil || deref(s.SessionId) == "" || deref(s.StreamUrl) == "" || deref(s.TokenValue) == "" {
		return nil, &Error{
			Kind:    KindOther,
			Op:      w.op(),
			Cluster: w.t.clusterName(),
			Service: w.t.serviceName(),
			Task:    lastSegment(w.taskARN),
			Msg:     "ExecuteCommand returned no complete session (session id, stream URL, token)",
		}
	}
	ex := &Exec{
		ClusterARN:    firstNonEmpty(deref(out.ClusterArn), deref(task.ClusterArn), w.t.Cluster),
		TaskARN:       firstNonEmpty(deref(out.TaskArn), deref(task.TaskArn)),
		ContainerName: firstNonEmpty(deref(out.ContainerName), deref(ctr.Name)),
		RuntimeID:     deref(ctr.RuntimeId),
		SessionID:     deref(s.SessionId),
		StreamURL:     deref(s.StreamUrl),
		Token:         deref(s.TokenValue),
	}
	ex.TaskID = lastSegment(ex.TaskARN)
	if ex.RuntimeID == "" {
		ex.RuntimeID = w.runtimeID(ex.ContainerName)
	}
	ex.SSMTarget = fmt.Sprintf("ecs:%s_%s_%s", lastSegment(ex.ClusterARN), ex.TaskID, ex.RuntimeID)
	w.report(StageConnected)
	return ex, nil
}

// runtimeID describes the task once more for a container's runtime ID,
// which a RUNNING container normally has already. Without it the target is
// incomplete but the session can still be opened, so errors are ignored.
func (w *waiter) runtimeID(container string) string {
	tasks, err := w.describe([]string{w.taskARN})
	if err != nil || len(tasks) == 0 {
		return ""
	}
	for _, ctr := range tasks[0].Containers {
		if deref(ctr.Name) == container {
			return deref(ctr.RuntimeId)
		}
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
