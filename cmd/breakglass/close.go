package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/ecs"
)

type closeOptions struct {
	env, service string
	target       targetFlags
}

func newCloseCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &closeOptions{}
	cmd := &cobra.Command{
		Use:   "close ENV SERVICE",
		Short: "Put a breakglass service back to rest now",
		Long: `close sets the desired count of a breakglass service to 0 and stops its
running tasks, for a service left open (a killed terminal, a lost laptop).
It refuses any service that is not a breakglass service. Any shell still open
on the service ends.`,
		Example: `  breakglass close DEMO EFS-Util
  breakglass close PROD EFS-Util --profile prod`,
		Args: exactArgs(2, "ENV and SERVICE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.env, o.service = args[0], args[1]
			return runClose(cmd.Context(), ios, g, o)
		},
	}
	o.target.register(cmd, false)
	return cmd
}

func runClose(ctx context.Context, ios *IOStreams, g *globalOptions, o *closeOptions) error {
	st, names, err := o.target.resolve(ios, g, o.env, o.service)
	if err != nil {
		return err
	}
	sess, err := loadAWS(ctx, st.awsFlags(), ios)
	if err != nil {
		return err
	}

	reason := "breakglass close by " + sess.callerIdentity(ctx)
	res, err := sess.ecsClient(ecs.Options{}).Close(ctx, ecsTarget(names), reason)
	if err != nil {
		return g.suggestEnv(ctx, sess, st, o.target.overrides, err)
	}

	// Nothing is left open, so --quiet prints none of this.
	ios.Infof("put %s back to desired count 0 (was %d)", names.ECSService, res.PreviousDesired)
	if len(res.StoppedTasks) > 0 {
		ids := make([]string, len(res.StoppedTasks))
		for i, id := range res.StoppedTasks {
			ids[i] = shortID(id)
		}
		ios.Infof("stopping task %s", strings.Join(ids, ", "))
	}
	if res.OpenedBy != "" {
		// Someone may still be working in that shell: they must know why
		// it ended, and the operator who closed it must know whose it was.
		ios.Printf("this ends the session of %s (open since %s)",
			printable(res.OpenedBy), dash(printable(res.OpenedAt)))
	}
	return nil
}
