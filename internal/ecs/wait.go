package ecs

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Stage is a step of WaitReady's progress, reported when it changes.
type Stage struct {
	// Name is one of the Stage* constants or a task lastStatus
	// (PROVISIONING, PENDING, ACTIVATING, RUNNING).
	Name    string
	TaskID  string        // empty until the task is known
	Elapsed time.Duration // since WaitReady began
}

// Stage names besides the task's own lastStatus values.
const (
	StageWaitingForTask  = "waiting for task"
	StageWaitingForAgent = "waiting for exec agent"
	StageConnecting      = "waiting for exec agent to connect"
	StageConnected       = "connected"
)

// stageRank orders the stages. WaitReady only reports a stage later than
// the current one, so that a stale DescribeTasks answer (ECS is eventually
// consistent) does not make the progress display go backwards.
var stageRank = map[string]int{
	StageWaitingForTask:  0,
	"PROVISIONING":       1,
	"PENDING":            2,
	"ACTIVATING":         3,
	"RUNNING":            4,
	StageWaitingForAgent: 5,
	StageConnecting:      6,
	StageConnected:       7,
}

// paceBurst is how many calls a wait may make ahead of its average rate.
const paceBurst = 2

// stoppingStatuses are the lastStatus values of a task on its way out.
var stoppingStatuses = map[string]bool{
	"DEACTIVATING": true, "STOPPING": true, "DEPROVISIONING": true, "STOPPED": true,
}

// WaitReady waits, after a scale-up, until the service's task runs and its
// exec agent accepts a session, then starts an interactive session running
// command (default /bin/sh) in t.Container and returns it. See DESIGN.md
// "Readiness". It calls onStage (if not nil) once for each new stage, in
// order, and makes at most two API calls per second on average.
//
// ctx's deadline is the --wait deadline. Errors: KindTaskStopped (with the
// stop code and reason) as soon as the task stops or is being stopped;
// KindExecDisabled if exec was off when the task launched;
// KindContainerNotFound if the task has no such container; KindTimeout at
// the deadline, naming the stage reached, with likely causes and the
// latest service events in the hint; KindCanceled when ctx is canceled.
// Throttling and server errors do not end the wait.
func (c *Client) WaitReady(ctx context.Context, t Target, command string,
	onStage func(Stage)) (*Exec, error) {
	if command == "" {
		command = "/bin/sh"
	}
	w := &waiter{c: c, ctx: ctx, t: t, command: command, onStage: onStage, start: c.o.Now()}
	w.deadline, w.hasDeadline = ctx.Deadline()

	ex, err := w.run()
	if err != nil {
		return nil, w.fail(err)
	}
	return ex, nil
}

type waiter struct {
	c       *Client
	ctx     context.Context
	t       Target
	command string
	onStage func(Stage)

	start       time.Time
	deadline    time.Time
	hasDeadline bool

	calls        int       // API calls made, for pacing
	stage        string    // last reported stage
	taskARN      string    // the task followed, once known
	lastDescribe time.Time // when the task was last described
	lastErr      error     // last transient error, for the timeout hint
}

func (w *waiter) run() (*Exec, error) {
	w.report(StageWaitingForTask)
	task, err := w.findTask()
	if err != nil {
		return nil, err
	}
	w.taskARN = deref(task.TaskArn)

	for {
		ready, interval, err := w.inspect(task)
		if err != nil {
			return nil, err
		}
		if ready {
			ex, err := w.connect(task)
			if err != nil || ex != nil {
				return ex, err
			}
			// The agent was reported not running, or it is time to
			// look at the task again: describe it before trying again.
			interval = w.c.o.ConnectInterval
		}
		if task, err = w.poll(interval); err != nil {
			return nil, err
		}
	}
}

// findTask polls ListTasks until the service has a task and returns it,
// described. Right after the scale-up ListTasks is often empty for a few
// seconds: ECS is eventually consistent.
func (w *waiter) findTask() (*types.Task, error) {
	for first := true; ; first = false {
		if !first {
			if err := w.pause(w.c.o.PollInterval); err != nil {
				return nil, err
			}
		}
		arns, err := w.listTasks()
		if err != nil {
			if transient(err) {
				w.retrying(err)
				continue
			}
			return nil, err
		}
		if len(arns) == 0 {
			continue
		}
		tasks, err := w.describe(arns)
		if err != nil {
			if transient(err) {
				w.retrying(err)
				continue
			}
			return nil, err
		}
		if task := pickTask(tasks); task != nil {
			return task, nil
		}
	}
}

// poll waits interval and describes the followed task again, repeating
// while DescribeTasks fails transiently or does not know the task yet.
func (w *waiter) poll(interval time.Duration) (*types.Task, error) {
	for {
		if err := w.pause(interval); err != nil {
			return nil, err
		}
		tasks, err := w.describe([]string{w.taskARN})
		if err != nil {
			if transient(err) {
				w.retrying(err)
				continue
			}
			return nil, err
		}
		if len(tasks) > 0 {
			return &tasks[0], nil
		}
	}
}

// inspect checks a described task, reports its stage and says whether the
// exec agent of the selected container runs, or else how long to wait
// before looking again.
func (w *waiter) inspect(task *types.Task) (ready bool, interval time.Duration, err error) {
	if isStopping(task) {
		return false, 0, w.stoppedError(task)
	}
	// enableExecuteCommand is fixed when the task launches, so a task
	// that lacks it will never accept a session: say so at once.
	if !task.EnableExecuteCommand {
		return false, 0, w.execOffError(task)
	}
	status := deref(task.LastStatus)
	ctr, err := w.container(task, status == "RUNNING")
	if err != nil {
		return false, 0, err
	}
	w.report(status)
	if status != "RUNNING" {
		return false, w.c.o.PollInterval, nil
	}

	agent := execAgent(ctr)
	if agent == nil {
		return false, 0, w.execOffError(task)
	}
	switch deref(agent.LastStatus) {
	case "RUNNING":
		return true, 0, nil
	case "STOPPED":
		return false, 0, w.agentStoppedError(ctr, agent)
	}
	w.report(StageWaitingForAgent)
	// The agent usually starts seconds after the container: look more
	// often than during the task's start.
	return false, w.c.o.ConnectInterval, nil
}

// container returns the selected container of task. With required false
// it tolerates a task whose containers are not listed yet.
func (w *waiter) container(task *types.Task, required bool) (*types.Container, error) {
	if len(task.Containers) == 0 && !required {
		return nil, nil
	}
	if w.t.Container == "" && len(task.Containers) == 1 {
		return &task.Containers[0], nil
	}
	for i := range task.Containers {
		if deref(task.Containers[i].Name) == w.t.Container {
			return &task.Containers[i], nil
		}
	}
	return nil, w.containerError(task)
}

func execAgent(ctr *types.Container) *types.ManagedAgent {
	if ctr == nil {
		return nil
	}
	for i := range ctr.ManagedAgents {
		if ctr.ManagedAgents[i].Name == types.ManagedAgentNameExecuteCommandAgent {
			return &ctr.ManagedAgents[i]
		}
	}
	return nil
}

// pickTask chooses the task to follow among the service's tasks: the live
// one furthest in its start, newest first; a stopped one only when there
// is nothing else, so that its stop reason is reported.
func pickTask(tasks []types.Task) *types.Task {
	if len(tasks) == 0 {
		return nil
	}
	sort.SliceStable(tasks, func(i, j int) bool {
		a, b := &tasks[i], &tasks[j]
		if sa, sb := isStopping(a), isStopping(b); sa != sb {
			return !sa
		}
		if ra, rb := stageRank[deref(a.LastStatus)], stageRank[deref(b.LastStatus)]; ra != rb {
			return ra > rb
		}
		return derefTime(a.CreatedAt).After(derefTime(b.CreatedAt))
	})
	return &tasks[0]
}

func isStopping(task *types.Task) bool {
	return deref(task.DesiredStatus) == "STOPPED" || stoppingStatuses[deref(task.LastStatus)]
}

// retrying records a transient error the wait rides out.
func (w *waiter) retrying(err error) {
	w.lastErr = err
	if w.c.o.OnRetry != nil {
		w.c.o.OnRetry(err)
	}
}

// report calls onStage when name is a later stage than the current one.
func (w *waiter) report(name string) {
	if name == "" || name == w.stage {
		return
	}
	rank, known := stageRank[name]
	cur, curKnown := stageRank[w.stage]
	if known && curKnown && rank <= cur {
		return
	}
	w.stage = name
	if w.onStage != nil {
		w.onStage(Stage{Name: name, TaskID: lastSegment(w.taskARN), Elapsed: w.elapsed()})
	}
}

func (w *waiter) elapsed() time.Duration { return w.c.o.Now().Sub(w.start) }

// pause sleeps about d (with jitter), trimmed to the deadline. It returns
// context.DeadlineExceeded once the deadline has passed.
func (w *waiter) pause(d time.Duration) error {
	return w.sleep(jitter(d))
}

func (w *waiter) sleep(d time.Duration) error {
	if w.hasDeadline {
		left := w.deadline.Sub(w.c.o.Now())
		if left <= 0 {
			return context.DeadlineExceeded
		}
		d = min(d, left)
	}
	if err := w.c.o.Sleep(w.ctx, d); err != nil {
		return err
	}
	if w.hasDeadline && !w.c.o.Now().Before(w.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// pace delays the next API call so that the n-th call of the wait is made
// no earlier than (n-paceBurst)/maxCallRate seconds after it began. Time
// spent polling slowly is credit for later: a wait never exceeds the
// average rate, and the steps that follow each other at once (list, then
// describe, then exec) are not held back.
func (w *waiter) pace() error {
	earliest := w.start.Add(time.Duration(w.calls-paceBurst) * time.Second / maxCallRate)
	if d := earliest.Sub(w.c.o.Now()); d > 0 {
		if err := w.sleep(d); err != nil {
			return err
		}
	}
	w.calls++
	return nil
}

func (w *waiter) listTasks() ([]string, error) {
	if err := w.pace(); err != nil {
		return nil, err
	}
	out, err := w.c.api.ListTasks(w.ctx, &ecs.ListTasksInput{
		Cluster:       aws.String(w.t.Cluster),
		ServiceName:   aws.String(w.t.serviceName()),
		DesiredStatus: types.DesiredStatusRunning,
	})
	if err != nil {
		return nil, err
	}
	return out.TaskArns, nil
}

// describe returns the tasks DescribeTasks knows of arns; a task listed a
// moment ago may still be missing.
func (w *waiter) describe(arns []string) ([]types.Task, error) {
	if err := w.pace(); err != nil {
		return nil, err
	}
	out, err := w.c.api.DescribeTasks(w.ctx, &ecs.DescribeTasksInput{
		Cluster: aws.String(w.t.Cluster),
		Tasks:   arns,
	})
	if err != nil {
		return nil, err
	}
	w.lastDescribe = w.c.o.Now()
	return out.Tasks, nil
}

// fail turns the error that ended the wait into the *Error returned.
func (w *waiter) fail(err error) error {
	var be *Error
	switch {
	case errors.As(err, &be):
		return be
	case errors.Is(err, context.DeadlineExceeded):
		return w.timeoutError(err)
	case errors.Is(err, context.Canceled):
		return &Error{
			Kind:    KindCanceled,
			Op:      w.op(),
			Cluster: w.t.clusterName(),
			Service: w.t.serviceName(),
			Task:    lastSegment(w.taskARN),
			Msg:     fmt.Sprintf("canceled at stage %q", w.stage),
			Err:     err,
		}
	}
	e := w.c.classify(w.op(), err)
	e.Cluster, e.Service, e.Task = w.t.clusterName(), w.t.serviceName(), lastSegment(w.taskARN)
	return e
}

func (w *waiter) op() string {
	return fmt.Sprintf("wait for service %s in cluster %s", w.t.serviceName(), w.t.clusterName())
}

func (w *waiter) stoppedError(task *types.Task) *Error {
	id := lastSegment(deref(task.TaskArn))
	verb := "stopped"
	if deref(task.LastStatus) != "STOPPED" {
		verb = "is stopping (" + strings.ToLower(deref(task.LastStatus)) + ")"
	}
	var details []string
	if task.StopCode != "" {
		details = append(details, string(task.StopCode))
	}
	if r := deref(task.StoppedReason); r != "" {
		details = append(details, r)
	}
	for _, ctr := range task.Containers {
		if d := containerExit(ctr); d != "" {
			details = append(details, d)
		}
	}
	msg := fmt.Sprintf("task %s %s before it was ready", id, verb)
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	return &Error{
		Kind:          KindTaskStopped,
		Op:            w.op(),
		Cluster:       w.t.clusterName(),
		Service:       w.t.serviceName(),
		Task:          id,
		Msg:           msg,
		HintMsg:       stoppedHint(w.t, task),
		StopCode:      string(task.StopCode),
		StoppedReason: deref(task.StoppedReason),
	}
}

func containerExit(ctr types.Container) string {
	var parts []string
	if ctr.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit code %d", *ctr.ExitCode))
	}
	if r := deref(ctr.Reason); r != "" {
		parts = append(parts, r)
	}
	if len(parts) == 0 {
		return ""
	}
	return "container " + deref(ctr.Name) + ": " + strings.Join(parts, ", ")
}

func stoppedHint(t Target, task *types.Task) string {
	text := deref(task.StoppedReason)
	for _, ctr := range task.Containers {
		text += " " + deref(ctr.Reason)
	}
	describe := fmt.Sprintf("`aws ecs describe-tasks --cluster %s --tasks %s` shows the details",
		t.clusterName(), lastSegment(deref(task.TaskArn)))
	switch {
	case strings.Contains(text, "CannotPullContainer"):
		return "the image could not be pulled: check the image name and that the task's subnets " +
			"reach the registry (a NAT gateway or VPC endpoints); " + describe
	case strings.Contains(text, "ResourceInitializationError"):
		return "the task could not set up its resources (EFS mount, secrets, log group): check " +
			"the subnets, security groups and the execution role; " + describe
	case strings.Contains(text, "OutOfMemory"):
		return "the container ran out of memory: give the task definition more memory; " + describe
	case task.StopCode == types.TaskStopCodeUserInitiated ||
		task.StopCode == types.TaskStopCodeServiceSchedulerInitiated:
		return "someone or something stopped the task or scaled the service down while breakglass " +
			"waited (another `breakglass close`, a deployment); " + describe
	}
	return describe
}

func (w *waiter) execOffError(task *types.Task) *Error {
	id := lastSegment(deref(task.TaskArn))
	return &Error{
		Kind:    KindExecDisabled,
		Op:      w.op(),
		Cluster: w.t.clusterName(),
		Service: w.t.serviceName(),
		Task:    id,
		Msg:     fmt.Sprintf("ECS Exec was not enabled when task %s was launched", id),
		HintMsg: fmt.Sprintf("ECS fixes a task's exec setting when it launches, so enabling exec "+
			"on the service later does not reach running tasks; make sure it is on "+
			"(`aws ecs update-service --cluster %s --service %s --enable-execute-command`), "+
			"then `breakglass close` to stop this task and open again",
			w.t.clusterName(), w.t.serviceName()),
	}
}

func (w *waiter) containerError(task *types.Task) *Error {
	id := lastSegment(deref(task.TaskArn))
	var names []string
	for _, ctr := range task.Containers {
		names = append(names, deref(ctr.Name))
	}
	e := &Error{
		Kind:    KindContainerNotFound,
		Op:      w.op(),
		Cluster: w.t.clusterName(),
		Service: w.t.serviceName(),
		Task:    id,
	}
	switch {
	case len(names) == 0:
		e.Msg = fmt.Sprintf("task %s has no containers", id)
	case w.t.Container == "":
		e.Msg = fmt.Sprintf("task %s has %d containers (%s) and none was chosen", id,
			len(names), strings.Join(names, ", "))
		e.HintMsg = "choose one with --container"
	default:
		e.Msg = fmt.Sprintf("task %s has no container %s (it has %s)", id, w.t.Container,
			strings.Join(names, ", "))
		e.HintMsg = "choose one with --container"
	}
	return e
}

func (w *waiter) agentStoppedError(ctr *types.Container, agent *types.ManagedAgent) *Error {
	id := lastSegment(w.taskARN)
	msg := fmt.Sprintf("the exec agent in container %s of task %s stopped", deref(ctr.Name), id)
	if r := deref(agent.Reason); r != "" {
		msg += ": " + r
	}
	return &Error{
		Kind:    KindOther,
		Op:      w.op(),
		Cluster: w.t.clusterName(),
		Service: w.t.serviceName(),
		Task:    id,
		Msg:     msg,
		HintMsg: "the agent cannot run in this container: a read-only root file system, " +
			"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the container's environment (they " +
			"replace the task role) or a Fargate platform version older than 1.4.0 stop it",
	}
}

// timeoutError reports the deadline, the stage reached and what usually
// causes a wait to stall there, followed by the latest service events.
func (w *waiter) timeoutError(cause error) *Error {
	id := lastSegment(w.taskARN)
	msg := fmt.Sprintf("not ready after %s, at stage %q", w.elapsed().Round(time.Second), w.stage)
	if id != "" {
		msg += " (task " + id + ")"
	}
	hint := stageHint(w.stage, regionOf(w.taskARN, w.t.Cluster))
	if w.lastErr != nil {
		hint += "\nlast error: " + w.c.classify("", w.lastErr).Error()
	}
	if events := w.latestEvents(); events != "" {
		hint += "\n" + events
	}
	return &Error{
		Kind:    KindTimeout,
		Op:      w.op(),
		Cluster: w.t.clusterName(),
		Service: w.t.serviceName(),
		Task:    id,
		Msg:     msg,
		HintMsg: hint,
		Err:     cause,
	}
}

func stageHint(stage, region string) string {
	switch stage {
	case StageWaitingForTask, "":
		return "ECS started no task for the service; its events usually say why (no " +
			"capacity, a missing subnet or security group, a role it cannot assume)"
	case "PROVISIONING", "PENDING", "ACTIVATING":
		return "the task is still starting: a large image or a slow route to the registry " +
			"can take minutes; try a longer --wait"
	case "RUNNING", StageWaitingForAgent:
		return "the exec agent did not start: it needs Fargate platform version 1.4.0 or " +
			"later and a writable root file system"
	}
	return fmt.Sprintf("the exec agent cannot reach Systems Manager: the task's subnets need a "+
		"route to ssmmessages.%[1]s.amazonaws.com (a NAT gateway or a "+
		"com.amazonaws.%[1]s.ssmmessages VPC endpoint), and the task role needs "+
		"ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel and "+
		"OpenDataChannel; AWS credentials in the container's environment replace the task role",
		region)
}

// regionOf returns the region of the first ARN among arns, or a
// placeholder.
func regionOf(arns ...string) string {
	for _, a := range arns {
		parts := strings.SplitN(a, ":", 5)
		if len(parts) == 5 && parts[0] == "arn" && parts[3] != "" {
			return parts[3]
		}
	}
	return "<region>"
}

// maxEvents is how many service events a timeout hint shows.
const maxEvents = 3

// latestEvents describes the service once more, after the deadline, for
// the events that tell why it did not come up. It uses a short context of
// its own: the wait's has ended.
func (w *waiter) latestEvents() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), 5*time.Second)
	defer cancel()
	out, err := w.c.api.DescribeServices(ctx, &ecs.DescribeServicesInput{
		Cluster:  aws.String(w.t.Cluster),
		Services: []string{w.t.Service},
	})
	if err != nil || len(out.Services) == 0 {
		return ""
	}
	return formatEvents(toService(out.Services[0]).Events, maxEvents)
}

// formatEvents lists the n newest events, oldest first.
func formatEvents(events []Event, n int) string {
	if len(events) == 0 {
		return ""
	}
	events = events[:min(n, len(events))]
	lines := []string{"latest service events:"}
	for i := len(events) - 1; i >= 0; i-- {
		lines = append(lines, "  "+events[i].At.UTC().Format("15:04:05")+" "+events[i].Message)
	}
	return strings.Join(lines, "\n")
}
