package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/exec"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

func TestExitCodes(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("open: %w", err) }
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"success is 0", nil, exitOK},
		{"an unclassified error is 1", errors.New("boom"), exitError},
		{"a usage error is 2", &usageError{msg: "x"}, exitUsage},
		{"a bad name is 2", &naming.Error{Field: "environment"}, exitUsage},
		{"no terminal for a shell is 2", exec.ErrNoTerminal, exitUsage},
		{"a missing cluster is 3", &ecs.Error{Kind: ecs.KindClusterNotFound}, exitNotFound},
		{"a missing service is 3", wrap(&ecs.Error{Kind: ecs.KindServiceNotFound}), exitNotFound},
		{"a missing container is 3", &ecs.Error{Kind: ecs.KindContainerNotFound}, exitNotFound},
		{"an ordinary service is 4", &ecs.Error{Kind: ecs.KindNotBreakglass}, exitRefused},
		{"exec disabled is 4", &ecs.Error{Kind: ecs.KindExecDisabled}, exitRefused},
		{"an inactive service is 4", &ecs.Error{Kind: ecs.KindInactive}, exitRefused},
		{"access denied is 5", &ecs.Error{Kind: ecs.KindAccessDenied}, exitAccess},
		{"bad credentials are 5", &ecs.Error{Kind: ecs.KindCredentials}, exitAccess},
		{"no region is 5", &awsConfigError{msg: "no region"}, exitAccess},
		{"a task that stopped while waiting is 6", &ecs.Error{Kind: ecs.KindTaskStopped}, exitNotReady},
		{"a wait that ran out is 6", &ecs.Error{Kind: ecs.KindTimeout}, exitNotReady},
		{"a lost session is 7", &sessionError{msg: "x"}, exitSessionLost},
		{"a failed cleanup is 8", &cleanupError{err: errors.New("x")}, exitCleanupFail},
		{"a failed cleanup outranks the interrupt", &cleanupError{err: &signalError{sig: syscall.SIGINT}}, exitCleanupFail},
		{"Ctrl-C is 130", &signalError{sig: syscall.SIGINT}, exitInterrupted},
		{"SIGTERM is 143", &signalError{sig: syscall.SIGTERM}, 143},
		{"SIGHUP is 129", &signalError{sig: syscall.SIGHUP}, 129},
		{"a cancelled context is 130", context.Canceled, exitInterrupted},
		{"an endpoint that does not answer is 1, not a wait that ran out", &noAnswerError{msg: "x"}, exitError},
		{"a sandbox child's code passes through", &childExitError{code: 42}, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err); got != tt.want {
				t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestIsShell(t *testing.T) {
	tests := []struct {
		command string
		want    bool
	}{
		{"/bin/sh", true},
		{"bash", true},
		{"/usr/bin/zsh", true},
		{"sh -c ls", false},
		{"ls -la /mnt/efs", false},
		{"cat", false},
	}
	for _, tt := range tests {
		if got := isShell(tt.command); got != tt.want {
			t.Errorf("isShell(%q) = %v, want %v", tt.command, got, tt.want)
		}
	}
}
