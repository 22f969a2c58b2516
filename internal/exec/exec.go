// Package exec runs a Session Manager shell session: the supervisor side
// (Run), which owns the terminal state and the signals, and the session child
// (RunChild), which is this same binary re-executed to host the
// session-manager-plugin library. The plugin ends a session with os.Exit(0),
// so it never runs in the process that has to clean up afterwards.
package exec

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// The child's environment. The response variable's name must start with
// AWS_SSM_START_SESSION_RESPONSE: only then does the plugin read the JSON
// from the environment (and unset it) instead of taking args[1] literally.
const (
	envChild    = "BREAKGLASS_SESSION_CHILD"
	envResponse = "AWS_SSM_START_SESSION_RESPONSE_BREAKGLASS"
	envRegion   = "BREAKGLASS_SESSION_REGION"
	envProfile  = "BREAKGLASS_SESSION_PROFILE"
	envEndpoint = "BREAKGLASS_SESSION_SSM_ENDPOINT"
	envTarget   = "BREAKGLASS_SESSION_TARGET"
	// envOrphanHint is what the child tells the operator when it outlives
	// the supervisor, which can then no longer put the service back.
	envOrphanHint = "BREAKGLASS_SESSION_ORPHAN_HINT"

	childMarker = "1"
)

// childVars are the variables Run sets for the child; any inherited values
// of them are dropped from the base environment first.
var childVars = []string{envChild, envResponse, envRegion, envProfile, envEndpoint, envTarget,
	envOrphanHint}

// Params describe one session, as ExecuteCommand returned it.
type Params struct {
	// SessionJSON is the ExecuteCommand session object:
	// {"sessionId","streamUrl","tokenValue"}. It is a secret: Run passes it
	// to the child in the environment, never on argv, and never logs it.
	SessionJSON []byte
	// SessionID names the session in errors; the plugin uses the id in
	// SessionJSON.
	SessionID string
	// Target is the SSM target, "ecs:<cluster>_<taskId>_<runtimeId>".
	Target  string
	Region  string
	Profile string
	// SSMEndpoint is the SSM endpoint URL; "" selects the plugin's default.
	SSMEndpoint string
	// OrphanHint is printed by the child if the supervisor dies first (and
	// so cannot clean up), e.g. the close command to run.
	OrphanHint string
	// Interactive is true for an interactive shell, which needs a terminal
	// on stdin, and false for a one-shot command.
	Interactive bool
}

// Options are the process-level settings of Run. Zero values select the
// defaults.
type Options struct {
	Stdin, Stdout, Stderr *os.File // default os.Stdin, os.Stdout, os.Stderr
	// Executable is the binary started as the session child; its main must
	// call IsChild and RunChild first. Default os.Executable().
	Executable string
	// Grace is how long Run waits after asking the child to end before it
	// kills it; default DefaultGrace.
	Grace time.Duration
	// Env is the base environment of the child; default os.Environ().
	Env []string
	// PlainLines turns the CRLF line ends of the container's terminal into
	// LF, for a one-shot command whose output goes to a file or a pipe. ECS
	// Exec always runs the command on a terminal, which writes "\r\n".
	PlainLines bool
}

// DefaultGrace is how long Run waits after asking the child to end (SIGTERM)
// before it kills it.
const DefaultGrace = 2 * time.Second

// Result is how a session ended.
type Result struct {
	// ExitCode is the child's exit code: 0 when the plugin ended the session
	// normally, non-zero when the session failed, 128+n when the child was
	// killed by signal n (130: Ctrl-C before the plugin took it over, e.g.
	// during a connect that hangs). It is never the remote command's status,
	// which the protocol does not carry.
	ExitCode int
	// Signal is the first SIGTERM or SIGHUP the supervisor received during
	// the session (and forwarded to the child), else nil.
	Signal os.Signal
	// Canceled is true when ctx ended the session, e.g. because the task
	// stopped.
	Canceled bool
	// Lost is true when the plugin gave up on a dropped connection ("Session
	// <id> timed out."): it exits 0 then too, but the shell did not end.
	Lost bool
}

// ErrNoTerminal is returned by Run, before anything is started, when
// Params.Interactive is set but stdin is not a terminal. It has a Hint method.
var ErrNoTerminal error = noTerminalError{}

type noTerminalError struct{}

func (noTerminalError) Error() string {
	return "an interactive shell needs a terminal on stdin"
}

func (noTerminalError) Hint() string {
	return "use --command for a one-shot command, or run from a terminal"
}

// IsChild reports whether this process was started by Run as a session
// child. main calls it first, before parsing the command line, and then
// returns RunChild's exit code.
func IsChild() bool {
	return os.Getenv(envChild) == childMarker
}

// sessionResponse is the part of the ExecuteCommand session the plugin
// dereferences without checking: a missing field is a nil-pointer panic there.
type sessionResponse struct {
	SessionID  *string `json:"sessionId"`
	StreamURL  *string `json:"streamUrl"`
	TokenValue *string `json:"tokenValue"`
}

// parseSessionResponse checks that b has the three fields the plugin needs
// and returns the session id. Errors never quote b: it holds the token.
func parseSessionResponse(b []byte) (string, error) {
	var r sessionResponse
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("parse session response: %w", err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"sessionId", r.SessionID}, {"streamUrl", r.StreamURL}, {"tokenValue", r.TokenValue}} {
		if f.v == nil || *f.v == "" {
			return "", fmt.Errorf("parse session response: %s is missing", f.name)
		}
	}
	return *r.SessionID, nil
}
