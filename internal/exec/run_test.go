//go:build unix

package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
)

// pipeRun is one Run on pipes, as from a script: no terminal anywhere.
type pipeRun struct {
	t       *testing.T
	g       *fakeGateway
	stdin   *os.File // Run's stdin; the test's end is closed at once
	out     ptytest.SyncBuffer
	outDone chan struct{}
	stderr  *os.File
	stdout  *os.File // Run's stdout
}

func newPipeRun(t *testing.T, g *fakeGateway) *pipeRun {
	t.Helper()
	r := &pipeRun{t: t, g: g, outDone: make(chan struct{})}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	inW.Close() // stdin ends before the session even starts
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = io.Copy(&r.out, outR)
		close(r.outDone)
	}()
	r.stderr, err = os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	r.stdin, r.stdout = inR, outW
	t.Cleanup(func() {
		inR.Close()
		outW.Close()
		outR.Close()
		r.stderr.Close()
	})
	return r
}

func (r *pipeRun) options(extraEnv ...string) Options {
	return Options{Stdin: r.stdin, Stdout: r.stdout, Stderr: r.stderr, Executable: os.Args[0],
		Env: hermeticEnv(r.t, extraEnv...)}
}

func (r *pipeRun) params(id string) Params {
	return Params{SessionJSON: r.g.sessionJSON(id), SessionID: id, Target: "ecs:c_t_r",
		Region: "us-east-1", SSMEndpoint: "http://127.0.0.1:1"}
}

// output closes Run's stdout and returns everything that reached it.
func (r *pipeRun) output() string {
	r.t.Helper()
	r.stdout.Close()
	waitClosed(r.t, "the end of the session output", r.outDone)
	return r.out.String()
}

func (r *pipeRun) childStderr() string {
	b, _ := os.ReadFile(r.stderr.Name())
	return string(b)
}

func TestRunOneShotOutputArrivesCompleteWithoutBanners(t *testing.T) {
	g := newFakeGateway(t)
	var want strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&want, "line %04d of the remote output\r\n", i)
	}
	g.onReady = func(c *gatewayConn) {
		for s := want.String(); len(s) > 0; {
			n := min(len(s), 3000)
			c.output(s[:n])
			s = s[n:]
		}
		c.closeChannel()
	}
	r := newPipeRun(t, g)

	res, err := Run(context.Background(), r.params("sess-oneshot"), r.options())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := r.output()

	if res != (Result{}) {
		t.Errorf("Run = %+v, want a zero Result (normal end); child stderr:\n%s", res, r.childStderr())
	}
	if got != want.String() {
		t.Errorf("stdout has %d bytes, want exactly the %d bytes of remote output;\nstart %q\nend %q",
			len(got), want.Len(), got[:min(len(got), 80)], got[max(0, len(got)-80):])
	}
}

func TestRunContextCancelEndsTheChild(t *testing.T) {
	tests := []struct {
		name       string
		ignoreTerm string
		wantExit   int
	}{
		{"a canceled context ends the child with SIGTERM",
			"0", 128 + int(syscall.SIGTERM)},
		{"a child that ignores SIGTERM is killed after the grace period",
			"1", 128 + int(syscall.SIGKILL)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.onReady = func(c *gatewayConn) { c.output("ready\n") }
			r := newPipeRun(t, g)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				waitFor(t, "the remote output", func() bool {
					return strings.Contains(r.out.String(), "ready\n")
				})
				cancel()
			}()

			o := r.options(envTestIgnoreTerm + "=" + tc.ignoreTerm)
			o.Grace = 200e6
			res, err := Run(ctx, r.params("sess-cancel"), o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}

			want := Result{ExitCode: tc.wantExit, Canceled: true}
			if res != want {
				t.Errorf("Run = %+v, want %+v; child stderr:\n%s", res, want, r.childStderr())
			}
			if got := r.output(); got != "ready\n" {
				t.Errorf("stdout = %q, want %q", got, "ready\n")
			}
		})
	}
}

func TestRunPassesOnTheExitCodeOfAFailedSession(t *testing.T) {
	g := newFakeGateway(t)
	g.sessionType = "NoSuchSessionType" // the plugin gives up after the handshake
	r := newPipeRun(t, g)

	res, err := Run(context.Background(), r.params("sess-fail"), r.options())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if res != (Result{ExitCode: exitChildFailed}) {
		t.Errorf("Run = %+v, want exit code %d", res, exitChildFailed)
	}
	want := "breakglass: session: Cannot perform start session: unable to determine SessionType"
	if !strings.Contains(r.childStderr(), want) {
		t.Errorf("child stderr = %q, want it to contain %q", r.childStderr(), want)
	}
	if got := r.output(); got != "" {
		t.Errorf("stdout = %q, want nothing (the banner removed)", got)
	}
}

func TestRunRefusesAnInteractiveSessionWithoutATerminal(t *testing.T) {
	g := newFakeGateway(t)
	r := newPipeRun(t, g)
	p := r.params("sess-noterm")
	p.Interactive = true

	_, err := Run(context.Background(), p, r.options())

	if !errors.Is(err, ErrNoTerminal) {
		t.Fatalf("Run error = %v, want ErrNoTerminal", err)
	}
	var h interface{ Hint() string }
	if !errors.As(err, &h) || !strings.Contains(h.Hint(), "--command") {
		t.Errorf("error has no hint naming --command")
	}
	if n := g.connections(); n != 0 {
		t.Errorf("the gateway saw %d connections, want none: no child may be started", n)
	}
}

func TestRunRejectsAMalformedSessionBeforeStartingAnything(t *testing.T) {
	tests := []struct {
		name    string
		session string
		want    string
	}{
		{"a response that is not JSON", `{"sessionId":`, "parse session response"},
		{"a response without a token",
			`{"sessionId":"s","streamUrl":"ws://127.0.0.1:1/"}`, "tokenValue is missing"},
		{"a response with an empty stream URL",
			`{"sessionId":"s","streamUrl":"","tokenValue":"secret-tok"}`, "streamUrl is missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newPipeRun(t, newFakeGateway(t))
			o := r.options()
			o.Executable = filepath.Join(t.TempDir(), "must-not-run")

			_, err := Run(context.Background(), Params{SessionJSON: []byte(tc.session)}, o)

			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run error = %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-tok") {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
}

func TestRunEndsTheSessionWhenStdoutIsGone(t *testing.T) {
	g := newFakeGateway(t)
	g.onReady = func(c *gatewayConn) { c.output("nobody reads this\n") }
	r := newPipeRun(t, g)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR.Close()
	defer outW.Close()
	o := r.options()
	o.Stdout = outW

	res, err := Run(context.Background(), r.params("sess-epipe"), o)

	if err == nil || !strings.Contains(err.Error(), "write session output") {
		t.Fatalf("Run error = %v, want a write error", err)
	}
	if want := 128 + int(syscall.SIGTERM); res.ExitCode != want {
		t.Errorf("exit code = %d, want %d (the child asked to end)", res.ExitCode, want)
	}
}

func TestRunNeverHandsTheChildAnIgnoredSIGINT(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the child's signal dispositions")
	}
	// As if started from a shell that ignores SIGINT (nohup, cmd &).
	signal.Ignore(syscall.SIGINT)
	t.Cleanup(func() { signal.Reset(syscall.SIGINT) })

	g := newFakeGateway(t)
	g.onReady = func(c *gatewayConn) { c.closeChannel() }
	r := newPipeRun(t, g)
	sigIgn := filepath.Join(t.TempDir(), "sigign")

	o := r.options(envTestSigIgnFile + "=" + sigIgn)
	res, err := Run(context.Background(), r.params("sess-sigint"), o)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v; child stderr:\n%s", res, err, r.childStderr())
	}

	b, err := os.ReadFile(sigIgn)
	if err != nil {
		t.Fatalf("the child did not record its ignored signals: %v", err)
	}
	mask, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 16, 64)
	if err != nil {
		t.Fatalf("parse SigIgn %q: %v", b, err)
	}
	if mask&(1<<(syscall.SIGINT-1)) != 0 {
		t.Errorf("the child started with SIGINT ignored (SigIgn %s): "+
			"Ctrl-C could not end a connect that hangs", b)
	}
}
