package ecs_test

// Integration tests: the exported API, through the real SDK client, against
// the local stand-in for ECS (internal/sandbox) with short delays.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/naming"
	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

// startSandbox runs a sandbox with delays of a few hundred milliseconds and
// returns it with a Client pointed at it.
func startSandbox(t *testing.T, opts ...func(*sandbox.Config)) (*sandbox.Server, *ecs.Client) {
	t.Helper()
	cfg := sandbox.Config{
		StartDelay:   150 * time.Millisecond,
		AgentDelay:   50 * time.Millisecond,
		ConnectDelay: 100 * time.Millisecond,
		StopDelay:    50 * time.Millisecond,
		ListDelay:    100 * time.Millisecond,
	}
	for _, o := range opts {
		o(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })

	api := awsecs.New(awsecs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(sb.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return time.Millisecond, nil
			})
		}),
	})
	return sb, ecs.New(api, ecs.Options{
		PollInterval:    50 * time.Millisecond,
		ConnectInterval: 50 * time.Millisecond,
		WatchInterval:   50 * time.Millisecond,
	})
}

func target(t *testing.T, env, service string) ecs.Target {
	t.Helper()
	n, err := naming.Resolve("", env, service, naming.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return ecs.Target{Cluster: n.Cluster, Service: n.ECSService, Container: n.Container}
}

func kindOf(t *testing.T, err error) *ecs.Error {
	t.Helper()
	var e *ecs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *ecs.Error", err, err)
	}
	return e
}

func TestSandboxOpenAndClose(t *testing.T) {
	t.Parallel()
	sb, c := startSandbox(t)
	ctx := context.Background()
	tg := target(t, sandbox.SeedEnv, sandbox.SeedBreakglass)

	svc, err := c.Preflight(ctx, tg)
	if err != nil {
		t.Fatalf("Preflight: %v", err)
	}
	if svc.Desired != 0 {
		t.Fatalf("seeded service at desired %d, want 0", svc.Desired)
	}
	if err := c.Scale(ctx, tg, 1); err != nil {
		t.Fatalf("Scale: %v", err)
	}
	if err := c.MarkOpen(ctx, svc.ARN, "alice"); err != nil {
		t.Errorf("MarkOpen: %v", err)
	}

	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var stages []string
	ex, err := c.WaitReady(waitCtx, tg, "", func(s ecs.Stage) { stages = append(stages, s.Name) })
	if err != nil {
		t.Fatalf("WaitReady: %v (stages %q)", err, stages)
	}
	if last := stages[len(stages)-1]; last != ecs.StageConnected {
		t.Errorf("last stage %q, want %q", last, ecs.StageConnected)
	}
	if ex.SessionID == "" || ex.StreamURL == "" || ex.Token == "" || ex.RuntimeID == "" ||
		ex.SSMTarget != "ecs:"+tg.Cluster+"_"+ex.TaskID+"_"+ex.RuntimeID {
		t.Errorf("Exec = %+v", ex)
	}
	checkConnectedAfterConnectable(t, sb, ex.TaskID)

	st, err := c.Status(ctx, "", sandbox.SeedEnv, sandbox.SeedBreakglass, naming.Overrides{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if len(st) != 1 || st[0].Desired != 1 || st[0].OpenedBy != "alice" || len(st[0].Tasks) != 1 ||
		st[0].Tasks[0].AgentStatus != "RUNNING" || st[0].Service != sandbox.SeedBreakglass {
		t.Errorf("Status = %+v", st)
	}

	res, err := c.Close(ctx, tg, "")
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if res.PreviousDesired != 1 || len(res.StoppedTasks) != 1 || res.StoppedTasks[0] != ex.TaskID {
		t.Errorf("Close = %+v, want desired 1 and task %s stopped", res, ex.TaskID)
	}
	if res.TagsErr != nil {
		t.Errorf("Close could not remove the tags: %v", res.TagsErr)
	}

	watchCtx, cancelWatch := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWatch()
	err = c.WatchTask(watchCtx, ex.ClusterARN, ex.TaskARN)
	// The scheduler may stop the task before StopTask does.
	if e := kindOf(t, err); e.Kind != ecs.KindTaskStopped ||
		e.StopCode != "UserInitiated" && e.StopCode != "ServiceSchedulerInitiated" {
		t.Errorf("WatchTask = %v (stop code %q), want the task stopped by the close", err,
			e.StopCode)
	}

	st, err = c.Status(ctx, "", "", "", naming.Overrides{})
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	for _, s := range st {
		if s.ECSService == tg.Service && (s.Desired != 0 || s.OpenedBy != "") {
			t.Errorf("after Close: %+v", s)
		}
		if strings.Contains(s.ECSService, sandbox.SeedApp) {
			t.Errorf("Status lists the ordinary service %s", s.ECSService)
		}
	}
}

// checkConnectedAfterConnectable checks, on the sandbox's timeline, that
// the session was registered after the task became connectable, and not
// long after.
func checkConnectedAfterConnectable(t *testing.T, sb *sandbox.Server, taskID string) {
	t.Helper()
	var connectable, registered time.Time
	for _, m := range sb.Marks() {
		switch {
		case m.Kind == sandbox.MarkConnectable && m.TaskID == taskID:
			connectable = m.At
		case m.Kind == sandbox.MarkSession && m.Detail == sandbox.SessionRegistered &&
			registered.IsZero():
			registered = m.At
		}
	}
	if connectable.IsZero() || registered.IsZero() || registered.Before(connectable) {
		t.Errorf("connectable at %v, session registered at %v", connectable, registered)
	}
}

func TestSandboxRefusals(t *testing.T) {
	t.Parallel()
	_, c := startSandbox(t)
	ctx := context.Background()
	tests := []struct {
		name     string
		env, svc string
		kind     ecs.Kind
		hint     string
	}{
		{"an ordinary service is refused", sandbox.SeedEnv, sandbox.SeedApp,
			ecs.KindNotBreakglass, "EFS-Util (breakglass-EFS-Util-DEMO)"},
		{"a service without exec is refused", sandbox.SeedEnv, sandbox.SeedNoExec,
			ecs.KindExecDisabled, "--enable-execute-command"},
		{"an unknown service lists the breakglass services", sandbox.SeedEnv, "EFS-Utl",
			ecs.KindServiceNotFound, "EFS-Util (breakglass-EFS-Util-DEMO)"},
		{"an unknown environment lists the environments", "PROD", sandbox.SeedBreakglass,
			ecs.KindClusterNotFound, sandbox.SeedEnv},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Preflight(ctx, target(t, tc.env, tc.svc))
			e := kindOf(t, err)
			if e.Kind != tc.kind || !strings.Contains(e.Hint(), tc.hint) {
				t.Errorf("Preflight = %v (kind %v, hint %q), want kind %v with %q in the hint",
					err, e.Kind, e.Hint(), tc.kind, tc.hint)
			}
		})
	}

	_, err := c.Close(ctx, target(t, sandbox.SeedEnv, sandbox.SeedApp), "")
	if e := kindOf(t, err); e.Kind != ecs.KindNotBreakglass {
		t.Errorf("Close of the ordinary service = %v, want KindNotBreakglass", err)
	}
	st, err := c.Status(ctx, "", sandbox.SeedEnv, "", naming.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Service == sandbox.SeedApp {
			t.Errorf("Status lists the ordinary service")
		}
		if s.Service == sandbox.SeedApp && s.Desired == 0 {
			t.Errorf("the ordinary service was scaled down")
		}
	}
}

func TestSandboxWaitFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   func(*sandbox.Config)
		setup func(sb *sandbox.Server)
		wait  time.Duration
		kind  ecs.Kind
		msg   string
	}{
		{
			name: "a task that fails to start is reported with its stop code",
			// Slow enough that the failing task is seen before it fails:
			// the replacement ECS starts after it would be followed instead.
			cfg: func(c *sandbox.Config) { c.StartDelay = 1500 * time.Millisecond },
			setup: func(sb *sandbox.Server) {
				sb.FailNextTaskStart("TaskFailedToStart", "CannotPullContainerError: no such image")
			},
			wait: 20 * time.Second,
			kind: ecs.KindTaskStopped,
			msg:  "CannotPullContainerError",
		},
		{
			name:  "an agent that never connects times out at its stage",
			setup: func(sb *sandbox.Server) { sb.NeverConnect(true) },
			wait:  2 * time.Second,
			kind:  ecs.KindTimeout,
			msg:   ecs.StageConnecting,
		},
		{
			name: "throttled polls do not end the wait",
			setup: func(sb *sandbox.Server) {
				sb.Throttle("DescribeTasks", 6)
				sb.Throttle("ListTasks", 3)
			},
			wait: 20 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*sandbox.Config)
			if tc.cfg != nil {
				opts = append(opts, tc.cfg)
			}
			sb, c := startSandbox(t, opts...)
			tg := target(t, sandbox.SeedEnv, sandbox.SeedBreakglass)
			tc.setup(sb)
			if err := c.Scale(context.Background(), tg, 1); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.wait)
			defer cancel()
			_, err := c.WaitReady(ctx, tg, "", nil)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("WaitReady: %v", err)
				}
				return
			}
			if e := kindOf(t, err); e.Kind != tc.kind || !strings.Contains(e.Error(), tc.msg) {
				t.Errorf("WaitReady = %v (kind %v), want kind %v mentioning %q", err, e.Kind,
					tc.kind, tc.msg)
			}
		})
	}
}
