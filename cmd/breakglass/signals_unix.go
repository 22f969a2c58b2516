//go:build !windows

package main

import (
	"os"
	"syscall"
)

// interruptSignals end a wait; during a session internal/exec takes them
// over. Ctrl-\ counts as an interrupt here: its default action, a goroutine
// dump, would leave the service open.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// suspendSignals are refused while breakglass holds a service open outside
// a session: a stopped process could not put the service back.
var suspendSignals = []os.Signal{syscall.SIGTSTP}

// pipeSignals are caught for the life of the process, so that a closed
// stdout or stderr (breakglass ... | head) makes writes fail instead of
// killing the process before it has put the service back.
var pipeSignals = []os.Signal{syscall.SIGPIPE}
