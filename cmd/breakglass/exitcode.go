package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/exec"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// Exit codes. They are part of the interface: scripts depend on them, so a
// meaning is never changed or reused. exitCodesHelp documents them.
const (
	exitOK           = 0
	exitError        = 1 // an AWS or internal error not covered below
	exitUsage        = 2 // bad command line, bad name, no terminal for a shell
	exitNotFound     = 3 // cluster, service or container does not exist
	exitRefused      = 4 // not a breakglass service, not active, or exec disabled
	exitAccess       = 5 // no region, no or expired credentials, access denied
	exitNotReady     = 6 // the task stopped or did not connect before --wait
	exitSessionLost  = 7 // the session ended abnormally (the task stopped, the child failed)
	exitCleanupFail  = 8 // the service could not be put back to rest: run breakglass close
	exitInterrupted  = 130
	exitSignalOffset = 128
)

const exitCodesHelp = `Exit codes:
  0    success (the remote command's own exit status is not known: ECS Exec does not carry it)
  1    an AWS or internal error not listed below
  2    bad command line, name or config file, or no terminal for an interactive shell
  3    the cluster, service or container does not exist
  4    refused: not a breakglass service, not ACTIVE, or exec not enabled
  5    AWS access: no region, missing or expired credentials, access denied
  6    not ready: the task stopped or did not connect before --wait ran out
  7    session lost: the task stopped or the session failed while connected
  8    cleanup failed: the service may still be open; run 'breakglass close'
  130  interrupted by Ctrl-C (128+n for signal n: 129 SIGHUP, 143 SIGTERM)`

// usageError is a mistake on the command line.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Hint() string  { return e.hint }

// noAnswerError reports an AWS endpoint that did not answer in time. It
// does not unwrap, so that the timeout inside it is not taken for a wait
// that ran out (exit 6): it exits 1.
type noAnswerError struct {
	msg  string
	hint string
}

func (e *noAnswerError) Error() string { return e.msg }
func (e *noAnswerError) Hint() string  { return e.hint }

// signalError reports that a signal ended the command.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// signalName names a signal the way operators know it.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "Ctrl-C (SIGINT)"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "Ctrl-\\ (SIGQUIT)"
	}
	return sig.String()
}

// cleanupError reports that the service could not be put back to rest. It
// outranks every other failure of the same command in the exit code, because
// it is the one that leaves something open.
type cleanupError struct {
	err      error
	closeCmd string // how to put the service back later
}

func (e *cleanupError) Error() string {
	return fmt.Sprintf("could not put the service back to rest: %v", e.err)
}
func (e *cleanupError) Unwrap() error { return e.err }
func (e *cleanupError) Hint() string {
	return "the service may still be running; run: " + e.closeCmd
}

// sessionError reports a session that ended other than by the shell ending.
type sessionError struct {
	msg  string
	hint string
}

func (e *sessionError) Error() string { return e.msg }
func (e *sessionError) Hint() string  { return e.hint }

// childExitError carries the exit code of a breakglass child process (the
// sandbox's "--" mode) through to Main unchanged; the child has already said
// what went wrong.
type childExitError struct{ code int }

func (e *childExitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// exitCode maps an error to the documented exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}

	var (
		ce  *cleanupError
		se  *signalError
		ue  *usageError
		ne  *naming.Error
		ee  *ecs.Error
		ses *sessionError
		ae  *awsConfigError
	)
	var child *childExitError
	if errors.As(err, &child) {
		return child.code
	}
	switch {
	case errors.As(err, &ce):
		return exitCleanupFail
	case errors.As(err, &se):
		if s, ok := se.sig.(syscall.Signal); ok && s != syscall.SIGINT {
			return exitSignalOffset + int(s)
		}
		return exitInterrupted
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), errors.As(err, &ne), errors.Is(err, exec.ErrNoTerminal):
		return exitUsage
	case errors.As(err, &ses):
		return exitSessionLost
	case errors.As(err, &ae):
		return exitAccess
	case errors.As(err, &ee):
		return ecsExitCode(ee.Kind)
	}
	return exitError
}

func ecsExitCode(k ecs.Kind) int {
	switch k {
	case ecs.KindClusterNotFound, ecs.KindServiceNotFound, ecs.KindContainerNotFound:
		return exitNotFound
	case ecs.KindNotBreakglass, ecs.KindInactive, ecs.KindExecDisabled:
		return exitRefused
	case ecs.KindAccessDenied, ecs.KindCredentials, ecs.KindConfig:
		return exitAccess
	case ecs.KindTaskStopped, ecs.KindTimeout:
		return exitNotReady
	}
	return exitError
}

// printError writes err and its hint, if any, in the user-output format.
func printError(w io.Writer, err error) {
	fmt.Fprintf(w, "breakglass: %v\n", err)
	var h interface{ Hint() string }
	if errors.As(err, &h) && h.Hint() != "" {
		lines := strings.Split(strings.TrimRight(h.Hint(), "\n"), "\n")
		fmt.Fprintf(w, "breakglass: hint: %s\n", lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(w, "breakglass:   %s\n", l)
		}
	}
}
