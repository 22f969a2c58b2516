package main

import (
	"fmt"
	"time"

	"github.com/briandowns/spinner"

	"github.com/breakglass-dev/breakglass/internal/ecs"
)

// progress shows the stages of a wait, each as a line with the time since
// the wait began: "+3.2s  task 3c9267d1 RUNNING". On a terminal the current
// stage is also a spinner with a live clock; it becomes the line when the
// next stage begins, so both displays leave the same record.
type progress struct {
	ios   *IOStreams
	start time.Time
	spin  *spinner.Spinner
	line  string // the current stage's line, printed when it ends
}

func newProgress(ios *IOStreams) *progress {
	p := &progress{ios: ios, start: time.Now()}
	if ios.Color && !ios.Quiet && ios.ErrFile != nil {
		p.spin = spinner.New(spinner.CharSets[14], 100*time.Millisecond,
			spinner.WithWriterFile(ios.ErrFile))
	}
	return p
}

// stage reports a new stage. It is called only on a change.
func (p *progress) stage(s ecs.Stage) {
	label := s.Name
	if s.TaskID != "" {
		label = fmt.Sprintf("task %s %s", shortID(s.TaskID), s.Name)
	}
	line := fmt.Sprintf("+%s  %s", fmtElapsed(time.Since(p.start)), label)

	if p.spin == nil {
		p.ios.Infof("%s", line)
		return
	}
	p.flush()
	p.line = line
	p.spin.PreUpdate = func(sp *spinner.Spinner) {
		sp.Suffix = fmt.Sprintf(" %s  %s", label, fmtElapsed(time.Since(p.start)))
	}
	p.spin.Start()
}

// notice prints a line between stage lines without garbling the spinner.
func (p *progress) notice(format string, args ...any) {
	if p.spin == nil || p.line == "" {
		p.ios.Infof(format, args...)
		return
	}
	p.spin.Stop()
	p.ios.Infof(format, args...)
	p.spin.Start()
}

// done ends the display.
func (p *progress) done() { p.flush() }

func (p *progress) flush() {
	if p.spin == nil || p.line == "" {
		return
	}
	p.spin.Stop()
	p.ios.Infof("%s", p.line)
	p.line = ""
}

func fmtElapsed(d time.Duration) string {
	return fmt.Sprintf("%.1fs", d.Seconds())
}

// shortID abbreviates a task ID the way the console does.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
