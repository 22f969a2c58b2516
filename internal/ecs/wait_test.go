package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const agentNotRunningMsg = "The execute command failed because execute command was not enabled " +
	"when the task was run or the execute command agent isn’t running. Wait and try again or " +
	"run a new task with execute command enabled and try again."

// step is the task as DescribeTasks shows it from a moment of the wait on.
type step struct {
	at   time.Duration
	task types.Task
}

// scenario scripts the ECS side of a wait as a function of simulated time.
type scenario struct {
	appearsAt time.Duration // ListTasks is empty before
	steps     []step
	// exec answers the n-th ExecuteCommand (from 0); nil means success.
	exec func(n int) error
	// listErr and describeErr fail the n-th ListTasks / DescribeTasks.
	listErr     func(n int) error
	describeErr func(n int) error
	events      []types.ServiceEvent
}

func (sc scenario) api(clock *fakeClock) *fakeAPI {
	start := clock.Now()
	f := &fakeAPI{clock: clock}
	var lists, describes, execs int
	f.listTasks = func(in *ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
		n := lists
		lists++
		if sc.listErr != nil {
			if err := sc.listErr(n); err != nil {
				return nil, err
			}
		}
		if clock.Now().Sub(start) < sc.appearsAt || len(sc.steps) == 0 {
			return &ecs.ListTasksOutput{}, nil
		}
		return &ecs.ListTasksOutput{TaskArns: []string{deref(sc.steps[0].task.TaskArn)}}, nil
	}
	f.describeTasks = func(in *ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
		n := describes
		describes++
		if sc.describeErr != nil {
			if err := sc.describeErr(n); err != nil {
				return nil, err
			}
		}
		elapsed := clock.Now().Sub(start)
		cur := sc.steps[0].task
		for _, s := range sc.steps {
			if s.at <= elapsed {
				cur = s.task
			}
		}
		return &ecs.DescribeTasksOutput{Tasks: []types.Task{cur}}, nil
	}
	f.executeCommand = func(in *ecs.ExecuteCommandInput) (*ecs.ExecuteCommandOutput, error) {
		n := execs
		execs++
		if sc.exec != nil {
			if err := sc.exec(n); err != nil {
				return nil, err
			}
		}
		return session(), nil
	}
	f.describeServices = func(in *ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
		s := managedService(testService, 1)
		s.Events = sc.events
		return &ecs.DescribeServicesOutput{Services: []types.Service{s}}, nil
	}
	return f
}

func at(d time.Duration, t types.Task) step { return step{at: d, task: t} }

func throttled() error {
	return &retry.MaxAttemptsError{Attempt: 3, Err: apiErr("ThrottlingException", "Rate exceeded")}
}

func always(err error) func(int) error { return func(int) error { return err } }

func firstN(n int, err error) func(int) error {
	return func(i int) error {
		if i < n {
			return err
		}
		return nil
	}
}

func event(msg string) types.ServiceEvent {
	return types.ServiceEvent{CreatedAt: aws.Time(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Message: aws.String(msg)}
}

func TestWaitReady(t *testing.T) {
	s := time.Second
	tests := []struct {
		name       string
		sc         scenario
		container  string        // default testContainer; "-" for none
		wait       time.Duration // deadline; default 60s
		wantKind   Kind          // checked when wantErr
		wantErr    bool
		wantStages []string
		wantMsg    []string // substrings of Error()
		wantHint   []string // substrings of Hint()
		check      func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error)
	}{
		{
			name: "a task that appears late is followed through every stage to a session",
			sc: scenario{appearsAt: 3 * s, steps: []step{
				at(0, newTask("PROVISIONING", "PENDING")),
				at(5*s, newTask("PENDING", "PENDING")),
				at(7*s, newTask("ACTIVATING", "PENDING")),
				at(9*s, newTask("RUNNING", "PENDING")),
				at(11*s, newTask("RUNNING", "RUNNING")),
			}},
			wantStages: []string{StageWaitingForTask, "PROVISIONING", "PENDING", "ACTIVATING",
				"RUNNING", StageWaitingForAgent, StageConnected},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("ListTasks"); n < 3 {
					t.Errorf("ListTasks called %d times, want it polled until the task appears", n)
				}
				if n := f.count("ExecuteCommand"); n != 1 {
					t.Errorf("ExecuteCommand called %d times, want 1", n)
				}
				if elapsed > 13*time.Second {
					t.Errorf("session after %s, want soon after the agent ran at 11s", elapsed)
				}
			},
		},
		{
			name: "a stale answer does not repeat a stage",
			sc: scenario{steps: []step{
				at(0, newTask("PENDING", "PENDING")),
				at(2*s, newTask("ACTIVATING", "PENDING")),
				at(4*s, newTask("PENDING", "PENDING")),
				at(6*s, newTask("ACTIVATING", "PENDING")),
				at(8*s, newTask("RUNNING", "RUNNING")),
			}},
			wantStages: []string{StageWaitingForTask, "PENDING", "ACTIVATING", "RUNNING",
				StageConnected},
		},
		{
			name: "a task that stops while ACTIVATING fails at once with its stop code and reason",
			sc: scenario{steps: []step{
				at(0, newTask("PROVISIONING", "PENDING")),
				at(2*s, newTask("ACTIVATING", "PENDING")),
				at(4*s, newTask("STOPPED", "STOPPED",
					stopped(types.TaskStopCodeTaskFailedToStart,
						"CannotPullContainerError: pull image manifest has been retried 5 time(s)"),
					func(t *types.Task) { t.Containers[0].ExitCode = aws.Int32(1) })),
			}},
			wantErr:  true,
			wantKind: KindTaskStopped,
			wantMsg: []string{"task " + testTaskID + " stopped", "TaskFailedToStart",
				"CannotPullContainerError", "container efs_util: exit code 1"},
			wantHint: []string{"image could not be pulled"},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				var e *Error
				errors.As(err, &e)
				if e.StopCode != "TaskFailedToStart" || !strings.HasPrefix(e.StoppedReason,
					"CannotPullContainerError") {
					t.Errorf("StopCode, StoppedReason = %q, %q", e.StopCode, e.StoppedReason)
				}
				if elapsed > 6*time.Second {
					t.Errorf("failed after %s, want within a poll of the stop at 4s", elapsed)
				}
			},
		},
		{
			name: "a running task whose desired status turns STOPPED fails at once",
			sc: scenario{steps: []step{
				at(0, newTask("RUNNING", "PENDING", func(t *types.Task) {
					t.DesiredStatus = aws.String("STOPPED")
					t.StopCode = types.TaskStopCodeServiceSchedulerInitiated
					t.StoppedReason = aws.String("Scaling activity initiated by (deployment ecs-svc/1)")
				})),
			}},
			wantErr:  true,
			wantKind: KindTaskStopped,
			wantMsg:  []string{"is stopping", "ServiceSchedulerInitiated"},
			wantHint: []string{"scaled the service down"},
		},
		{
			name: "a task launched without exec is refused before it runs",
			sc: scenario{steps: []step{
				at(0, newTask("PROVISIONING", "", func(t *types.Task) {
					t.EnableExecuteCommand = false
				})),
			}},
			wantErr:  true,
			wantKind: KindExecDisabled,
			wantMsg:  []string{"not enabled when task " + testTaskID + " was launched"},
			wantHint: []string{"--enable-execute-command", "breakglass close"},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("ExecuteCommand"); n != 0 {
					t.Errorf("ExecuteCommand called %d times, want 0", n)
				}
			},
		},
		{
			name: "a running task without managed agents is reported as launched without exec",
			sc: scenario{steps: []step{
				at(0, newTask("RUNNING", "")),
			}},
			wantErr:  true,
			wantKind: KindExecDisabled,
			wantMsg:  []string{"was launched"},
		},
		{
			name:      "a container the task does not have is refused with the containers it has",
			container: "app",
			sc: scenario{steps: []step{
				at(0, newTask("PENDING", "PENDING")),
			}},
			wantErr:  true,
			wantKind: KindContainerNotFound,
			wantMsg:  []string{"no container app", "efs_util"},
			wantHint: []string{"--container"},
		},
		{
			name:      "without a container name a single-container task is used",
			container: "-",
			sc: scenario{steps: []step{
				at(0, newTask("RUNNING", "RUNNING")),
			}},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				in := lastExec(t, f)
				if deref(in.Container) != testContainer {
					t.Errorf("ExecuteCommand container = %q, want %q", deref(in.Container),
						testContainer)
				}
			},
		},
		{
			name: "an agent that is PENDING and then RUNNING is waited for",
			sc: scenario{steps: []step{
				at(0, newTask("RUNNING", "PENDING")),
				at(3*s, newTask("RUNNING", "RUNNING")),
			}},
			wantStages: []string{StageWaitingForTask, "RUNNING", StageWaitingForAgent,
				StageConnected},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if elapsed > 3*time.Second+800*time.Millisecond {
					t.Errorf("session after %s, want within a connect interval of 3s", elapsed)
				}
			},
		},
		{
			name: "an agent that stops fails with its reason",
			sc: scenario{steps: []step{
				at(0, newTask("RUNNING", "STOPPED", func(t *types.Task) {
					t.Containers[0].ManagedAgents[0].Reason = aws.String("agent exited: read-only")
				})),
			}},
			wantErr:  true,
			wantKind: KindOther,
			wantMsg:  []string{"exec agent in container efs_util", "stopped: agent exited: read-only"},
			wantHint: []string{"read-only root file system"},
		},
		{
			name: "TargetNotConnected is retried until the agent connects",
			sc: scenario{
				steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
				exec: firstN(3, apiErr("TargetNotConnectedException",
					"The execute command failed due to an internal error. Try again later.")),
			},
			wantStages: []string{StageWaitingForTask, "RUNNING", StageConnecting, StageConnected},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("ExecuteCommand"); n != 4 {
					t.Errorf("ExecuteCommand called %d times, want 4", n)
				}
			},
		},
		{
			name: "the agent-isn’t-running InvalidParameterException is retried",
			sc: scenario{
				steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
				exec:  firstN(2, apiErr("InvalidParameterException", agentNotRunningMsg)),
			},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("ExecuteCommand"); n != 3 {
					t.Errorf("ExecuteCommand called %d times, want 3", n)
				}
				if n := f.count("DescribeTasks"); n < 3 {
					t.Errorf("DescribeTasks called %d times, want the task checked after each "+
						"agent-not-running answer", n)
				}
			},
		},
		{
			name: "another InvalidParameterException is not retried",
			sc: scenario{
				steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
				exec: always(apiErr("InvalidParameterException",
					"Interactive is the only mode supported currently.")),
			},
			wantErr:  true,
			wantKind: KindOther,
			wantMsg:  []string{"InvalidParameterException", "Interactive is the only mode"},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("ExecuteCommand"); n != 1 {
					t.Errorf("ExecuteCommand called %d times, want 1", n)
				}
			},
		},
		{
			name: "an agent that never connects times out naming the stage and the likely causes",
			wait: 20 * s,
			sc: scenario{
				steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
				exec: always(apiErr("TargetNotConnectedException",
					"The execute command failed due to an internal error. Try again later.")),
				events: []types.ServiceEvent{
					event("(service breakglass-EFS-Util-DEMO) has started 1 tasks: (task x)."),
				},
			},
			wantErr:  true,
			wantKind: KindTimeout,
			wantMsg:  []string{`at stage "waiting for exec agent to connect"`, testTaskID},
			wantHint: []string{"ssmmessages.eu-west-1.amazonaws.com", "ssmmessages:CreateControlChannel",
				"task role", "latest service events", "has started 1 tasks", "last error",
				"TargetNotConnectedException"},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if elapsed != 20*time.Second {
					t.Errorf("gave up after %s, want exactly at the 20s deadline", elapsed)
				}
				if n := f.count("DescribeTasks"); n < 3 {
					t.Errorf("DescribeTasks called %d times, want the task rechecked while "+
						"retrying", n)
				}
			},
		},
		{
			name: "a service that starts no task times out at the first stage with its events",
			wait: 10 * s,
			sc: scenario{
				appearsAt: time.Hour,
				steps:     []step{at(0, newTask("PROVISIONING", "PENDING"))},
				events: []types.ServiceEvent{
					event("(service breakglass-EFS-Util-DEMO) was unable to place a task."),
				},
			},
			wantErr:  true,
			wantKind: KindTimeout,
			wantMsg:  []string{`at stage "waiting for task"`},
			wantHint: []string{"started no task", "unable to place a task"},
		},
		{
			name: "a task that stops while the agent is not connected ends the wait early",
			sc: scenario{
				steps: []step{
					at(0, newTask("RUNNING", "RUNNING")),
					at(8*s, newTask("STOPPED", "STOPPED",
						stopped(types.TaskStopCodeEssentialContainerExited,
							"Essential container in task exited"))),
				},
				exec: always(apiErr("TargetNotConnectedException", "internal error")),
			},
			wantErr:  true,
			wantKind: KindTaskStopped,
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if elapsed > 15*time.Second {
					t.Errorf("noticed the stop after %s, want soon after 8s", elapsed)
				}
			},
		},
		{
			name: "throttling and server errors during polling do not end the wait",
			sc: scenario{
				appearsAt:   2 * s,
				steps:       []step{at(0, newTask("RUNNING", "RUNNING"))},
				listErr:     firstN(3, throttled()),
				describeErr: firstN(2, apiErr("ServerException", "Service unavailable")),
				exec:        firstN(1, throttled()),
			},
			wantStages: []string{StageWaitingForTask, "RUNNING", StageConnected},
		},
		{
			name: "access denied while polling ends the wait at once",
			sc: scenario{
				steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
				describeErr: always(apiErr("AccessDeniedException", "User: arn:aws:iam::1:user/x "+
					"is not authorized to perform: ecs:DescribeTasks on resource: *")),
			},
			wantErr:  true,
			wantKind: KindAccessDenied,
			wantHint: []string{"ecs:DescribeTasks"},
			check: func(t *testing.T, f *fakeAPI, elapsed time.Duration, ex *Exec, err error) {
				if n := f.count("DescribeTasks"); n != 1 {
					t.Errorf("DescribeTasks called %d times, want 1", n)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			f := tc.sc.api(clock)
			c := New(f, Options{Sleep: clock.Sleep, Now: clock.Now})
			target := testTarget
			switch tc.container {
			case "":
			case "-":
				target.Container = ""
			default:
				target.Container = tc.container
			}
			wait := tc.wait
			if wait == 0 {
				wait = time.Minute
			}
			start := clock.Now()
			ctx, cancel := context.WithDeadline(context.Background(), start.Add(wait))
			defer cancel()

			var stages []Stage
			ex, err := c.WaitReady(ctx, target, "", func(s Stage) { stages = append(stages, s) })
			elapsed := clock.Now().Sub(start)

			checkStagesOrdered(t, stages)
			checkCallRate(t, f, start)
			if tc.wantErr {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("WaitReady error = %v, want a *Error", err)
				}
				if e.Kind != tc.wantKind {
					t.Errorf("kind = %v, want %v (error: %v)", e.Kind, tc.wantKind, err)
				}
				for _, m := range tc.wantMsg {
					if !strings.Contains(e.Error(), m) {
						t.Errorf("error %q does not contain %q", e.Error(), m)
					}
				}
				for _, h := range tc.wantHint {
					if !strings.Contains(e.Hint(), h) {
						t.Errorf("hint %q does not contain %q", e.Hint(), h)
					}
				}
				if ex != nil {
					t.Errorf("got an Exec with an error")
				}
			} else {
				if err != nil {
					t.Fatalf("WaitReady: %v", err)
				}
				checkExec(t, f, ex)
			}
			if tc.wantStages != nil {
				var names []string
				for _, s := range stages {
					names = append(names, s.Name)
				}
				if strings.Join(names, ",") != strings.Join(tc.wantStages, ",") {
					t.Errorf("stages = %q, want %q", names, tc.wantStages)
				}
			}
			if tc.check != nil {
				tc.check(t, f, elapsed, ex, err)
			}
		})
	}
}

func lastExec(t *testing.T, f *fakeAPI) *ecs.ExecuteCommandInput {
	t.Helper()
	var in *ecs.ExecuteCommandInput
	for _, c := range f.recorded() {
		if c.op == "ExecuteCommand" {
			in = c.in.(*ecs.ExecuteCommandInput)
		}
	}
	if in == nil {
		t.Fatal("ExecuteCommand was not called")
	}
	return in
}

func checkExec(t *testing.T, f *fakeAPI, ex *Exec) {
	t.Helper()
	in := lastExec(t, f)
	if deref(in.Task) != testTaskID || !in.Interactive || deref(in.Command) != "/bin/sh" ||
		deref(in.Cluster) != testCluster {
		t.Errorf("ExecuteCommand input = task %q interactive %v command %q cluster %q, want "+
			"the bare task id, interactive, /bin/sh, the cluster", deref(in.Task), in.Interactive,
			deref(in.Command), deref(in.Cluster))
	}
	want := Exec{
		ClusterARN:    testClusterARN,
		TaskARN:       testTaskARN,
		TaskID:        testTaskID,
		ContainerName: testContainer,
		RuntimeID:     testRuntimeID,
		SessionID:     "ecs-execute-command-05907f33b122d680e",
		StreamURL:     "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/x",
		Token:         "secret-token",
		SSMTarget:     "ecs:" + testCluster + "_" + testTaskID + "_" + testRuntimeID,
	}
	if *ex != want {
		t.Errorf("Exec = %+v\nwant %+v", *ex, want)
	}
}

// checkStagesOrdered checks that stages are reported once each, in the
// order of the readiness steps, with growing elapsed times.
func checkStagesOrdered(t *testing.T, stages []Stage) {
	t.Helper()
	for i := 1; i < len(stages); i++ {
		a, b := stages[i-1], stages[i]
		if stageRank[b.Name] <= stageRank[a.Name] {
			t.Errorf("stage %q reported after %q", b.Name, a.Name)
		}
		if b.Elapsed < a.Elapsed {
			t.Errorf("stage %q elapsed %s before %q's %s", b.Name, b.Elapsed, a.Name, a.Elapsed)
		}
	}
}

// checkCallRate checks that the k-th API call of a wait (from 0) was made
// no earlier than (k-2)/2 seconds after the wait began: at most two calls
// per second on average, at every point of the wait, after a burst of two
// (list, describe, exec for a task that already runs). The diagnostic
// DescribeServices after a timeout is not part of the wait.
func checkCallRate(t *testing.T, f *fakeAPI, start time.Time) {
	t.Helper()
	k := 0
	for _, c := range f.recorded() {
		if c.op == "DescribeServices" {
			continue
		}
		if min := time.Duration(k-2) * 500 * time.Millisecond; c.at.Sub(start) < min {
			t.Errorf("call %d (%s) at %s, want no earlier than %s", k, c.op, c.at.Sub(start), min)
			return
		}
		k++
	}
}

func TestWaitReadyPacesCallsEvenWithShortIntervals(t *testing.T) {
	clock := newFakeClock()
	sc := scenario{
		steps: []step{at(0, newTask("RUNNING", "RUNNING"))},
		exec:  always(apiErr("TargetNotConnectedException", "internal error")),
	}
	f := sc.api(clock)
	c := New(f, Options{
		PollInterval:    time.Millisecond,
		ConnectInterval: time.Millisecond,
		Sleep:           clock.Sleep,
		Now:             clock.Now,
	})
	start := clock.Now()
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(30*time.Second))
	defer cancel()

	_, err := c.WaitReady(ctx, testTarget, "/bin/sh", nil)
	if KindOf(err) != KindTimeout {
		t.Fatalf("WaitReady error = %v, want a timeout", err)
	}
	checkCallRate(t, f, start)
	calls := f.count("") - f.count("DescribeServices")
	elapsed := clock.Now().Sub(start).Seconds()
	if rate := float64(calls-paceBurst) / elapsed; rate > maxCallRate {
		t.Errorf("%d calls in %.1fs = %.2f/s, want at most %d/s", calls, elapsed, rate, maxCallRate)
	}
	if calls < 50 {
		t.Errorf("%d calls in %.1fs, want the budget used (about 60)", calls, elapsed)
	}
}

func TestWaitReadyFollowsTheMostAdvancedLiveTask(t *testing.T) {
	clock := newFakeClock()
	const oldID = "ffffffffffffffffffffffffffffffff"
	oldARN := "arn:aws:ecs:" + testRegion + ":" + testAccount + ":task/" + testCluster + "/" + oldID
	old := newTask("STOPPING", "RUNNING", func(t *types.Task) {
		t.TaskArn = aws.String(oldARN)
		t.DesiredStatus = aws.String("STOPPED")
	})
	f := &fakeAPI{clock: clock}
	f.listTasks = func(*ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
		return &ecs.ListTasksOutput{TaskArns: []string{oldARN, testTaskARN}}, nil
	}
	f.describeTasks = func(in *ecs.DescribeTasksInput) (*ecs.DescribeTasksOutput, error) {
		var out []types.Task
		for _, a := range in.Tasks {
			if a == oldARN {
				out = append(out, old)
			} else {
				out = append(out, newTask("RUNNING", "RUNNING"))
			}
		}
		return &ecs.DescribeTasksOutput{Tasks: out}, nil
	}
	f.executeCommand = func(*ecs.ExecuteCommandInput) (*ecs.ExecuteCommandOutput, error) {
		return session(), nil
	}
	c := New(f, Options{Sleep: clock.Sleep, Now: clock.Now})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	ex, err := c.WaitReady(ctx, testTarget, "", nil)
	if err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	if ex.TaskID != testTaskID {
		t.Errorf("exec'd into task %s, want the running one %s", ex.TaskID, testTaskID)
	}
}

func TestWaitReadyReportsCancellation(t *testing.T) {
	clock := newFakeClock()
	sc := scenario{steps: []step{at(0, newTask("PENDING", "PENDING"))}}
	f := sc.api(clock)
	c := New(f, Options{Sleep: clock.Sleep, Now: clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	_, err := c.WaitReady(ctx, testTarget, "", func(s Stage) {
		if s.Name == "PENDING" {
			cancel()
		}
	})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCanceled || !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady error = %v, want KindCanceled wrapping context.Canceled", err)
	}
	if !strings.Contains(e.Error(), `"PENDING"`) {
		t.Errorf("error %q does not name the stage", e.Error())
	}
}

func TestSessionJSON(t *testing.T) {
	ex := &Exec{SessionID: "s-1", StreamURL: "wss://h/x?role=publish_subscribe", Token: "tok"}
	var got map[string]string
	if err := json.Unmarshal(ex.SessionJSON(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"sessionId": "s-1", "streamUrl": ex.StreamURL, "tokenValue": "tok"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SessionJSON = %v, want %v", got, want)
	}
	if strings.Contains(ex.String(), "tok") {
		t.Errorf("String() %q shows the token", ex.String())
	}
}

func TestWaitReadyTimesOutOnTheRealClock(t *testing.T) {
	f := &fakeAPI{
		listTasks: func(*ecs.ListTasksInput) (*ecs.ListTasksOutput, error) {
			return &ecs.ListTasksOutput{}, nil
		},
		describeServices: func(*ecs.DescribeServicesInput) (*ecs.DescribeServicesOutput, error) {
			return &ecs.DescribeServicesOutput{}, nil
		},
	}
	c := New(f, Options{PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()

	_, err := c.WaitReady(ctx, testTarget, "", nil)
	checkError(t, err, KindTimeout, []string{`at stage "waiting for task"`}, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if n := f.count("ListTasks"); n > 3 {
		t.Errorf("%d ListTasks calls in 100ms, want at most the burst of 3", n)
	}
}
