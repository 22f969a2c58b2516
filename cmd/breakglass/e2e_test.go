//go:build !windows

package main

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

const (
	demoCluster = "breakglass-ECS-DEMO"
	demoService = "breakglass-EFS-Util-DEMO"
	appService  = "breakglass-App-DEMO"
)

// shellReady waits until the remote shell answers and returns the offset
// after its answer. A computed marker proves a shell evaluated it, not an
// echo of the keystrokes.
func shellReady(p *ptyProc, from int) int {
	p.t.Helper()
	from = p.expect(from, "connected to task", 30*time.Second)
	p.send("echo READY$((40+2))\r")
	return p.expect(from, "READY42", 15*time.Second)
}

func TestOpenGivesAShellOnTheEFSRootAndPutsTheServiceBack(t *testing.T) {
	sb := fastSandbox(t)
	p := startPTY(t, hermeticEnv(t, sb), "open", "DEMO", "EFS-Util")

	off := shellReady(p, 0)
	if got := desiredCount(t, sb, demoCluster, demoService); got != 1 {
		t.Errorf("desired count during the session = %d, want 1", got)
	}

	p.send("ls\r")
	off = p.expect(off, "mysql", 10*time.Second)
	if !strings.Contains(p.output()[off-5:], "rabbitmq") {
		p.expect(off-5, "rabbitmq", 5*time.Second)
	}

	// Ctrl-C at the prompt belongs to the remote shell: breakglass lives on.
	// Typed-ahead input is flushed by the interrupt, as on any terminal, so
	// the next command waits for the shell to have taken the Ctrl-C.
	p.send("sleep 30\r")
	time.Sleep(300 * time.Millisecond)
	p.send("\x03")
	off = p.expect(off, "^C", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	p.send("echo ALIVE$((1+1))\r")
	off = p.expect(off, "ALIVE2", 10*time.Second)

	p.send("exit\r")
	if code := p.wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code = %d, want 0", code)
	}
	p.expect(off, "back to desired count 0", time.Second)
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count after exit = %d, want 0", got)
	}
	p.assertCookedTerminal()
	if strings.Contains(p.output(), "Starting session with SessionId") {
		t.Error("the plugin's banner reached the terminal")
	}
}

func TestInterruptingTheWaitPutsTheServiceBack(t *testing.T) {
	tests := []struct {
		name string
		keys string
		want int
	}{
		{"Ctrl-C cancels the wait", "\x03", exitInterrupted},
		{"Ctrl-\\ cancels the wait instead of dumping goroutines", "\x1c", exitSignalOffset + int(syscall.SIGQUIT)},
		{"Ctrl-Z is refused, then Ctrl-C cancels", "\x1a", exitInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := fastSandbox(t, func(c *sandbox.Config) { c.StartDelay = 20 * time.Second })
			p := startPTY(t, hermeticEnv(t, sb), "open", "DEMO", "EFS-Util")

			off := p.expect(0, "PROVISIONING", 20*time.Second)
			p.send(tt.keys)
			if tt.keys == "\x1a" {
				p.expect(off, "cannot suspend", 5*time.Second)
				p.send("\x03")
			}
			if code := p.wait(30 * time.Second); code != tt.want {
				t.Errorf("exit code = %d, want %d", code, tt.want)
			}
			if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
				t.Errorf("desired count = %d, want 0", got)
			}
			if !strings.Contains(p.output(), "back to desired count 0") {
				t.Error("no line saying the service was put back")
			}
			p.assertCookedTerminal()
		})
	}
}

func TestAClosedOutputPipeStillPutsTheServiceBack(t *testing.T) {
	sb := fastSandbox(t)
	// Both pipes are closed before breakglass writes a byte, like the end
	// of 'breakglass ... 2>&1 | head -0'.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := osexec.Command(binPath, "open", "DEMO", "EFS-Util", "--command", "ls")
	cmd.Env = hermeticEnv(t, sb)
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Run()
	w.Close()

	if code := exitCodeOf(err); code == exitSignalOffset+int(syscall.SIGPIPE) {
		t.Errorf("breakglass was killed by SIGPIPE")
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}
}

func TestSIGTERMDuringTheShellPutsTheServiceBack(t *testing.T) {
	sb := fastSandbox(t)
	p := startPTY(t, hermeticEnv(t, sb), "open", "DEMO", "EFS-Util")
	shellReady(p, 0)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(30 * time.Second); code != exitSignalOffset+int(syscall.SIGTERM) {
		t.Errorf("exit code = %d, want %d", code, exitSignalOffset+int(syscall.SIGTERM))
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}
	p.assertCookedTerminal()
}

func TestATaskThatStopsMidSessionEndsTheSession(t *testing.T) {
	sb := fastSandbox(t)
	p := startPTY(t, hermeticEnv(t, sb), "open", "DEMO", "EFS-Util")
	off := shellReady(p, 0)

	stopRunningTask(t, sb)
	if code := p.wait(30 * time.Second); code != exitSessionLost {
		t.Errorf("exit code = %d, want %d", code, exitSessionLost)
	}
	p.expect(off, "EssentialContainerExited", time.Second)
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}
	p.assertCookedTerminal()
}

// stopRunningTask kills the breakglass service's one running task, as if
// its container had died.
func stopRunningTask(t *testing.T, sb *sandbox.Server) {
	t.Helper()
	var task string
	for _, m := range sb.Marks() {
		if m.Kind == sandbox.MarkConnectable && m.Service == demoService {
			task = m.TaskID
		}
	}
	if task == "" {
		t.Fatal("no connectable task in the sandbox's marks")
	}
	if err := sb.StopTaskNow(demoCluster, task, "Essential container in task exited"); err != nil {
		t.Fatal(err)
	}
}

func TestAKilledSupervisorTakesItsSessionWithIt(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("needs /proc to find the supervisor")
	}
	sb := fastSandbox(t)
	// A shell leads the terminal's session, as for an operator, so the
	// supervisor's death sends no SIGHUP to the session child.
	sh := osexec.Command("/bin/sh", "-c", binPath+" open DEMO EFS-Util; sleep 30")
	p := startPTYCommand(t, hermeticEnv(t, sb), sh)
	shellReady(p, 0)

	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", sh.Process.Pid, sh.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(children))[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// What the operator types next is meant for their own machine.
	time.Sleep(time.Second)
	p.send("touch TYPED_AFTER_KILL\r")
	time.Sleep(time.Second)
	if _, err := os.Stat(filepath.Join(sb.EFSDir(), "TYPED_AFTER_KILL")); err == nil {
		t.Error("keystrokes typed after the supervisor died ran in the container")
	}
	if !strings.Contains(p.output(), "run: breakglass close DEMO EFS-Util") {
		t.Error("the session child did not say how to put the service back")
	}
	p.assertCookedTerminal()
}

func TestAOneShotCommandWithoutATerminalWritesOnlyItsOutput(t *testing.T) {
	sb := fastSandbox(t)
	stdout, stderr, code := runPlain(t, hermeticEnv(t, sb), "", "open", "DEMO", "EFS-Util", "--command", "ls")
	if code != 0 {
		t.Fatalf("exit code = %d, stderr:\n%s", code, stderr)
	}
	fields := strings.Fields(stdout)
	if len(fields) != 2 || fields[0] != "mysql" || fields[1] != "rabbitmq" {
		t.Errorf("stdout = %q, want the two EFS folders only", stdout)
	}
	if strings.Contains(stdout, "\r") {
		t.Errorf("stdout has the container terminal's CR line ends: %q", stdout)
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}

	// Input is not passed to a one-shot command: the container's terminal
	// would echo it into the output.
	stdout, stderr, code = runPlain(t, hermeticEnv(t, sb), "secret\n", "open", "DEMO", "EFS-Util", "--command", "echo hi")
	if code != 0 || stdout != "hi\n" {
		t.Errorf("stdout = %q (exit %d), want exactly \"hi\\n\"; stderr:\n%s", stdout, code, stderr)
	}
}

func TestSIGINTWithoutATerminalEndsAOneShotSession(t *testing.T) {
	sb := fastSandbox(t)
	cmd := osexec.Command(binPath, "open", "DEMO", "EFS-Util", "--command", "sleep 60")
	cmd.Env = hermeticEnv(t, sb)
	stderr := &ptytest.SyncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stderr.String(), "connected to task") {
		if time.Now().After(deadline) {
			t.Fatalf("never connected:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// No terminal sends this to the session child too: the supervisor must.
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if code := exitCodeOf(err); code != exitInterrupted {
			t.Errorf("exit code = %d, want %d; stderr:\n%s", code, exitInterrupted, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("SIGINT did not end the session:\n%s", stderr.String())
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}
}

func TestRefusals(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		env      func([]string) []string
		wantCode int
		wantErr  []string
	}{
		{
			name:     "an ordinary service is refused",
			args:     []string{"open", "DEMO", "App", "--command", "ls"},
			wantCode: exitRefused,
			wantErr:  []string{"not a breakglass service"},
		},
		{
			name:     "a service without exec is refused",
			args:     []string{"open", "DEMO", "NoExec", "--command", "ls"},
			wantCode: exitRefused,
			wantErr:  []string{"exec"},
		},
		{
			name:     "an unknown service lists the breakglass services that exist",
			args:     []string{"open", "DEMO", "Nope", "--command", "ls"},
			wantCode: exitNotFound,
			wantErr:  []string{"EFS-Util"},
		},
		{
			name:     "an unknown environment is reported as a missing cluster",
			args:     []string{"open", "PROD", "EFS-Util", "--command", "ls"},
			wantCode: exitNotFound,
			wantErr:  []string{"breakglass-ECS-PROD"},
		},
		{
			name:     "a bad environment name is refused before any call",
			args:     []string{"open", "DE/MO", "EFS-Util", "--command", "ls"},
			wantCode: exitUsage,
			wantErr:  []string{"environment", "'/'"},
		},
		{
			name:     "an interactive shell without a terminal is refused",
			args:     []string{"open", "DEMO", "EFS-Util"},
			wantCode: exitUsage,
			wantErr:  []string{"terminal"},
		},
		{
			name:     "no region is refused",
			args:     []string{"open", "DEMO", "EFS-Util", "--command", "ls"},
			env:      func(e []string) []string { return withoutEnv(e, "AWS_REGION", "AWS_DEFAULT_REGION") },
			wantCode: exitAccess,
			wantErr:  []string{"region"},
		},
		{
			name: "no credentials are refused",
			args: []string{"open", "DEMO", "EFS-Util", "--command", "ls"},
			env: func(e []string) []string {
				return withoutEnv(e, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
			},
			wantCode: exitAccess,
			wantErr:  []string{"credentials"},
		},
		{
			name:     "an unknown profile is refused",
			args:     []string{"open", "DEMO", "EFS-Util", "--command", "ls", "--profile", "nope"},
			wantCode: exitAccess,
			wantErr:  []string{`"nope"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb := fastSandbox(t)
			env := hermeticEnv(t, sb)
			if tt.env != nil {
				env = tt.env(env)
			}
			_, stderr, code := runPlain(t, env, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, stderr)
				}
			}
			if !strings.Contains(stderr, "hint:") {
				t.Errorf("no hint in:\n%s", stderr)
			}
			if n := updateServiceCalls(sb); n != 0 {
				t.Errorf("%d UpdateService calls, want none", n)
			}
			if got := desiredCount(t, sb, demoCluster, appService); got != 2 {
				t.Errorf("the ordinary service's desired count = %d, want 2", got)
			}
		})
	}
}

func TestATaskThatFailsToStartIsReportedAtOnce(t *testing.T) {
	// The task must live long enough to be seen failing: ECS replaces a
	// failed task at once, and a replacement that comes up would hide it.
	sb := fastSandbox(t, func(c *sandbox.Config) { c.StartDelay = 3 * time.Second })
	sb.FailNextTaskStart("TaskFailedToStart", "CannotPullContainerError: pull access denied")
	_, stderr, code := runPlain(t, hermeticEnv(t, sb), "", "open", "DEMO", "EFS-Util", "--command", "ls")
	if code != exitNotReady {
		t.Errorf("exit code = %d, want %d; stderr:\n%s", code, exitNotReady, stderr)
	}
	for _, w := range []string{"TaskFailedToStart", "CannotPullContainerError", "back to desired count 0"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr does not mention %q:\n%s", w, stderr)
		}
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count = %d, want 0", got)
	}
}

func TestCloseStopsAnOpenService(t *testing.T) {
	sb := fastSandbox(t)
	env := hermeticEnv(t, sb)
	// Leave the service open the way a killed terminal would.
	p := startPTY(t, env, "open", "DEMO", "EFS-Util")
	shellReady(p, 0)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(10 * time.Second)
	if got := desiredCount(t, sb, demoCluster, demoService); got != 1 {
		t.Fatalf("desired count after SIGKILL = %d, want 1 (left open)", got)
	}

	stdout, stderr, code := runPlain(t, env, "", "status", "DEMO", "-o", "json")
	if code != 0 || !strings.Contains(stdout, `"desired": 1`) || !strings.Contains(stdout, `"openedBy": "arn:`) {
		t.Errorf("status (code %d) does not show the open service and who opened it:\n%s%s", code, stdout, stderr)
	}

	_, stderr, code = runPlain(t, env, "", "close", "DEMO", "EFS-Util")
	if code != 0 {
		t.Fatalf("close exit code = %d, stderr:\n%s", code, stderr)
	}
	if got := desiredCount(t, sb, demoCluster, demoService); got != 0 {
		t.Errorf("desired count after close = %d, want 0", got)
	}
	if !strings.Contains(stderr, "stopping task") {
		t.Errorf("close did not say it stopped the task:\n%s", stderr)
	}
	if !strings.Contains(stderr, "this ends the session of arn:") {
		t.Errorf("close did not say whose session it ended:\n%s", stderr)
	}
}

func TestAnAWSErrorThatPersistsIsExitCode1(t *testing.T) {
	sb := fastSandbox(t)
	sb.Throttle("DescribeServices", 100) // more than the SDK's retries
	_, stderr, code := runPlain(t, hermeticEnv(t, sb), "", "open", "DEMO", "EFS-Util", "--command", "ls")
	if code != exitError {
		t.Errorf("exit code = %d, want %d; stderr:\n%s", code, exitError, stderr)
	}
	if !strings.Contains(stderr, "Rate exceeded") {
		t.Errorf("stderr does not say what ECS answered:\n%s", stderr)
	}
	if n := updateServiceCalls(sb); n != 0 {
		t.Errorf("%d UpdateService calls, want none", n)
	}
}

func TestAFailedCleanupIsExitCode8AndSaysHowToClose(t *testing.T) {
	sb := fastSandbox(t)
	p := startPTY(t, hermeticEnv(t, sb), "open", "DEMO", "EFS-Util")
	off := shellReady(p, 0)

	// AWS goes away under the session: the session ends and the service
	// cannot be put back. Three interrupts abandon the retries.
	sb.Close()
	off = p.expect(off, "session", 30*time.Second)
	for i := 0; i < 3; i++ {
		time.Sleep(300 * time.Millisecond)
		p.send("\x03")
	}
	if code := p.wait(90 * time.Second); code != exitCleanupFail {
		t.Errorf("exit code = %d, want %d", code, exitCleanupFail)
	}
	p.expect(off, "run: breakglass close DEMO EFS-Util", time.Second)
	p.assertCookedTerminal()
}
