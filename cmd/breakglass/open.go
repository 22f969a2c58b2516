package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/exec"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// restoreTimeout bounds putting the service back to rest. It is long enough
// for the SDK retryer to ride out throttling, short enough that an operator
// is never stuck behind a dead network.
const restoreTimeout = 60 * time.Second

type openOptions struct {
	env, service string
	target       targetFlags
	command      string
	wait         time.Duration
}

func newOpenCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &openOptions{}
	cmd := &cobra.Command{
		Use:   "open ENV SERVICE",
		Short: "Scale a breakglass service to 1, open a shell in it, and put it back when the shell ends",
		Long: `open resolves ENV and SERVICE to a cluster and service, checks that the service
is a breakglass service (tag breakglass:managed=true) with ECS Exec enabled,
scales it from 0 to 1, shows each stage until the exec agent accepts
connections, and opens an interactive shell in the container.

When the shell ends - by exit, Ctrl-D, a signal, a lost connection, the task
stopping or an error - the terminal is restored and the service is put back to
the desired count it had before. A service that was already running is left as
it was.

Ctrl-C, Ctrl-\ and Ctrl-Z go to the remote shell while it runs. Before the
shell starts, Ctrl-C cancels the wait and puts the service back.

Without a terminal, an interactive shell is refused; a one-shot --command
runs and writes its output to stdout, for scripts. The remote command's exit
status is not reported: ECS Exec does not carry it.`,
		Example: `  breakglass open DEMO EFS-Util
  breakglass open PROD EFS-Util --profile prod --region eu-west-1
  breakglass open DEMO EFS-Util --command "ls -la /mnt/efs"
  breakglass open DEMO EFS-Util --wait 2m --container efs_util`,
		Args: exactArgs(2, "ENV and SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.env, o.service = args[0], args[1]
			return runOpen(cmd.Context(), ios, g, o)
		},
	}
	o.target.register(cmd, true)
	f := cmd.Flags()
	f.StringVar(&o.command, "command", "/bin/sh", "shell or one-shot command to run in the container")
	f.DurationVar(&o.wait, "wait", 10*time.Minute, "how long to wait for the task to accept connections")
	return cmd
}

func runOpen(ctx context.Context, ios *IOStreams, g *globalOptions, o *openOptions) error {
	st, names, err := o.target.resolve(ios, g, o.env, o.service)
	if err != nil {
		return err
	}
	if strings.TrimSpace(o.command) == "" {
		return &usageError{msg: "--command is empty", hint: "omit --command for /bin/sh, or name a command"}
	}
	if o.wait <= 0 {
		return &usageError{msg: "--wait must be positive", hint: "for example --wait 5m"}
	}
	interactive := isShell(o.command)
	if interactive && !ios.StdinTTY {
		return exec.ErrNoTerminal
	}

	ctx, stopSignals := watchSignals(ctx, ios)
	defer stopSignals()

	sess, err := loadAWS(ctx, st.awsFlags(), ios)
	if err != nil {
		return err
	}
	prog := newProgress(ios)
	client := sess.ecsClient(ecs.Options{OnRetry: retryNotice(prog)})
	t := ecsTarget(names)

	who := make(chan string, 1)
	go func() { who <- sess.callerIdentity(ctx) }()

	svc, err := client.Preflight(ctx, t)
	if err != nil {
		return causeOf(ctx, g.suggestEnv(ctx, sess, st, o.target.overrides, err))
	}

	o2 := &opened{ios: ios, client: client, names: names, svc: svc, prog: prog,
		closeCmd: closeCommandLine(st, o.env, o.service, o.target.overrides)}
	if svc.Desired == 0 {
		if err := o2.scaleUp(ctx, who); err != nil {
			return o2.finish(causeOf(ctx, err))
		}
	} else {
		o2.warnShared()
	}

	ex, err := o2.wait(ctx, o)
	if err != nil {
		return o2.finish(causeOf(ctx, err))
	}

	// From here internal/exec owns the signals: the terminal delivers
	// Ctrl-C to the session child, which forwards it to the remote shell.
	// The guard keeps the default actions away between the end of the
	// session and the clean-up, when a SIGHUP from a closed window may
	// still be on its way.
	release := guardSignals()
	defer release()
	stopSignals()
	err = o2.session(sess, ex, interactive)
	return o2.finish(err)
}

// retryNoticeEvery spaces out the notices of a wait that keeps failing.
const retryNoticeEvery = 10 * time.Second

// retryNotice returns an OnRetry that says, at most every retryNoticeEvery,
// that the wait is retrying and why: a wait against a dead endpoint must
// not look like one that is progressing.
func retryNotice(p *progress) func(error) {
	var last time.Time
	return func(err error) {
		if time.Since(last) < retryNoticeEvery {
			return
		}
		last = time.Now()
		p.notice("still trying after an error: %v", err)
	}
}

// opened is an open in progress: what must be undone and how.
type opened struct {
	ios    *IOStreams
	client *ecs.Client
	names  naming.Names
	svc    *ecs.Service
	scaled bool // breakglass changed the desired count and must put it back

	closeCmd string        // the command that puts the service back, for hints
	prog     *progress     // the wait's display
	marked   chan struct{} // closed when the opened-by record is written (or failed)
}

// warnShared says what joining a service that is already running means.
//
// Known shortcoming: there is no lease. Whoever scaled the service up puts it
// back when their shell ends, which ends every other shell on it; a second
// operator is only warned, and the first is not told that someone joined.
func (o *opened) warnShared() {
	holder := o.svc.Tags[ecs.OpenedByTagKey]
	if holder == "" {
		o.ios.Printf("%s is already at desired count %d; leaving it at %d afterwards",
			o.names.ECSService, o.svc.Desired, o.svc.Desired)
		return
	}
	since := ""
	if at := o.svc.Tags[ecs.OpenedAtTagKey]; at != "" {
		since = " since " + at
	}
	o.ios.Printf("%s is held open by %s%s; your shell ends when they close it",
		o.names.ECSService, printable(holder), printable(since))
}

// scaleUp sets the desired count to 1, then records who opened the service
// in the background: the record waits for STS, the scale-up must not.
func (o *opened) scaleUp(ctx context.Context, who <-chan string) error {
	o.ios.Infof("opening %s in %s: desired count 0 -> 1", o.names.ECSService, o.names.Cluster)
	err := o.client.Scale(ctx, ecsTarget(o.names), 1)
	// A call cut short (a signal, a reset connection) may still have
	// reached ECS, so the service is put back unless ECS itself answered
	// with a refusal.
	var refusal smithy.APIError
	if err == nil || !errors.As(err, &refusal) || ctx.Err() != nil {
		o.scaled = true
	}
	if err != nil {
		return err
	}
	o.marked = make(chan struct{})
	go func() {
		defer close(o.marked)
		if err := o.client.MarkOpen(ctx, o.svc.ARN, <-who); err != nil {
			o.ios.Debugf("could not record who opened the service: %v", err)
		}
	}()
	return nil
}

func (o *opened) wait(ctx context.Context, opt *openOptions) (*ecs.Exec, error) {
	waitCtx, cancel := context.WithTimeout(ctx, opt.wait)
	defer cancel()

	p := o.prog
	p.start = time.Now()
	ex, err := o.client.WaitReady(waitCtx, ecsTarget(o.names), opt.command, p.stage)
	p.done()
	if err != nil {
		return nil, err
	}
	after := fmt.Sprintf("the service goes back to %d when the shell ends", o.svc.Desired)
	if !o.scaled {
		after = fmt.Sprintf("the service stays at %d", o.svc.Desired)
	}
	o.ios.Infof("connected to task %s (container %s) after %s; %s",
		shortID(ex.TaskID), ex.ContainerName, fmtElapsed(time.Since(p.start)), after)
	return ex, nil
}

// ecsTarget is the service and container that names name.
func ecsTarget(n naming.Names) ecs.Target {
	return ecs.Target{Cluster: n.Cluster, Service: n.ECSService, Container: n.Container}
}

// session runs the shell and watches the task while it runs; a task that
// stops ends the session instead of leaving the terminal hanging.
func (o *opened) session(sess *awsSession, ex *ecs.Exec, interactive bool) error {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		err := o.client.WatchTask(ctx, ex.ClusterARN, ex.TaskARN)
		var ee *ecs.Error
		if errors.As(err, &ee) && ee.Kind == ecs.KindTaskStopped {
			cancel(err)
		}
	}()

	streams := o.sessionStreams(interactive)
	if streams.Stdin != o.ios.In {
		defer streams.Stdin.Close()
	}
	res, err := exec.Run(ctx, exec.Params{
		SessionJSON: ex.SessionJSON(),
		SessionID:   ex.SessionID,
		Target:      ex.SSMTarget,
		Region:      sess.cfg.Region,
		Profile:     sess.profile,
		SSMEndpoint: sess.ssmEndpoint,
		Interactive: interactive,
		OrphanHint:  o.orphanHint(),
	}, streams)
	if interactive && (res.Signal != nil || res.Canceled || res.Lost) {
		// The shell was cut off mid-line; start our lines on a fresh one.
		fmt.Fprint(o.ios.Err, "\r\n")
	}
	switch {
	case res.Signal != nil:
		return &signalError{sig: res.Signal}
	case res.Canceled:
		return o.taskEnded(context.Cause(ctx))
	case res.Lost:
		// The plugin gave up reconnecting; the task stopping is the usual
		// reason, and the watcher may not have polled since.
		return o.taskEnded(o.stopReason(ex))
	case errors.Is(err, syscall.EPIPE):
		// Whoever read the output has had enough (breakglass ... | head):
		// as for any Unix command, that is not a failure.
		return nil
	case err != nil && res.ExitCode == 0:
		return &sessionError{msg: fmt.Sprintf("the session ended but its output was cut short: %v", err),
			hint: "the terminal or pipe reading breakglass's output went away"}
	case err != nil:
		return &sessionError{msg: fmt.Sprintf("start the session: %v", err),
			hint: "run with --verbose for the API calls; 'breakglass version' shows the linked plugin"}
	case res.ExitCode == exitInterrupted:
		return &signalError{sig: os.Interrupt}
	case res.ExitCode != 0:
		return &sessionError{
			msg:  fmt.Sprintf("the session failed (session process exit status %d)", res.ExitCode),
			hint: "the connection to the container was refused or lost; check 'breakglass status' and retry",
		}
	}
	o.ios.Infof("session ended")
	return nil
}

// sessionStreams hands the session the terminal, or for a one-shot command
// without one, output with plain line ends and no input: the container side
// is a terminal, which would echo input into the output and never see its
// end.
func (o *opened) sessionStreams(interactive bool) exec.Options {
	opts := exec.Options{Stdin: o.ios.In, Stdout: o.ios.OutFile, Stderr: o.ios.ErrFile}
	if interactive {
		return opts
	}
	opts.PlainLines = !o.ios.StdoutTTY
	if !o.ios.StdinTTY {
		if null, err := os.Open(os.DevNull); err == nil {
			opts.Stdin = null
		}
	}
	return opts
}

// orphanHint is what the session child says if this process dies first.
func (o *opened) orphanHint() string {
	if !o.scaled {
		return ""
	}
	return "the service is still open; run: " + o.closeCmd
}

// taskEnded turns the reason a session was cut off into the command's error.
func (o *opened) taskEnded(cause error) error {
	var ee *ecs.Error
	if errors.As(cause, &ee) {
		return &sessionError{msg: "the session ended because " + ee.Error(), hint: ee.Hint()}
	}
	return &sessionError{
		msg:  "the connection to the container was lost",
		hint: "check the network; 'breakglass status' shows whether the task still runs",
	}
}

// stopReason asks once why the task went away, for the message.
func (o *opened) stopReason(ex *ecs.Exec) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return o.client.CheckTask(ctx, ex.ClusterARN, ex.TaskARN)
}

// finish puts the service back to rest if breakglass changed it, and
// returns the error the command ends with: a failed restore outranks err.
func (o *opened) finish(err error) error {
	if !o.scaled {
		return err
	}

	ctx, release := holdSignals(context.Background(), o.ios)
	defer release()
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()

	if rerr := o.client.Scale(ctx, ecsTarget(o.names), o.svc.Desired); rerr != nil {
		o.ios.Printf("could not put %s back to desired count %d", o.names.ECSService, o.svc.Desired)
		return &cleanupError{err: rerr, closeCmd: o.closeCmd}
	}
	o.ios.Infof("put %s back to desired count %d", o.names.ECSService, o.svc.Desired)
	// Clearing the record before it is written would leave it behind.
	if o.marked != nil {
		select {
		case <-o.marked:
		case <-ctx.Done():
		}
	}
	if cerr := o.client.ClearOpen(ctx, o.svc.ARN); cerr != nil {
		o.ios.Debugf("could not clear the opened-by record: %v", cerr)
	}
	return err
}

// closeCommandLine is the close command that reaches the same service with
// the same settings, for an operator told to run it later.
func closeCommandLine(st settings, env, service string, ov naming.Overrides) string {
	args := []string{"breakglass", "close", env, service}
	add := func(flag, value string) {
		if value != "" {
			args = append(args, flag, shellQuote(value))
		}
	}
	add("--profile", st.Profile.Value)
	add("--region", st.Region.Value)
	if st.Project.Value != naming.DefaultProject {
		add("--project", st.Project.Value)
	}
	add("--cluster", ov.Cluster)
	add("--service", ov.Service)
	return strings.Join(args, " ")
}

// shellQuote quotes s for a POSIX shell unless it is plainly safe.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@=", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// isShell reports whether command starts an interactive shell rather than
// running a one-shot command: a shell's name with no arguments.
func isShell(command string) bool {
	fields := strings.Fields(command)
	if len(fields) != 1 {
		return false
	}
	switch path.Base(fields[0]) {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "fish":
		return true
	}
	return false
}
