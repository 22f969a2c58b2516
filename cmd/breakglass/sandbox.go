package main

import (
	"time"

	"github.com/spf13/cobra"
)

type sandboxOptions struct {
	addr         string
	efsDir       string
	startDelay   time.Duration
	agentDelay   time.Duration
	connectDelay time.Duration
	verbose      *bool
}

func newSandboxCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &sandboxOptions{verbose: &g.verbose}
	cmd := &cobra.Command{
		Use:   "sandbox [-- COMMAND ARGS...]",
		Short: "Run a local stand-in for AWS, or run one breakglass command against a fresh one",
		Long: `sandbox serves a local stand-in for the AWS side of breakglass on 127.0.0.1:
the ECS API, the SSM session API and the Session Manager data channel, with a
real /bin/sh in a pseudo-terminal behind it, working in a folder that stands
for the EFS root (seeded with mysql/data and rabbitmq/data).

It is seeded with the cluster breakglass-ECS-DEMO holding the breakglass
service EFS-Util (desired 0), an ordinary service App with running tasks (to
see breakglass refuse it) and a breakglass service NoExec without ECS Exec.

Without arguments it prints the export lines for a second terminal and serves
until interrupted. With -- and a breakglass command, it starts a fresh sandbox
on a free port, runs that command against it, and exits with its exit code.

The sandbox is reached only through the standard AWS variables
(AWS_ENDPOINT_URL and friends); no command has a special path for it.
With --verbose it logs each API call it serves.`,
		Example: `  breakglass sandbox -- open DEMO EFS-Util
  breakglass sandbox -- status
  breakglass sandbox --addr 127.0.0.1:4566 --start-delay 10s`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dash := cmd.ArgsLenAtDash(); dash != 0 && len(args) > 0 {
				return &usageError{
					msg:  "unexpected arguments before --: " + args[0],
					hint: "put the breakglass command after --, e.g. breakglass sandbox -- open DEMO EFS-Util",
				}
			}
			return runSandbox(cmd, ios, o, args)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "", "listen address, loopback only (default 127.0.0.1:4566; a free port with --)")
	f.StringVar(&o.efsDir, "efs-dir", "", "folder standing for the EFS root (default: a fresh seeded temporary folder)")
	f.DurationVar(&o.startDelay, "start-delay", 3*time.Second, "time from desired count 1 to the task RUNNING")
	f.DurationVar(&o.agentDelay, "agent-delay", 1*time.Second, "time from task RUNNING to the exec agent RUNNING")
	f.DurationVar(&o.connectDelay, "connect-delay", 1*time.Second, "time from exec agent RUNNING to connectable")
	return cmd
}
