//go:build linux

package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/message"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
)

// supervisorResult is what the supervisor part reports back to the test.
type supervisorResult struct {
	ExitCode int
	Signal   string
	Canceled bool
	Err      string
}

// supervisorMain runs one interactive session on this process's terminal.
// SIGUSR1 cancels its context, standing in for a stopped task.
func supervisorMain() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() { <-usr1; cancel() }()

	if os.Getenv(envTestPanic) == "1" {
		ctx = panicCtx{ctx}
	}
	grace, _ := time.ParseDuration(os.Getenv(envTestGrace))
	res, err := Run(ctx, Params{
		SessionJSON: []byte(os.Getenv(envTestSession)),
		SessionID:   "s",
		Target:      "ecs:c_t_r",
		Region:      "us-east-1",
		SSMEndpoint: "http://127.0.0.1:1",
		Interactive: true,
	}, Options{Grace: grace})
	out := supervisorResult{ExitCode: res.ExitCode, Canceled: res.Canceled}
	if res.Signal != nil {
		out.Signal = res.Signal.String()
	}
	if err != nil {
		out.Err = err.Error()
	}
	b, _ := json.Marshal(out)
	if werr := os.WriteFile(os.Getenv(envTestResult), b, 0o600); werr != nil {
		return 3
	}
	return 0
}

// panicCtx makes Run panic once the plugin has changed the terminal: Run
// calls Done after starting the child, and this Done panics as soon as the
// terminal on stdin has left canonical mode.
type panicCtx struct{ context.Context }

func (c panicCtx) Done() <-chan struct{} {
	for {
		tio, err := unix.IoctlGetTermios(0, unix.TCGETS)
		if err == nil && tio.Lflag&unix.ICANON == 0 {
			panic("test: panic in Run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func init() { testSupervisor = supervisorMain }

// ptySupervisor is the supervisor part of the test binary running Run in a
// pty. The test keeps the pty's terminal end open to read its termios.
type ptySupervisor struct {
	t          *testing.T
	ptmx, pts  *os.File
	cmd        *osexec.Cmd
	out        ptytest.SyncBuffer
	result     string
	underShell bool
	exited     chan struct{}
	waitErr    error
}

// ptyOptions vary how the supervisor part is started.
type ptyOptions struct {
	// underShell starts it as a shell's child rather than as the session
	// leader: then the session outlives it, as a real terminal session
	// outlives breakglass, and its death sends no SIGHUP to the child.
	underShell bool
	env        []string
	stdout     *os.File // instead of the pty
}

// startPtySupervisor starts the supervisor part on a new pty, in a new
// session whose controlling terminal that pty is.
func startPtySupervisor(t *testing.T, g *fakeGateway, po ptyOptions) *ptySupervisor {
	t.Helper()
	ptmx, pts, err := pty.Open()
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	s := &ptySupervisor{t: t, ptmx: ptmx, pts: pts, exited: make(chan struct{}),
		result: filepath.Join(t.TempDir(), "result.json"), underShell: po.underShell}

	s.cmd = osexec.Command(os.Args[0])
	if po.underShell {
		script := `"$0"; echo "supervisor exit $?"; exec sleep 60`
		s.cmd = osexec.Command("/bin/sh", "-m", "-c", script, os.Args[0])
	}
	s.cmd.Env = hermeticEnv(t,
		envTestSupervisor+"=1",
		envTestSession+"="+string(g.sessionJSON("sess-pty")),
		envTestResult+"="+s.result,
		envTestGrace+"=2s",
	)
	s.cmd.Env = append(s.cmd.Env, po.env...)
	s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = pts, pts, pts
	if po.stdout != nil {
		s.cmd.Stdout = po.stdout
	}
	// Its own session with the pty as controlling terminal, so that the
	// line discipline signals its foreground group: supervisor and child.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start supervisor: %v", err)
	}
	go func() { _, _ = io.Copy(&s.out, ptmx) }()
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		ptmx.Close()
		pts.Close()
	})
	return s
}

func (s *ptySupervisor) termios() unix.Termios {
	s.t.Helper()
	tio, err := unix.IoctlGetTermios(int(s.pts.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatalf("read termios: %v", err)
	}
	return *tio
}

func (s *ptySupervisor) write(text string) {
	s.t.Helper()
	if _, err := s.ptmx.Write([]byte(text)); err != nil {
		s.t.Fatalf("write to pty: %v", err)
	}
}

func (s *ptySupervisor) waitOutput(want string) {
	s.t.Helper()
	waitFor(s.t, "pty output "+want, func() bool { return strings.Contains(s.out.String(), want) })
}

// waitSession waits for the remote prompt and for the plugin to have put the
// terminal in cbreak mode, i.e. for a terminal state worth restoring.
func (s *ptySupervisor) waitSession() {
	s.t.Helper()
	s.waitOutput("fake$ ")
	waitFor(s.t, "the plugin to turn off canonical mode", func() bool {
		return s.termios().Lflag&unix.ICANON == 0
	})
}

// finish waits for the supervisor to exit and returns what Run returned.
func (s *ptySupervisor) finish() supervisorResult {
	s.t.Helper()
	if s.underShell {
		if code := s.shellReportedExit(); code != "0" {
			s.t.Fatalf("supervisor exit status %s; pty output:\n%s", code, s.out.String())
		}
	} else {
		waitClosed(s.t, "the supervisor to exit", s.exited)
		if s.waitErr != nil {
			s.t.Fatalf("supervisor: %v; pty output:\n%s", s.waitErr, s.out.String())
		}
	}
	var r supervisorResult
	b, err := os.ReadFile(s.result)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		s.t.Fatalf("read supervisor result: %v", err)
	}
	return r
}

var shellExitLine = regexp.MustCompile(`supervisor exit (\d+)\r?\n`)

// shellReportedExit waits for the shell to report the supervisor's exit
// status and returns it.
func (s *ptySupervisor) shellReportedExit() string {
	s.t.Helper()
	var code string
	waitFor(s.t, "the shell to report the supervisor's exit", func() bool {
		m := shellExitLine.FindStringSubmatch(s.out.String())
		if m != nil {
			code = m[1]
		}
		return m != nil
	})
	return code
}

// sameTerminal compares the settings the plugin changes and Run restores.
func sameTerminal(t *testing.T, got, want unix.Termios) {
	t.Helper()
	if got.Lflag != want.Lflag || got.Iflag != want.Iflag || got.Oflag != want.Oflag ||
		got.Cc != want.Cc {
		t.Errorf("terminal not restored: lflag %#x iflag %#x oflag %#x, "+
			"want %#x %#x %#x (ICANON %v, ECHO %v)",
			got.Lflag, got.Iflag, got.Oflag, want.Lflag, want.Iflag, want.Oflag,
			got.Lflag&unix.ICANON != 0, got.Lflag&unix.ECHO != 0)
	}
}

func TestInteractiveSessionInAPty(t *testing.T) {
	g := newFakeGateway(t)
	lineShell(g)
	// Under a job-control shell, as from a real terminal: there Ctrl-Z would
	// stop a supervisor or child that does not handle it.
	s := startPtySupervisor(t, g, ptyOptions{underShell: true})
	before := s.termios()
	if before.Lflag&unix.ICANON == 0 || before.Lflag&unix.ECHO == 0 {
		t.Fatalf("a fresh pty should start with ICANON and ECHO on")
	}

	s.waitSession()
	s.write("hello\n")
	s.waitOutput("echo:hello")

	if got := g.receivedSizes()[0]; got != (message.SizeData{Cols: 120, Rows: 40}) {
		t.Fatalf("first size = %+v, want the pty's 120x40 (not the 300x100 of a pipe)", got)
	}
	if err := pty.Setsize(s.ptmx, &pty.Winsize{Rows: 50, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new size at the gateway", func() bool {
		return slices.Contains(g.receivedSizes(), message.SizeData{Cols: 132, Rows: 50})
	})

	for _, key := range []struct {
		name string
		b    byte
	}{{"Ctrl-C", 0x03}, {"Ctrl-\\", 0x1c}, {"Ctrl-Z", 0x1a}} {
		s.write(string(key.b))
		waitFor(t, key.name+" at the gateway", func() bool {
			return slices.Contains(g.receivedInput(), key.b)
		})
	}
	s.write("still here\n")
	s.waitOutput("echo:still here")

	s.write("exit\n")
	res := s.finish()

	if res != (supervisorResult{}) {
		t.Errorf("Run = %+v, want a normal end", res)
	}
	out := s.out.String()
	if !strings.Contains(out, "bye") {
		t.Errorf("pty output lacks the remote's last output %q:\n%q", "bye", out)
	}
	for _, banner := range []string{"Starting session", "Exiting session"} {
		if strings.Contains(out, banner) {
			t.Errorf("pty output contains the plugin banner %q:\n%q", banner, out)
		}
	}
	sameTerminal(t, s.termios(), before)
}

func TestSupervisorEndsTheSessionAndRestoresTheTerminal(t *testing.T) {
	tests := []struct {
		name string
		send syscall.Signal
		want supervisorResult
	}{
		{"SIGTERM is forwarded to the child", syscall.SIGTERM,
			supervisorResult{ExitCode: 128 + int(syscall.SIGTERM), Signal: syscall.SIGTERM.String()}},
		{"SIGHUP is forwarded to the child", syscall.SIGHUP,
			supervisorResult{ExitCode: 128 + int(syscall.SIGHUP), Signal: syscall.SIGHUP.String()}},
		{"a canceled context asks the child to end", syscall.SIGUSR1,
			supervisorResult{ExitCode: 128 + int(syscall.SIGTERM), Canceled: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			lineShell(g)
			s := startPtySupervisor(t, g, ptyOptions{})
			before := s.termios()
			s.waitSession()

			if err := s.cmd.Process.Signal(tc.send); err != nil {
				t.Fatal(err)
			}
			res := s.finish()

			if res != tc.want {
				t.Errorf("Run = %+v, want %+v; pty output:\n%s", res, tc.want, s.out.String())
			}
			sameTerminal(t, s.termios(), before)
		})
	}
}

func TestAPanicInRunRestoresTheTerminalAndKillsTheChild(t *testing.T) {
	g := newFakeGateway(t) // silent: no output that could end the child by SIGPIPE
	s := startPtySupervisor(t, g, ptyOptions{underShell: true, env: []string{envTestPanic + "=1"}})
	before := s.termios()

	if code := s.shellReportedExit(); code != "2" ||
		!strings.Contains(s.out.String(), "panic: test: panic in Run") {
		t.Fatalf("the supervisor did not die of the panic; pty output:\n%s", s.out.String())
	}
	sameTerminal(t, s.termios(), before)
	waitClosed(t, "the child to be killed and its connection to end", g.ended)
}

func TestAClosedStdoutEndsTheSessionWithoutKillingTheSupervisor(t *testing.T) {
	g := newFakeGateway(t)
	lineShell(g)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR.Close() // as after "breakglass open ... | head -1"
	defer outW.Close()
	s := startPtySupervisor(t, g, ptyOptions{stdout: outW})
	before := s.termios()

	// Without SIGPIPE caught, the first write to fd 1 kills the supervisor,
	// and finish fails.
	res := s.finish()

	if res.ExitCode != 128+int(syscall.SIGTERM) || !strings.Contains(res.Err, "write session output") {
		t.Errorf("Run = %+v, want the child asked to end and a write error", res)
	}
	sameTerminal(t, s.termios(), before)
}

func TestCtrlCEndsAConnectThatHangs(t *testing.T) {
	g := newFakeGateway(t)
	g.noHandshake = true
	s := startPtySupervisor(t, g, ptyOptions{underShell: true})
	before := s.termios()
	waitFor(t, "the child to connect", func() bool { return g.connections() == 1 })

	// Until the plugin takes them over, Ctrl-Z would stop the child (and
	// with it the supervisor's wait) and Ctrl-\ would kill it; Ctrl-C must
	// still end it.
	var child int
	waitFor(t, "the session child's process", func() bool {
		for _, sup := range childProcesses(t, s.cmd.Process.Pid) {
			if kids := childProcesses(t, sup); len(kids) == 1 {
				child = kids[0]
			}
		}
		return child != 0
	})
	ignored := ignoredSignals(t, child)
	stopSignals := map[string]syscall.Signal{"SIGTSTP": syscall.SIGTSTP, "SIGQUIT": syscall.SIGQUIT}
	for name, sig := range stopSignals {
		if ignored&(1<<(sig-1)) == 0 {
			t.Errorf("the child does not ignore %s before the session starts", name)
		}
	}
	if ignored&(1<<(syscall.SIGINT-1)) != 0 {
		t.Errorf("the child ignores SIGINT: Ctrl-C cannot end a connect that hangs")
	}

	s.write("\x03")
	res := s.finish()

	if want := (supervisorResult{ExitCode: 128 + int(syscall.SIGINT)}); res != want {
		t.Errorf("Run = %+v, want %+v (the child ended by Ctrl-C, the supervisor alive)", res, want)
	}
	sameTerminal(t, s.termios(), before)
}

// childProcesses lists the processes whose parent is pid.
func childProcesses(t *testing.T, pid int) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			kid, _ := strconv.Atoi(strings.Fields(string(b))[0])
			kids = append(kids, kid)
		}
	}
	return kids
}

// ignoredSignals returns the SigIgn mask of process pid.
func ignoredSignals(t *testing.T, pid int) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return mask
		}
	}
	t.Fatalf("no SigIgn in /proc/%d/status", pid)
	return 0
}
