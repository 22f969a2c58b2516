package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

type configOptions struct {
	env    string
	output string
}

func newConfigCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &configOptions{}
	cmd := &cobra.Command{
		Use:   "config [ENV]",
		Short: "Show the profile, region and project breakglass uses, and where each comes from",
		Long: `config shows the settings breakglass would use for ENV (or, without ENV, for
commands that name no environment) and where each one comes from.

Each setting is taken from the first of these that sets it:

  1. the flag (--profile, --region, --project)
  2. the environment variable (AWS_PROFILE or AWS_DEFAULT_PROFILE;
     AWS_REGION or AWS_DEFAULT_REGION; BREAKGLASS_PROJECT)
  3. the environment's section of the config file
  4. the defaults section of the config file
  5. the SDK's own choice: the default credential chain, the profile's
     region; and the project "breakglass"

Credentials in the environment (AWS_ACCESS_KEY_ID) beat a profile from the
file, as they beat AWS_PROFILE.

The config file is --config, else BREAKGLASS_CONFIG, else config.yaml (or
config.yml) in $XDG_CONFIG_HOME/breakglass (default ~/.config/breakglass).
A missing file at the default location is no error; an empty file is an empty
config. It is YAML:

  defaults:
    region: eu-west-1
  environments:
    PROD:
      profile: prod-breakglass
    DEMO:
      profile: dev
      region: us-east-1
      project: demo

Unknown keys are errors, reported with their line. --config /dev/null (NUL on
Windows) runs with no config file at all.

-o json prints one object:

  {"configFile", "configFileOrigin", "configFileFound", "env",
   "envInConfigFile", "profile": {"value", "source"}, "region": {...},
   "project": {...}, "cluster", "environments": [...]}`,
		Example: `  breakglass config PROD
  breakglass config
  breakglass config DEMO -o json
  breakglass --config ./ci-config.yaml config PROD`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{msg: fmt.Sprintf("expected at most ENV, got %d arguments", len(args)),
					hint: "usage: " + cmd.UseLine()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.env = args[0]
			}
			return runConfig(cmd.Context(), ios, g, o)
		},
	}
	outputFlag(cmd, &o.output)
	return cmd
}

// configJSON is the documented shape of 'config -o json'. Field names and
// meanings never change; fields may be added.
type configJSON struct {
	ConfigFile       string   `json:"configFile"`
	ConfigFileOrigin string   `json:"configFileOrigin"`
	ConfigFileFound  bool     `json:"configFileFound"`
	Env              string   `json:"env"`
	EnvInConfigFile  bool     `json:"envInConfigFile"`
	Profile          setting  `json:"profile"`
	Region           setting  `json:"region"`
	Project          setting  `json:"project"`
	Cluster          string   `json:"cluster,omitempty"`
	Environments     []string `json:"environments"`
}

func runConfig(ctx context.Context, ios *IOStreams, g *globalOptions, o *configOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.env != "" {
		if err := naming.Validate("environment", o.env); err != nil {
			return err
		}
	}

	file, err := g.configuration()
	if err != nil {
		return err
	}
	st, err := g.settingsFor(nil, o.env)
	if err != nil {
		return err
	}
	if st.Region.Value == "" {
		st.Region = sdkRegion(ctx, ios, st)
	}

	doc := configJSON{
		ConfigFile:       file.Path,
		ConfigFileOrigin: file.Origin,
		ConfigFileFound:  file.Found,
		Env:              o.env,
		Profile:          st.Profile,
		Region:           st.Region,
		Project:          st.Project,
		Environments:     file.envNames(),
	}
	if o.env != "" {
		_, doc.EnvInConfigFile = file.Environments[o.env]
		doc.Cluster = naming.ClusterName(st.Project.Value, o.env)
	}
	if o.output == "json" {
		enc := json.NewEncoder(ios.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return renderConfigTable(ios.Out, doc)
}

// sdkRegion asks the SDK which region it would use when breakglass sets
// none: the profile's, from the shared config. It reads local files only.
func sdkRegion(ctx context.Context, ios *IOStreams, st settings) setting {
	var opts []func(*config.LoadOptions) error
	profile := "default"
	if st.Profile.Value != "" {
		profile = st.Profile.Value
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		printError(ios.Err, configLoadError(err, st.Profile.Source))
		return setting{Source: sourceUnset}
	}
	if cfg.Region == "" {
		return setting{Source: sourceUnset}
	}
	return setting{Value: cfg.Region, Source: "shared AWS config, profile " + profile}
}

func renderConfigTable(w io.Writer, d configJSON) error {
	found := ""
	if !d.ConfigFileFound {
		found = "; not found"
	}
	fmt.Fprintf(w, "config file:  %s (%s%s)\n", d.ConfigFile, d.ConfigFileOrigin, found)
	switch {
	case d.Env == "":
		fmt.Fprintf(w, "environment:  none (the settings of commands without ENV)\n")
	case d.EnvInConfigFile:
		fmt.Fprintf(w, "environment:  %s (in the config file)\n", d.Env)
	default:
		fmt.Fprintf(w, "environment:  %s (not in the config file)\n", d.Env)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, row := range []struct {
		name string
		s    setting
	}{{"profile", d.Profile}, {"region", d.Region}, {"project", d.Project}} {
		source := row.s.Source
		if row.s.Overrides != "" {
			source += ", overriding " + row.s.Overrides
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", row.name, dash(row.s.Value), source)
	}
	if d.Cluster != "" {
		fmt.Fprintf(tw, "cluster\t%s\t<project>-ECS-<ENV>\n", d.Cluster)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if len(d.Environments) > 0 {
		fmt.Fprintf(w, "\nenvironments in the config file: %s\n", strings.Join(d.Environments, ", "))
	}
	return nil
}
