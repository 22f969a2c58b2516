//go:build !windows

package main

import (
	"slices"
	"testing"
	"time"

	"github.com/breakglass-dev/breakglass/internal/sandbox"
)

// BenchmarkOpen measures what the operator waits for, against a sandbox with
// its default (realistic) delays. It reports medians over the iterations:
//
//	overhead-ms  first shell output on the terminal minus the moment the
//	             sandbox made the container connectable
//	close-ms     the shell's exit minus the UpdateService call back to 0
//	calls/s      ECS calls per second while waiting (scale-up to connected)
//
// Run: go test -run '^$' -bench Open -benchtime 10x ./cmd/breakglass
func BenchmarkOpen(b *testing.B) {
	var overheads, closes, rates []float64
	for i := 0; i < b.N; i++ {
		sb := fastSandbox(b, func(c *sandbox.Config) { *c = sandbox.Defaults(); c.Addr = "" })
		p := startPTY(b, hermeticEnv(b, sb), "open", "DEMO", "EFS-Util")

		off := p.expect(0, "connected to task", 60*time.Second)
		off = p.expect(off, "\n", time.Second)
		first := p.firstAfter(off, 10*time.Second)
		p.send("exit\r")
		if code := p.wait(30 * time.Second); code != 0 {
			b.Fatalf("exit code %d", code)
		}

		m := timeline(sb.Marks(), first)
		overheads = append(overheads, ms(first.Sub(m.connectable)))
		closes = append(closes, ms(m.down.Sub(m.shellExited)))
		rates = append(rates, float64(m.waitCalls)/first.Sub(m.up).Seconds())
		sb.Close()
	}
	b.ReportMetric(median(overheads), "overhead-ms")
	b.ReportMetric(median(closes), "close-ms")
	b.ReportMetric(median(rates), "calls/s")
}

// firstAfter waits for the first byte after offset off and returns when it
// arrived.
func (p *ptyProc) firstAfter(off int, timeout time.Duration) time.Time {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for len(p.output()) <= off {
		if time.Now().After(deadline) {
			p.t.Fatalf("no output after offset %d", off)
		}
		time.Sleep(time.Millisecond)
	}
	return p.arrival(off)
}

type marks struct {
	up, connectable, shellExited, down time.Time
	waitCalls                          int
}

// timeline picks the moments the benchmark needs from the sandbox's marks;
// calls count from the scale-up until the shell's first output.
func timeline(ms []sandbox.Mark, until time.Time) marks {
	var m marks
	for _, mk := range ms {
		switch {
		case mk.Kind == sandbox.MarkDesiredCount && mk.Service == demoService && mk.Detail == "1":
			m.up = mk.At
		case mk.Kind == sandbox.MarkConnectable && m.connectable.IsZero():
			m.connectable = mk.At
		case mk.Kind == sandbox.MarkSession && mk.Detail == "shell-exited":
			m.shellExited = mk.At
		case mk.Kind == sandbox.MarkDesiredCount && mk.Service == demoService && mk.Detail == "0":
			m.down = mk.At
		}
	}
	for _, mk := range ms {
		if mk.Kind == sandbox.MarkAPICall && mk.At.After(m.up) && mk.At.Before(until) && isECSWaitCall(mk.Detail) {
			m.waitCalls++
		}
	}
	return m
}

func isECSWaitCall(op string) bool {
	switch op {
	case "ListTasks", "DescribeTasks", "ExecuteCommand", "DescribeServices":
		return true
	}
	return false
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
