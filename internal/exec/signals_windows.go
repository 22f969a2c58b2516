//go:build windows

package exec

import (
	"os"
	"syscall"
)

// discardSignals are caught and dropped while the child runs: the console
// sends Ctrl-C to every process attached to it, the child included.
var discardSignals = []os.Signal{os.Interrupt}

// forwardSignals end the session. Go reports a closed console window, a
// logoff and a shutdown as SIGTERM.
var forwardSignals = []os.Signal{syscall.SIGTERM}

// hangup is the signal after which the terminal may be gone; Windows has none.
var hangup os.Signal = nil

// filterStdout is off on Windows: the plugin enables virtual-terminal
// processing on its own stdout handle, which must therefore be the console.
// The plugin's banners stay in the output there.
const filterStdout = false

// ignoreStopSignals does nothing: Windows has no SIGTSTP or SIGQUIT.
func ignoreStopSignals() {}

// forward ends the child: Windows cannot send a process a signal.
func forward(p *os.Process, _ os.Signal) error {
	return p.Kill()
}

// askToEnd ends the child at once: Windows has no polite request.
func askToEnd(p *os.Process) error {
	return p.Kill()
}

// exitCode is the child's exit code.
func exitCode(ps *os.ProcessState) int {
	return ps.ExitCode()
}
