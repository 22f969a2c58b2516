//go:build !windows

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ecssdk "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

// binPath is the breakglass binary the end-to-end tests drive, built once
// by TestMain from this package.
var binPath string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "breakglass-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	binPath = filepath.Join(dir, "breakglass")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := osexec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build breakglass:", err)
		return 1
	}
	return m.Run()
}

// fastSandbox starts a sandbox with short delays, closed with the test.
func fastSandbox(t testing.TB, tweak ...func(*sandbox.Config)) *sandbox.Server {
	t.Helper()
	cfg := sandbox.Defaults()
	cfg.Addr = ""
	cfg.StartDelay = 300 * time.Millisecond
	cfg.AgentDelay = 100 * time.Millisecond
	cfg.ConnectDelay = 200 * time.Millisecond
	cfg.StopDelay = 200 * time.Millisecond
	for _, f := range tweak {
		f(&cfg)
	}
	sb, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	return sb
}

// hermeticEnv is an environment that can reach nothing but sb: no user
// config, no profile, no instance metadata.
func hermeticEnv(t testing.TB, sb *sandbox.Server) []string {
	t.Helper()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	credFile := filepath.Join(dir, "credentials")
	for _, f := range []string{cfgFile, credFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TERM=xterm",
		"AWS_CONFIG_FILE=" + cfgFile,
		"AWS_SHARED_CREDENTIALS_FILE=" + credFile,
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if sb != nil {
		env = append(env, sb.Env()...)
	}
	return env
}

// withoutEnv drops the named variables from env.
func withoutEnv(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || name == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// ptyProc is breakglass running on a real pseudo-terminal, as an operator
// would run it: session leader, the pty its controlling terminal.
type ptyProc struct {
	t    testing.TB
	cmd  *osexec.Cmd
	ptm  *os.File // master: what the operator's terminal emulator holds
	tty  *os.File // slave, kept open to read the terminal state after exit
	done chan struct{}
	err  error

	mu     sync.Mutex
	out    bytes.Buffer
	reads  []readAt // when each chunk of output arrived
	notify chan struct{}
}

type readAt struct {
	at  time.Time
	off int
}

func startPTY(t testing.TB, env []string, args ...string) *ptyProc {
	t.Helper()
	return startPTYCommand(t, env, osexec.Command(binPath, args...))
}

// startPTYCommand runs cmd on a new pty as startPTY does.
func startPTYCommand(t testing.TB, env []string, cmd *osexec.Cmd) *ptyProc {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptm, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	p := &ptyProc{t: t, cmd: cmd, ptm: ptm, tty: tty, done: make(chan struct{}), notify: make(chan struct{}, 1)}
	go p.read()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		ptm.Close()
		tty.Close()
		if t.Failed() {
			t.Logf("terminal output:\n%s", p.output())
		}
	})
	return p
}

func (p *ptyProc) read() {
	buf := make([]byte, 4096)
	for {
		n, err := p.ptm.Read(buf)
		if n > 0 {
			p.mu.Lock()
			p.reads = append(p.reads, readAt{at: time.Now(), off: p.out.Len()})
			p.out.Write(buf[:n])
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *ptyProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// expect waits until the output from offset from on contains s and returns
// the offset just past it.
func (p *ptyProc) expect(from int, s string, timeout time.Duration) int {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		out := p.output()
		if from <= len(out) {
			if i := strings.Index(out[from:], s); i >= 0 {
				return from + i + len(s)
			}
		}
		select {
		case <-p.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("timed out after %v waiting for %q", timeout, s)
		}
	}
}

// arrival returns when the byte at offset off arrived.
func (p *ptyProc) arrival(off int) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var at time.Time
	for _, r := range p.reads {
		if r.off > off {
			break
		}
		at = r.at
	}
	return at
}

// settle waits until the output has been quiet for a moment: the test holds
// the terminal open, so the reader never sees an end of the output.
func (p *ptyProc) settle() {
	n := -1
	for i := 0; i < 40 && n != len(p.output()); i++ {
		n = len(p.output())
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *ptyProc) send(s string) {
	p.t.Helper()
	if _, err := p.ptm.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

// wait waits for the process to exit and returns its exit code (128+n if a
// signal killed it).
func (p *ptyProc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("breakglass still running after %v", timeout)
	}
	p.settle()
	return exitCodeOf(p.err)
}

func exitCodeOf(err error) int {
	var ee *osexec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// assertCookedTerminal fails unless the terminal is back in the line mode a
// shell expects: the plugin leaves it without ICANON (and sometimes ECHO).
func (p *ptyProc) assertCookedTerminal() {
	p.t.Helper()
	tio, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
	if err != nil {
		p.t.Fatal(err)
	}
	if tio.Lflag&unix.ICANON == 0 || tio.Lflag&unix.ECHO == 0 {
		p.t.Errorf("terminal not restored: ICANON=%v ECHO=%v",
			tio.Lflag&unix.ICANON != 0, tio.Lflag&unix.ECHO != 0)
	}
}

// runPlain runs breakglass without a terminal and returns stdout, stderr
// and the exit code.
func runPlain(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := osexec.CommandContext(ctx, binPath, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), exitCodeOf(err)
}

// ecsOf returns a real SDK client pointed at sb, to check what breakglass
// left behind.
func ecsOf(sb *sandbox.Server) *ecssdk.Client {
	return ecssdk.New(ecssdk.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(sb.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// desiredCount returns the service's desired count as the SDK sees it.
func desiredCount(t testing.TB, sb *sandbox.Server, cluster, service string) int32 {
	t.Helper()
	out, err := ecsOf(sb).DescribeServices(context.Background(), &ecssdk.DescribeServicesInput{
		Cluster:  aws.String(cluster),
		Services: []string{service},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("service %s not found: %+v", service, out.Failures)
	}
	return out.Services[0].DesiredCount
}

// updateServiceCalls counts the UpdateService calls the sandbox served.
func updateServiceCalls(sb *sandbox.Server) int {
	n := 0
	for _, m := range sb.Marks() {
		if m.Kind == sandbox.MarkAPICall && m.Detail == "UpdateService" {
			n++
		}
	}
	return n
}
