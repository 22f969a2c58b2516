//go:build unix

package exec

import (
	"os"
	"os/signal"
	"syscall"
)

// discardSignals are caught and dropped while the child runs. The terminal
// sends SIGINT, SIGQUIT and SIGTSTP to its whole foreground process group,
// the child included, whose plugin forwards them to the remote shell as
// bytes. They are caught with signal.Notify, not ignored: an ignored
// disposition would be inherited by the child, which could then not be
// interrupted while it connects. SIGPIPE is caught so that a closed stdout
// reader turns into a write error Run can clean up after, instead of killing
// the supervisor.
var discardSignals = []os.Signal{syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGPIPE}

// forwardSignals are passed on to the child and end the session.
var forwardSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP}

// hangup is the signal after which the terminal may be gone.
var hangup os.Signal = syscall.SIGHUP

// filterStdout tells Run to put the child's stdout on a pipe and remove the
// plugin's banners.
const filterStdout = true

// ignoreStopSignals is the child's protection until the plugin's own signal
// handling starts.
func ignoreStopSignals() {
	signal.Ignore(syscall.SIGTSTP, syscall.SIGQUIT)
}

// forward passes sig on to the child.
func forward(p *os.Process, sig os.Signal) error {
	return p.Signal(sig)
}

// askToEnd asks the child to end; the plugin leaves SIGTERM at its default.
func askToEnd(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}

// exitCode is the child's exit code, or 128+n when signal n killed it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
