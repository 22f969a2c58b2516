package main

import (
	"context"
	"os"
	"os/signal"
	"slices"
)

// catchPipeSignals keeps SIGPIPE from ever killing the supervisor; it is
// never undone, since every stage may write to a closed pipe.
func catchPipeSignals() {
	if len(pipeSignals) > 0 {
		signal.Notify(make(chan os.Signal, 1), pipeSignals...)
	}
}

// watchSignals returns a context that is cancelled with a *signalError as
// its cause when an interrupt signal arrives; a suspend signal (Ctrl-Z) is
// refused with a notice. stop ends the watching and must be called before
// another part of the program takes the signals over.
func watchSignals(parent context.Context, ios *IOStreams) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, append(slices.Clone(interruptSignals), suspendSignals...)...)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				if slices.Contains(suspendSignals, sig) {
					ios.Noticef("cannot suspend while the service is being opened; Ctrl-C cancels")
					continue
				}
				cancel(&signalError{sig: sig})
				return
			case <-done:
				return
			}
		}
	}()

	stopped := false
	return ctx, func() {
		if stopped {
			return
		}
		stopped = true
		signal.Stop(ch)
		close(done)
	}
}

// holdSignals keeps interrupt signals from killing the process while the
// service is being put back to rest. The first signal only prints a notice;
// the third gives up and cancels the returned context, for an operator who
// must leave now and will run 'breakglass close' later.
func holdSignals(parent context.Context, ios *IOStreams) (ctx context.Context, release func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 3)
	signal.Notify(ch, append(slices.Clone(interruptSignals), suspendSignals...)...)
	done := make(chan struct{})
	go func() {
		for n := 1; ; n++ {
			select {
			case <-ch:
				switch n {
				case 1:
					ios.Noticef("still putting the service back to rest; interrupt twice more to abandon it")
				case 3:
					cancel()
					return
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// causeOf returns the signal that cancelled ctx, or err unchanged.
func causeOf(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	if se, ok := context.Cause(ctx).(*signalError); ok {
		return se
	}
	return err
}

// guardSignals catches interrupt signals and drops them until release is
// called. It bridges the hand-overs between the parts that handle them, so
// that no signal meets its default action (the process killed with the
// service still open) in between.
func guardSignals() (release func()) {
	ch := make(chan os.Signal, 8)
	signal.Notify(ch, interruptSignals...)
	return func() { signal.Stop(ch) }
}
