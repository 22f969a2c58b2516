package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/exec"
)

// Set by the release build (goreleaser's default -X flags for package main).
var (
	version = ""
	commit  = ""
	date    = ""
)

// buildInfo is what 'version' reports; -o json prints it as is.
type buildInfo struct {
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	Date          string `json:"date"`
	GoVersion     string `json:"goVersion"`
	Platform      string `json:"platform"`
	PluginVersion string `json:"sessionManagerPluginVersion"`
}

// currentBuild fills what the release build did not stamp from the module
// information Go records, so that 'go install ...@v1.2.3' reports v1.2.3.
func currentBuild() buildInfo {
	b := buildInfo{
		Version:       version,
		Commit:        commit,
		Date:          date,
		GoVersion:     runtime.Version(),
		Platform:      runtime.GOOS + "/" + runtime.GOARCH,
		PluginVersion: exec.PluginVersion(),
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.Commit == "":
				b.Commit = s.Value
			case s.Key == "vcs.time" && b.Date == "":
				b.Date = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

func newVersionCmd(ios *IOStreams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the build version and the linked Session Manager plugin version",
		Example: `  breakglass version
  breakglass version -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// version has always taken an empty -o as the table; scripts
			// may pass one.
			if err := checkOutput(cmp.Or(output, "table")); err != nil {
				return err
			}
			b := currentBuild()
			if output == "json" {
				enc := json.NewEncoder(ios.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			fmt.Fprintf(ios.Out, "breakglass %s\n", b.Version)
			fmt.Fprintf(ios.Out, "  commit:                 %s\n", dash(b.Commit))
			fmt.Fprintf(ios.Out, "  built:                  %s\n", dash(b.Date))
			fmt.Fprintf(ios.Out, "  go:                     %s %s\n", b.GoVersion, b.Platform)
			fmt.Fprintf(ios.Out, "  session-manager-plugin: %s (linked)\n", b.PluginVersion)
			return nil
		},
	}
	outputFlag(cmd, &output)
	return cmd
}
