package exec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session"
	// Registers the Standard_Stream handler; without it the plugin panics on
	// a nil handler once the handshake names the session type.
	"github.com/aws/session-manager-plugin/src/sessionmanagerplugin/session/shellsession"
	"golang.org/x/term"
)

// exitChildFailed is the child's exit code when the plugin returns, which it
// does only when the session failed.
const exitChildFailed = 1

// RunChild is the session child's whole life. It reads its parameters from
// the environment Run prepared, ignores SIGTSTP and SIGQUIT until the plugin
// takes them over, makes the plugin read the terminal size from the terminal
// on stdin or stderr (stdout is Run's pipe), and starts the session. When
// the plugin ends the session it calls os.Exit(0) itself; if it returns, the
// session failed and RunChild returns a non-zero exit code.
func RunChild() int {
	// Before the handshake the plugin has no handlers: Ctrl-Z would stop
	// this process with the supervisor waiting on it, and Ctrl-\ would kill
	// it with a goroutine dump. The plugin's own signal.Notify re-enables
	// both once the shell runs. SIGINT keeps its default, so that Ctrl-C can
	// still end a connect that hangs.
	ignoreStopSignals()

	args, err := childArgs(os.Getenv)
	orphanHint := os.Getenv(envOrphanHint)
	for _, k := range childVars {
		if k != envResponse { // the plugin reads it, then unsets it
			os.Unsetenv(k)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "breakglass: session: %v\n", err)
		return exitChildFailed
	}

	shellsession.GetTerminalSizeCall = terminalSize(int(os.Stdin.Fd()), int(os.Stderr.Fd()))
	go endWithParent(os.Getppid(), saveTerminal(os.Stdin), orphanHint)

	// The plugin writes only its failure texts to out; they are collected
	// and printed in the user-output format once it has returned.
	var out bytes.Buffer
	session.ValidateInputAndStartSession(args, &out)

	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			fmt.Fprintf(os.Stderr, "breakglass: session: %s\n", line)
		}
	}
	return exitChildFailed
}

// parentPoll is how often the child checks that its supervisor still lives.
const parentPoll = 250 * time.Millisecond

// endWithParent ends the child when the supervisor is gone (killed with
// SIGKILL, say). An orphaned child would keep reading the terminal, so the
// operator's next local commands would run as root in the container. The
// child is reparented when its parent dies, which Getppid shows on every
// Unix; the terminal is put back as it was before the plugin changed it.
func endWithParent(parent int, tty *terminal, hint string) {
	for range time.Tick(parentPoll) {
		if os.Getppid() != parent {
			_ = tty.restore()
			fmt.Fprintln(os.Stderr, "\r\nbreakglass: session: the breakglass process that "+
				"started this session is gone; ending it")
			if hint != "" {
				fmt.Fprintf(os.Stderr, "breakglass: hint: %s\n", hint)
			}
			os.Exit(exitChildFailed)
		}
	}
}

// childArgs builds the plugin's command line (reference §1.1) from the
// environment. args[1] is the name of the variable that holds the response,
// so the token never appears on a command line.
func childArgs(getenv func(string) string) ([]string, error) {
	if _, err := parseSessionResponse([]byte(getenv(envResponse))); err != nil {
		return nil, err
	}
	// The plugin asserts that Target is a string without checking.
	req, err := json.Marshal(map[string]string{"Target": getenv(envTarget)})
	if err != nil {
		return nil, fmt.Errorf("encode session target: %w", err)
	}
	return []string{
		"session-manager-plugin",
		envResponse,
		getenv(envRegion),
		"StartSession",
		getenv(envProfile),
		string(req),
		getenv(envEndpoint),
	}, nil
}

// terminalSize returns a replacement for the plugin's size function, which
// reads the size of stdout: in the child that is Run's pipe, so the remote
// would get a fixed 300x100. The first of fds that is a terminal answers; the
// plugin's own fd is the last resort.
func terminalSize(fds ...int) func(fd int) (int, int, error) {
	return func(fd int) (int, int, error) {
		for _, f := range fds {
			if w, h, err := term.GetSize(f); err == nil {
				return w, h, nil
			}
		}
		return term.GetSize(fd)
	}
}
