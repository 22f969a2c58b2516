package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/breakglass-dev/breakglass/internal/ecs"
	"github.com/breakglass-dev/breakglass/internal/naming"
)

type statusOptions struct {
	env, service string
	target       targetFlags
	output       string
}

func newStatusCmd(ios *IOStreams, g *globalOptions) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [ENV [SERVICE]]",
		Short: "Show breakglass services, their tasks, and who holds them open",
		Long: `status lists breakglass services (tag breakglass:managed=true) with their
desired, running and pending counts, each task's status, exec agent status and
age, and who opened the service. Without ENV it looks at every cluster in the
region named <project>-ECS-<ENV>.

-o json prints one object, stable across releases:

  {"services": [{"env", "service", "cluster", "ecsService", "arn", "status",
                 "desired", "running", "pending", "execEnabled",
                 "openedBy", "openedAt",
                 "tasks": [{"id", "arn", "lastStatus", "desiredStatus",
                            "execAgent", "createdAt", "startedAt",
                            "stopCode", "stoppedReason"}]}]}

Times are RFC 3339 in UTC; absent values are "" (or omitted for times).`,
		Example: `  breakglass status
  breakglass status DEMO
  breakglass status DEMO EFS-Util -o json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				return &usageError{msg: fmt.Sprintf("expected at most ENV and SERVICE, got %d arguments", len(args)),
					hint: "usage: " + cmd.UseLine()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				o.env = args[0]
			}
			if len(args) > 1 {
				o.service = args[1]
			}
			return runStatus(cmd.Context(), ios, g, o)
		},
	}
	o.target.register(cmd, false)
	outputFlag(cmd, &o.output)
	return cmd
}

// statusTimeout bounds a whole status command.
const statusTimeout = 30 * time.Second

func runStatus(ctx context.Context, ios *IOStreams, g *globalOptions, o *statusOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.env != "" {
		if err := naming.Validate("environment", o.env); err != nil {
			return err
		}
	}
	if o.service != "" {
		if err := naming.Validate("service", o.service); err != nil {
			return err
		}
	}

	st, err := g.settingsFor(ios, o.env)
	if err != nil {
		return err
	}
	// status only reads: an endpoint that never answers should end in an
	// error the operator can act on, not a hang.
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	sess, err := loadAWS(ctx, st.awsFlags(), ios)
	if err != nil {
		return err
	}
	client := sess.ecsClient(ecs.Options{})
	list, err := client.Status(ctx, st.Project.Value, o.env, o.service, o.target.overrides)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return &noAnswerError{
			msg:  fmt.Sprintf("no answer from ECS within %v: %v", statusTimeout, err),
			hint: "check the network, --region and any AWS_ENDPOINT_URL setting; --verbose shows each call",
		}
	}
	if err != nil {
		return g.suggestEnv(ctx, sess, st, o.target.overrides, err)
	}

	if o.output == "json" {
		return renderStatusJSON(ios.Out, list)
	}
	if len(list) == 0 {
		ios.Infof("no breakglass services found")
		return nil
	}
	return renderStatusTable(ios.Out, list, time.Now())
}

// statusJSON is the documented shape of 'status -o json'. Field names and
// meanings never change; fields may be added.
type statusJSON struct {
	Services []serviceJSON `json:"services"`
}

type serviceJSON struct {
	Env         string     `json:"env"`
	Service     string     `json:"service"`
	Cluster     string     `json:"cluster"`
	ECSService  string     `json:"ecsService"`
	ARN         string     `json:"arn"`
	Status      string     `json:"status"`
	Desired     int32      `json:"desired"`
	Running     int32      `json:"running"`
	Pending     int32      `json:"pending"`
	ExecEnabled bool       `json:"execEnabled"`
	OpenedBy    string     `json:"openedBy"`
	OpenedAt    *time.Time `json:"openedAt,omitempty"`
	Tasks       []taskJSON `json:"tasks"`
}

type taskJSON struct {
	ID            string     `json:"id"`
	ARN           string     `json:"arn"`
	LastStatus    string     `json:"lastStatus"`
	DesiredStatus string     `json:"desiredStatus"`
	ExecAgent     string     `json:"execAgent"`
	CreatedAt     *time.Time `json:"createdAt,omitempty"`
	StartedAt     *time.Time `json:"startedAt,omitempty"`
	StopCode      string     `json:"stopCode"`
	StoppedReason string     `json:"stoppedReason"`
}

func renderStatusJSON(w io.Writer, list []ecs.ServiceStatus) error {
	out := statusJSON{Services: []serviceJSON{}}
	for _, s := range list {
		sj := serviceJSON{
			Env: s.Env, Service: s.Service, Cluster: s.Cluster, ECSService: s.ECSService,
			ARN: s.ARN, Status: s.Status, Desired: s.Desired, Running: s.Running,
			Pending: s.Pending, ExecEnabled: s.ExecEnabled, OpenedBy: s.OpenedBy,
			OpenedAt: optTime(s.OpenedAt), Tasks: []taskJSON{},
		}
		for _, t := range s.Tasks {
			sj.Tasks = append(sj.Tasks, taskJSON{
				ID: t.ID, ARN: t.ARN, LastStatus: t.LastStatus, DesiredStatus: t.DesiredStatus,
				ExecAgent: t.AgentStatus, CreatedAt: optTime(t.CreatedAt),
				StartedAt: optTime(t.StartedAt), StopCode: t.StopCode, StoppedReason: t.StoppedReason,
			})
		}
		out.Services = append(out.Services, sj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// renderStatusTable prints one row per task, or one per service without
// tasks. now is passed in so that ages render the same in golden tests.
func renderStatusTable(w io.Writer, list []ecs.ServiceStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tSERVICE\tDESIRED\tRUNNING\tPENDING\tTASK\tSTATUS\tEXEC AGENT\tAGE\tOPENED BY")
	for _, s := range list {
		counts := []string{strconv.Itoa(int(s.Desired)), strconv.Itoa(int(s.Running)), strconv.Itoa(int(s.Pending))}
		opened := dash(printable(s.OpenedBy))
		if len(s.Tasks) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t-\t-\t-\t-\t%s\n", s.Env, s.Service,
				counts[0], counts[1], counts[2], opened)
			continue
		}
		for _, t := range s.Tasks {
			age := "-"
			if !t.CreatedAt.IsZero() {
				age = fmtAge(now.Sub(t.CreatedAt))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Env, s.Service,
				counts[0], counts[1], counts[2], shortID(t.ID), dash(t.LastStatus),
				dash(t.AgentStatus), age, opened)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtAge renders a duration the way kubectl does: the two largest units.
func fmtAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
