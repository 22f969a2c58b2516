package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/exec"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	aws        awsFlags
	project    string
	configPath string
	verbose    bool
	quiet      bool

	cfgFile *configFile // loaded on first use; see configuration
}

// Main runs breakglass with args and returns the process exit code. A session
// child (see internal/exec) is recognised first and never reaches Cobra.
func Main(args []string) int {
	if exec.IsChild() {
		return exec.RunChild()
	}

	catchPipeSignals()
	ios := SystemStreams()
	root := newRootCmd(ios)
	root.SetArgs(args)

	err := root.ExecuteContext(context.Background())
	if err != nil {
		var child *childExitError
		if !errors.As(err, &child) {
			printError(ios.Err, err)
		}
	}
	return exitCode(err)
}

func newRootCmd(ios *IOStreams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "breakglass",
		Short: "Emergency shell access to ECS Fargate breakglass services",
		Long: `breakglass opens an interactive shell on an ECS Fargate breakglass service: it
scales the service from 0 to 1, waits until the task's exec agent accepts
connections, opens a shell through ECS Exec, and puts the service back to 0
when the shell ends, however it ends.

AWS settings come from the SDK's usual chain: --profile/AWS_PROFILE,
--region/AWS_REGION, the shared config and SSO, and AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_ECS and AWS_ENDPOINT_URL_SSM for other endpoints.

Names follow the convention <project>-ECS-<ENV> (cluster) and
<project>-<SERVICE>-<ENV> (service); --project or BREAKGLASS_PROJECT sets the
prefix (default "breakglass").

A config file (~/.config/breakglass/config.yaml, or --config) can give each
environment its profile, region and project, so that 'breakglass open PROD
EFS-Util' needs no flags; flags and environment variables still win.
'breakglass config ENV' shows what applies and why.`,
		Example: `  breakglass sandbox -- open DEMO EFS-Util   # try it against a local stand-in for AWS
  breakglass open PROD EFS-Util --profile prod
  breakglass status
  breakglass close PROD EFS-Util
  breakglass config PROD                     # which profile, region and project PROD uses`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// The root runs only to show its help; an argument is a mistyped
		// command, which unknownCommand answers with a usage error.
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			ios.Verbose = g.verbose || os.Getenv("BREAKGLASS_DEBUG") == "1"
			ios.Quiet = g.quiet
			// Profile, region and project are resolved per command, with
			// the environment it names: see settingsFor.
			if g.project != "" || cmd.Flags().Changed("project") {
				return naming.Validate("--project", g.project)
			}
			for _, f := range []string{"profile", "region"} {
				if fl := cmd.Flags().Lookup(f); fl != nil && fl.Changed && fl.Value.String() == "" {
					return &usageError{msg: "--" + f + " is empty", hint: "omit --" + f + " to use the default, or name one"}
				}
			}
			return nil
		},
	}
	root.SetOut(ios.Out)
	root.SetErr(ios.Err)
	root.SetUsageTemplate(root.UsageTemplate() + "\n" + exitCodesHelp + "\n")
	root.SetFlagErrorFunc(flagError)
	root.CompletionOptions.DisableDefaultCmd = true // see newCompletionCmd

	pf := root.PersistentFlags()
	pf.StringVar(&g.aws.profile, "profile", "", "AWS profile (default: AWS_PROFILE, the config file, or the SDK default)")
	pf.StringVar(&g.aws.region, "region", "", "AWS region (default: AWS_REGION, the config file, or the profile's region)")
	pf.StringVar(&g.project, "project", "", "naming prefix (default: BREAKGLASS_PROJECT, the config file or \"breakglass\")")
	pf.StringVar(&g.configPath, "config", "", "config file (default: BREAKGLASS_CONFIG or ~/.config/breakglass/config.yaml)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "log API calls with timings on stderr (also BREAKGLASS_DEBUG=1)")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and what was left open")

	root.AddCommand(
		newOpenCmd(ios, g),
		newStatusCmd(ios, g),
		newCloseCmd(ios, g),
		newVersionCmd(ios),
		newSandboxCmd(ios, g),
		newConfigCmd(ios, g),
		newCompletionCmd(ios),
	)
	registerCompletions(root, g)
	return root
}

// targetFlags name one breakglass service: ENV and SERVICE from the
// arguments, with optional overrides of the derived names.
type targetFlags struct {
	overrides naming.Overrides
}

func (t *targetFlags) register(cmd *cobra.Command, container bool) {
	f := cmd.Flags()
	f.StringVar(&t.overrides.Cluster, "cluster", "", "cluster name (default: <project>-ECS-<ENV>)")
	f.StringVar(&t.overrides.Service, "service", "", "ECS service name (default: <project>-<SERVICE>-<ENV>)")
	if container {
		f.StringVar(&t.overrides.Container, "container", "", "container to exec into (default: SERVICE lower-cased, - to _)")
	}
}

// resolve returns the settings for env and the AWS names that env and
// service resolve to under them, with t's overrides. It fails on a bad
// config file or flag, or on a name that fails validation.
func (t *targetFlags) resolve(ios *IOStreams, g *globalOptions, env, service string) (
	settings, naming.Names, error) {
	st, err := g.settingsFor(ios, env)
	if err != nil {
		return settings{}, naming.Names{}, err
	}
	names, err := naming.Resolve(st.Project.Value, env, service, t.overrides)
	if err != nil {
		return settings{}, naming.Names{}, err
	}
	return st, names, nil
}

// outputFlag registers -o on cmd, stored in format; checkOutput checks it.
func outputFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "output", "o", "table", "output format: table or json")
}

// checkOutput returns a usage error unless format is table or json.
func checkOutput(format string) error {
	if format == "table" || format == "json" {
		return nil
	}
	return &usageError{msg: fmt.Sprintf("unknown output format %q", format),
		hint: "use -o table or -o json"}
}

// exactArgs is cobra.ExactArgs with an error that says what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{
				msg:  "expected " + what + ", got " + argCount(len(args)),
				hint: "usage: " + cmd.UseLine(),
			}
		}
		return nil
	}
}

func argCount(n int) string {
	switch n {
	case 0:
		return "no arguments"
	case 1:
		return "1 argument"
	}
	return strconv.Itoa(n) + " arguments"
}
