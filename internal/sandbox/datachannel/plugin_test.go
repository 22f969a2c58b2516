//go:build unix

package datachannel

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	plugin "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"
	"github.com/creack/pty"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
)

// The plugin ends a session with os.Exit and writes straight to os.Stdout
// (reference §5.4), so these tests run it in a child process: this test
// binary again, selected by helperEnv, in a pseudo-terminal of its own.
const (
	helperEnv      = "BREAKGLASS_DATACHANNEL_PLUGIN_HELPER"
	responseEnv    = "AWS_SSM_START_SESSION_RESPONSE_BREAKGLASS_TEST"
	ssmEndpointEnv = "BREAKGLASS_DATACHANNEL_TEST_SSM_ENDPOINT"
)

// TestHelperPluginProcess is not a test: it is the plugin's child process,
// started by startPlugin. It calls the plugin library as the AWS CLI would
// call the session-manager-plugin binary (reference §1.1).
func TestHelperPluginProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("the plugin child process of the other tests")
	}
	args := []string{
		"session-manager-plugin",
		responseEnv, // the plugin reads the response JSON from this variable
		"us-east-1",
		"StartSession",
		"",
		`{"Target":"ecs:breakglass-ECS-DEMO_0123456789abcdef_0123456789abcdef-1234567890"}`,
		os.Getenv(ssmEndpointEnv),
	}
	plugin.ValidateInputAndStartSession(args, os.Stdout)
	os.Exit(3) // it returned: the session failed to start
}

// pluginProc is a running plugin child and the terminal it runs in.
type pluginProc struct {
	*ptytest.Term
	t *testing.T
}

// startPlugin starts the plugin for sess in a 120x40 terminal, presenting
// token. ssmURL is the plugin's SSM endpoint (args[6]); "" means a closed
// loopback port, so nothing can reach AWS.
func startPlugin(t *testing.T, f *fixture, sess Session, token, ssmURL string) *pluginProc {
	t.Helper()
	if ssmURL == "" {
		ssmURL = "http://127.0.0.1:1"
	}
	resp, _ := json.Marshal(map[string]string{
		"sessionId": sess.ID, "streamUrl": f.streamURL(sess.ID), "tokenValue": token,
	})
	tmp := t.TempDir()
	for _, name := range []string{"config", "credentials"} {
		if err := os.WriteFile(filepath.Join(tmp, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperPluginProcess$")
	cmd.Env = append(hermeticEnv(),
		helperEnv+"=1",
		responseEnv+"="+string(resp),
		ssmEndpointEnv+"="+ssmURL,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID=test",
		"AWS_SECRET_ACCESS_KEY=test",
		"AWS_CONFIG_FILE="+filepath.Join(tmp, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(tmp, "credentials"),
		// The plugin has data races; under -race they would fail the child
		// with exit code 66 and fill the terminal (reference P15).
		"GORACE=exitcode=0 log_path="+filepath.Join(tmp, "race"),
	)
	return &pluginProc{Term: ptytest.Start(t, cmd), t: t}
}

// hermeticEnv is the test's environment without AWS settings.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "GORACE=") {
			env = append(env, kv)
		}
	}
	return env
}

// waitFor waits until want appears in the output after position from (a Len)
// and returns the position after it.
func (p *pluginProc) waitFor(from int, want string) int {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		out := p.Output()
		if i := strings.Index(out[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("timed out waiting for %q in the plugin's terminal after %q", want, out[from:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPluginInteractiveShell(t *testing.T) {
	start := time.Now()
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	p := startPlugin(t, f, sess, sess.Token, "")
	p.waitFor(p.waitFor(0, "Starting session with SessionId: "+sess.ID), DefaultPrompt)
	sh := f.proc(sess.ID)

	t.Run("the remote terminal has the client's size", func(t *testing.T) {
		m := p.Len()
		p.Type("stty size\n")
		p.waitFor(m, "40 120")
	})
	t.Run("ls shows the seeded EFS root", func(t *testing.T) {
		m := p.Len()
		p.Type("ls\n")
		p.waitFor(m, "mysql")
		p.waitFor(m, "rabbitmq")
	})
	t.Run("the shell evaluates arithmetic", func(t *testing.T) {
		m := p.Len()
		p.Type("echo $((6*7))\n")
		p.waitFor(m, "42\r")
	})
	t.Run("Ctrl-C interrupts sleep and the shell lives on", func(t *testing.T) {
		p.Type("sleep 30\n")
		eventually(t, "sleep is the foreground job", func() bool { return foreground(t, sh) != sh.pid })
		interrupted := time.Now()
		p.Type("\x03")
		eventually(t, "the shell is back in the foreground", func() bool {
			return foreground(t, sh) == sh.pid
		})
		m := p.Len()
		p.Type("echo alive-$((1+1))\n")
		p.waitFor(m, "alive-2")
		if took := time.Since(interrupted); took > 10*time.Second {
			t.Errorf("sleep 30 ended %v after Ctrl-C; it was not interrupted", took)
		}
		if slices.Contains(f.events.kinds(sess.ID), EventShellExited) {
			t.Errorf("Ctrl-C ended the shell")
		}
	})
	t.Run("a resize reaches the remote terminal", func(t *testing.T) {
		if err := pty.Setsize(p.PTY, &pty.Winsize{Cols: 132, Rows: 50}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the remote pty is 132x50", func() bool {
			cols, rows, err := sh.size()
			return err == nil && cols == 132 && rows == 50
		})
		m := p.Len()
		p.Type("stty size\n")
		p.waitFor(m, "50 132")
	})
	t.Run("exit ends the session cleanly", func(t *testing.T) {
		m := p.Len()
		p.Type("exit\n")
		p.waitFor(m, "Exiting session with sessionId: "+sess.ID)
		if code := p.ExitCode(); code != 0 {
			t.Errorf("plugin exit code %d; want 0", code)
		}
	})

	f.events.wait(t, sess.ID, EventClosed)
	events := f.events.of(sess.ID)
	var kinds []EventKind
	for i, e := range events {
		kinds = append(kinds, e.Kind)
		if e.At.Before(start) || e.At.After(time.Now()) {
			t.Errorf("event %s at %v is outside the test", e.Kind, e.At)
		}
		if i > 0 && e.At.Before(events[i-1].At) {
			t.Errorf("event %s at %v is before the %s before it", e.Kind, e.At, events[i-1].Kind)
		}
	}
	want := []EventKind{EventConnected, EventReady, EventFirstOutput, EventShellExited, EventClosed}
	if !slices.Equal(kinds, want) {
		t.Errorf("events %v; want %v", kinds, want)
	}
	if d := events[len(events)-1].Detail; d != "channel_closed" {
		t.Errorf("closed event detail %q; want channel_closed", d)
	}
}

func TestPluginOneShotCommandOutputArrivesComplete(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("seq 1 2000")
	p := startPlugin(t, f, sess, sess.Token, "")
	if code := p.ExitCode(); code != 0 {
		t.Fatalf("plugin exit code %d; want 0", code)
	}
	out := p.Output()
	begin := strings.Index(out, "Starting session with SessionId: "+sess.ID)
	end := strings.Index(out, "Exiting session with sessionId: "+sess.ID)
	if begin < 0 || end < begin {
		t.Fatalf("no start and exit lines in %q", out)
	}
	got := strings.Fields(out[begin+len("Starting session with SessionId: "+sess.ID) : end])
	for i := range 2000 {
		if i >= len(got) || got[i] != strconv.Itoa(i+1) {
			t.Fatalf("line %d of the output is %q; want %d (got %d lines)",
				i+1, lineAt(got, i), i+1, len(got))
		}
	}
	if len(got) != 2000 {
		t.Errorf("got %d lines; want 2000 (extra: %q)", len(got), got[2000:])
	}
}

func lineAt(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(missing)"
}

func TestPluginDropClosesTheSocketWithoutChannelClosed(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	p := startPlugin(t, f, sess, sess.Token, "")
	p.waitFor(0, DefaultPrompt)
	sh := f.proc(sess.ID)

	f.srv.Drop(sess.ID)
	if e := f.events.wait(t, sess.ID, EventClosed); e.Detail != "dropped" {
		t.Errorf("closed event detail %q; want dropped", e.Detail)
	}
	eventually(t, "the shell is killed", func() bool { return gone(sh.pid) })
	// The plugin now looks for ResumeSession at a closed port and keeps
	// running; give a wrongly sent channel_closed time to show.
	time.Sleep(300 * time.Millisecond)
	if strings.Contains(p.Output(), "Exiting session") {
		t.Errorf("the plugin ended the session as if channel_closed had been sent")
	}
	select {
	case <-p.Done():
		t.Errorf("the plugin exited after Drop: %v", p.Err())
	default:
	}
}

func TestPluginWithABadTokenIsRefused(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	p := startPlugin(t, f, sess, "not-"+sess.Token, "")
	p.waitFor(0, "Starting session with SessionId: "+sess.ID)
	f.events.wait(t, sess.ID, EventRefused)
	if got := f.events.kinds(sess.ID); slices.Contains(got, EventConnected) {
		t.Errorf("events %v; the bad token was accepted", got)
	}
	if strings.Contains(p.Output(), DefaultPrompt) {
		t.Errorf("the plugin got a prompt with a bad token")
	}
}

func TestPluginResumesAfterTheNetworkDrops(t *testing.T) {
	f := newFixture(t, Options{})
	sess := f.add("/bin/sh")
	ssm := fakeSSM(t, f)
	p := startPlugin(t, f, sess, sess.Token, ssm.URL)
	p.waitFor(0, DefaultPrompt)
	m := p.Len()
	p.Type("echo before-$((1+1))\n")
	p.waitFor(m, "before-2")

	s := f.session(sess.ID)
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	c.abort() // as a network failure would; the session lives on

	eventually(t, "the plugin reconnects", func() bool {
		n := 0
		for _, k := range f.events.kinds(sess.ID) {
			if k == EventConnected {
				n++
			}
		}
		return n == 2
	})
	m = p.Len()
	p.Type("echo resumed-$((2+3))\n")
	p.waitFor(m, "resumed-5")
	p.Type("exit\n")
	p.waitFor(m, "Exiting session with sessionId: "+sess.ID)
	if code := p.ExitCode(); code != 0 {
		t.Errorf("plugin exit code %d; want 0", code)
	}
	f.events.wait(t, sess.ID, EventClosed)
	want := []EventKind{EventConnected, EventReady, EventFirstOutput, EventDisconnected,
		EventConnected, EventShellExited, EventClosed}
	if got := f.events.kinds(sess.ID); !slices.Equal(got, want) {
		t.Errorf("events %v; want %v", got, want)
	}
}

// fakeSSM answers the plugin's ResumeSession and TerminateSession calls
// (AWS JSON 1.1, reference §1.8) from f's server.
func fakeSSM(t *testing.T, f *fixture) *httptest.Server {
	t.Helper()
	ssm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ SessionId string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out := map[string]string{"SessionId": in.SessionId}
		switch target := r.Header.Get("X-Amz-Target"); target {
		case "AmazonSSM.ResumeSession":
			if tok, ok := f.srv.Resume(in.SessionId); ok {
				out["TokenValue"] = tok
				out["StreamUrl"] = f.streamURL(in.SessionId)
			}
		case "AmazonSSM.TerminateSession":
			f.srv.Terminate(in.SessionId)
		default:
			http.Error(w, fmt.Sprintf("unexpected operation %q", target), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(ssm.Close)
	return ssm
}
