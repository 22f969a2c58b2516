//go:build unix

package sandbox

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	plugin "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	_ "github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"

	"github.com/breakglass-dev/breakglass/internal/ptytest"
)

// The plugin ends every session with os.Exit, so it runs in a child: this
// test binary again, selected by pluginChildEnv, in a pseudo-terminal.
const (
	pluginChildEnv    = "BREAKGLASS_SANDBOX_PLUGIN_CHILD"
	pluginResponseEnv = "AWS_SSM_START_SESSION_RESPONSE_SANDBOX_TEST"
	pluginSSMEnv      = "BREAKGLASS_SANDBOX_TEST_SSM_ENDPOINT"
	pluginTargetEnv   = "BREAKGLASS_SANDBOX_TEST_TARGET"
)

// TestPluginChild is not a test: it is the plugin process of
// TestPluginOpensAShellInTheEFSRoot, called as the AWS CLI calls the
// session-manager-plugin binary.
func TestPluginChild(t *testing.T) {
	if os.Getenv(pluginChildEnv) != "1" {
		t.Skip("the plugin child of TestPluginOpensAShellInTheEFSRoot")
	}
	target, _ := json.Marshal(map[string]string{"Target": os.Getenv(pluginTargetEnv)})
	plugin.ValidateInputAndStartSession([]string{"session-manager-plugin", pluginResponseEnv,
		"us-east-1", "StartSession", "", string(target), os.Getenv(pluginSSMEnv)}, os.Stdout)
	os.Exit(3) // it returned: the session did not start
}

// openPlugin scales the breakglass service up, execs into its task and
// hands the answer to the real plugin library, with the sandbox as its SSM
// endpoint, in a child on a pseudo-terminal.
func openPlugin(t *testing.T, s *Server) (term *ptyProc, taskID, sessionID string, connectable Mark) {
	t.Helper()
	c := sdk(t, s)
	taskID, connectable, res := execShell(t, s, c)
	task := describeTask(t, c, taskID)
	target := "ecs:" + demoCluster + "_" + taskID + "_" + aws.ToString(task.Containers[0].RuntimeId)

	session, _ := json.Marshal(res.Session)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPluginChild$")
	cmd.Env = append(os.Environ(), // hermetic: start has set the AWS variables
		pluginChildEnv+"=1",
		pluginResponseEnv+"="+string(session),
		pluginSSMEnv+"="+s.URL(),
		pluginTargetEnv+"="+target,
		// The plugin has data races; under -race they would fail the child
		// with exit code 66.
		"GORACE=exitcode=0 log_path="+filepath.Join(t.TempDir(), "race"),
	)
	term = startInPTY(t, cmd)
	sessionID = aws.ToString(res.Session.SessionId)
	term.waitFor("Starting session with SessionId: " + sessionID)
	return term, taskID, sessionID, connectable
}

// TestPluginOpensAShellInTheEFSRoot runs the whole exec path with the real
// plugin: a shell in the EFS folder, ended by exit.
func TestPluginOpensAShellInTheEFSRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a plugin session in a child process")
	}
	s := start(t, fastConfig())
	term, id, sid, connectable := openPlugin(t, s)

	term.Type("pwd; ls\r")
	term.waitFor(s.EFSDir())
	term.waitFor("rabbitmq")
	term.Type("exit\r")
	term.waitFor("Exiting session with sessionId: " + sid)
	if code := term.ExitCode(); code != 0 {
		t.Errorf("plugin exit code = %d, want 0", code)
	}

	first := waitMark(t, s, Mark{Kind: MarkSession, TaskID: id, Detail: "first-output"})
	if !first.At.After(connectable.At) {
		t.Errorf("first output at %v, not after connectable at %v", first.At, connectable.At)
	}
}

// TestPluginEndsWhenTheTaskDies drops the session under the plugin: it asks
// the sandbox's SSM endpoint to resume, gets no token and ends.
func TestPluginEndsWhenTheTaskDies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a plugin session in a child process")
	}
	s := start(t, fastConfig())
	term, id, sid, _ := openPlugin(t, s)
	waitMark(t, s, Mark{Kind: MarkSession, SessionID: sid, Detail: "ready"})

	if err := s.StopTaskNow(demoCluster, id, ""); err != nil {
		t.Fatal(err)
	}
	term.waitFor("Session: " + sid + " timed out.")
	if code := term.ExitCode(); code != 0 {
		t.Errorf("plugin exit code = %d, want 0", code)
	}
	resumes := 0
	for _, m := range s.Marks() {
		if m.Kind == MarkAPICall && m.Detail == "ResumeSession" && m.SessionID == sid {
			resumes++
		}
	}
	if resumes == 0 {
		t.Errorf("the plugin never called ResumeSession")
	}
}

// ptyProc is a child process on a pseudo-terminal, with everything it
// printed.
type ptyProc struct {
	*ptytest.Term
	t *testing.T
}

func startInPTY(t *testing.T, cmd *exec.Cmd) *ptyProc {
	t.Helper()
	return &ptyProc{Term: ptytest.Start(t, cmd), t: t}
}

func (p *ptyProc) waitFor(want string) {
	p.t.Helper()
	waitFor(p.t, want+" on the terminal", func() bool { return strings.Contains(p.Output(), want) })
}
