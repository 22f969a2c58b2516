//go:build windows

package main

import "github.com/spf13/cobra"

func runSandbox(cmd *cobra.Command, ios *IOStreams, o *sandboxOptions, args []string) error {
	return &usageError{
		msg:  "the sandbox is not available on Windows: it needs a Unix pseudo-terminal",
		hint: "run the sandbox on Linux or macOS (WSL works), and point AWS_ENDPOINT_URL at it",
	}
}
