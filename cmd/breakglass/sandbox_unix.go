//go:build !windows

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/naming"
	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

const defaultSandboxAddr = "127.0.0.1:4566"

func runSandbox(cmd *cobra.Command, ios *IOStreams, o *sandboxOptions, args []string) error {
	cfg := sandbox.Defaults()
	cfg.Addr = o.addr
	if cfg.Addr == "" && len(args) == 0 {
		cfg.Addr = defaultSandboxAddr
	}
	cfg.EFSDir = o.efsDir
	cfg.StartDelay = o.startDelay
	cfg.AgentDelay = o.agentDelay
	cfg.ConnectDelay = o.connectDelay
	if *o.verbose {
		cfg.Log = ios.Err
	}
	for _, d := range []struct {
		name  string
		value int64
	}{{"--start-delay", int64(o.startDelay)}, {"--agent-delay", int64(o.agentDelay)}, {"--connect-delay", int64(o.connectDelay)}} {
		if d.value < 0 {
			return &usageError{msg: d.name + " must not be negative", hint: "for example " + d.name + " 2s"}
		}
	}

	sb, err := sandbox.New(cfg)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("start the sandbox: %v", err),
			hint: "choose another --addr on 127.0.0.1, or stop what is using the port"}
	}
	defer sb.Close()

	if len(args) == 0 {
		return serveSandbox(cmd.Context(), ios, sb)
	}
	return runAgainstSandbox(ios, sb, args)
}

func serveSandbox(ctx context.Context, ios *IOStreams, sb *sandbox.Server) error {
	for _, line := range sb.Exports() {
		fmt.Fprintln(ios.Out, line)
	}
	ios.Printf("sandbox serving on %s, EFS root %s", sb.URL(), sb.EFSDir())
	ios.Printf("paste the export lines above into another terminal, then: breakglass open DEMO EFS-Util")
	ios.Printf("interrupt (Ctrl-C) to stop")

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	<-ctx.Done()
	ios.Infof("sandbox stopped")
	return nil
}

// runAgainstSandbox runs this binary with args against sb and returns an
// error carrying its exit code. The child shares the terminal and process
// group, so terminal signals reach it directly; this process only stays
// alive for it, since the child's cleanup calls still need the sandbox.
func runAgainstSandbox(ios *IOStreams, sb *sandbox.Server, args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the breakglass executable: %w", err)
	}
	child := osexec.Command(self, args...)
	child.Stdin, child.Stdout, child.Stderr = ios.In, ios.Out, ios.Err
	child.Env = append(sandboxBaseEnv(os.Environ()), sb.Env()...)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGQUIT, syscall.SIGTSTP, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	if err := child.Start(); err != nil {
		return fmt.Errorf("start breakglass %s: %w", strings.Join(args, " "), err)
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM || sig == syscall.SIGHUP {
				_ = child.Process.Signal(sig)
			}
		case err := <-done:
			return childExit(err)
		}
	}
}

// sandboxBaseEnv drops the variables that would point the child at a real
// account or a profile the sandbox does not know, or rename what the sandbox
// seeded under the default project.
func sandboxBaseEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AWS_") || name == naming.ProjectEnv {
			continue
		}
		out = append(out, kv)
	}
	// The user's shared config could name SSO or credential processes, or
	// endpoints, that have no place in a sandbox run; breakglass's own
	// config file could send an environment to a real profile.
	return append(out, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		configEnv+"="+os.DevNull)
}

func childExit(err error) error {
	if err == nil {
		return nil
	}
	var ee *osexec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &childExitError{code: exitSignalOffset + int(ws.Signal())}
		}
		return &childExitError{code: ee.ExitCode()}
	}
	return err
}
