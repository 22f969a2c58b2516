package exec

import (
	"context"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"os/signal"
	"slices"
	"strings"
	"time"

	"golang.org/x/term"
)

// Run starts the session child and waits for it to end. It returns an error
// only when the session could not be started (ErrNoTerminal, a malformed
// session, a child that cannot be started) or its output could not be
// written; every other ending is described by the Result.
//
// Run keeps this contract:
//   - If Stdin is a terminal, its state is saved before the child starts and
//     restored after it ends, on every path, a panic in Run included.
//   - While the child runs, SIGINT, SIGQUIT and SIGTSTP are caught and
//     dropped (the child, in the same foreground process group, gets them
//     from the terminal itself); SIGTERM and SIGHUP are forwarded to the
//     child and recorded in Result.Signal; when ctx ends, the child is sent
//     SIGTERM, then SIGKILL after Options.Grace, and Result.Canceled is set.
//     Signal handling is stopped before Run returns.
//   - A terminal on Stdin is inherited by the child. Any other Stdin is fed
//     to the child through a pipe that stays open until the child exits.
//   - The child's stdout reaches Stdout unchanged and at once, less the
//     plugin's start and end banners, so a one-shot command's output is
//     exactly the remote output. Stderr is inherited.
//   - A failed write to Stdout (its reader is gone; SIGPIPE is caught while
//     the child runs) ends the session as a canceled ctx does, and Run
//     returns the write error with the Result.
//
// On Windows Ctrl-C is dropped, SIGTERM (a closed console) kills the child at
// once, and stdout is inherited with the plugin's banners left in.
func Run(ctx context.Context, p Params, o Options) (Result, error) {
	sessionID, err := parseSessionResponse(p.SessionJSON)
	if err != nil {
		if p.SessionID != "" {
			err = fmt.Errorf("session %s: %w", p.SessionID, err)
		}
		return Result{}, fmt.Errorf("start session: %w", err)
	}
	if o, err = o.withDefaults(); err != nil {
		return Result{}, fmt.Errorf("start session %s: %w", sessionID, err)
	}
	stdinTTY := term.IsTerminal(int(o.Stdin.Fd()))
	if p.Interactive && !stdinTTY {
		return Result{}, ErrNoTerminal
	}
	if ctx.Err() != nil {
		return Result{Canceled: true}, nil
	}

	// Registered before the child starts, so that a caught SIGINT (rather
	// than one this process may have inherited as ignored) is what the
	// child inherits, i.e. the default.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, append(slices.Clone(discardSignals), forwardSignals...)...)
	defer signal.Stop(sigs)

	var saved *terminal
	if stdinTTY {
		saved = saveTerminal(o.Stdin)
	}
	// Restore errors are dropped: there is nothing left to do about them,
	// and after SIGHUP the terminal may be gone.
	var s *child
	defer func() {
		_ = saved.restore()
		if s != nil && s.cutShort() {
			// The plugin changes the terminal through stty processes of
			// its own; one started just before the child was ended can
			// still change it after the restore above. They take
			// milliseconds.
			time.Sleep(sttySettle)
			_ = saved.restore()
		}
	}()

	s, err = startChild(p, o, stdinTTY, sessionID)
	if err != nil {
		return Result{}, fmt.Errorf("start session %s: %w", sessionID, err)
	}
	defer s.killIfRunning()

	res, err := s.wait(ctx, sigs)
	if err != nil {
		return res, fmt.Errorf("session %s: %w", sessionID, err)
	}
	return res, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find own executable: %w", err)
		}
		o.Executable = exe
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Env == nil {
		o.Env = os.Environ()
	}
	return o, nil
}

// child is a started session child and the plumbing around it.
type child struct {
	cmd   *osexec.Cmd
	grace time.Duration

	inW        *os.File     // the child's stdin pipe, nil when it has the terminal
	noTerminal bool         // the child's stdin is not a terminal
	killed     bool         // killIfRunning killed it
	outR       *os.File     // the child's stdout pipe, nil when stdout is inherited
	outDone    chan outcome // copyOutput's result
	outFailed  chan struct{}
	waitDone   chan struct{}
	exited     bool
	killTimer  *time.Timer
	hungUp     bool
	endAsked   bool
	result     Result
	waitStatus error
}

func startChild(p Params, o Options, stdinTTY bool, sessionID string) (*child, error) {
	cmd := osexec.Command(o.Executable)
	cmd.Env = childEnv(o.Env, p)
	cmd.Stderr = o.Stderr
	s := &child{cmd: cmd, grace: o.Grace}

	// The parent's copies of the child's pipe ends, closed once it has them.
	var theirs []*os.File
	closeAll := func(fs ...*os.File) {
		for _, f := range fs {
			if f != nil {
				f.Close()
			}
		}
	}

	s.noTerminal = !stdinTTY
	if stdinTTY {
		cmd.Stdin = o.Stdin
	} else {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("create stdin pipe: %w", err)
		}
		cmd.Stdin, s.inW = r, w
		theirs = append(theirs, r)
	}
	if filterStdout {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(append(theirs, s.inW)...)
			return nil, fmt.Errorf("create stdout pipe: %w", err)
		}
		cmd.Stdout, s.outR = w, r
		theirs = append(theirs, w)
	} else {
		cmd.Stdout = o.Stdout
	}

	if err := cmd.Start(); err != nil {
		closeAll(append(theirs, s.inW, s.outR)...)
		return nil, fmt.Errorf("start session child %s: %w", o.Executable, err)
	}
	closeAll(theirs...)

	if s.inW != nil {
		// Known shortcoming: if Stdin never ends (a pipe whose writer stays
		// open), this goroutine stays blocked reading it after Run returns,
		// and may swallow input that arrives later. A blocking read on an
		// inherited descriptor cannot be interrupted portably; for a
		// one-shot breakglass command nothing reads stdin afterwards.
		go feedInput(s.inW, o.Stdin)
	}
	if s.outR != nil {
		s.outDone = make(chan outcome, 1)
		s.outFailed = make(chan struct{}, 1)
		go func() {
			var w io.Writer = o.Stdout
			var lf *lfWriter
			if o.PlainLines {
				lf = &lfWriter{w: o.Stdout}
				w = lf
			}
			lost, err := copyOutput(s.outR, w, sessionID, func() { s.outFailed <- struct{}{} })
			if lf != nil && err == nil {
				err = lf.flush()
			}
			s.outDone <- outcome{lost: lost, err: err}
		}()
	}
	s.waitDone = make(chan struct{})
	go func() {
		s.waitStatus = cmd.Wait()
		close(s.waitDone)
	}()
	return s, nil
}

// wait runs the session until the child exits, handling signals and ctx.
func (s *child) wait(ctx context.Context, sigs <-chan os.Signal) (Result, error) {
	ctxDone := ctx.Done()
	for !s.exited {
		select {
		case sig := <-sigs:
			// Without a terminal nothing else delivers Ctrl-C's signal to
			// the child: a SIGINT sent to this process is passed on.
			interrupt := s.noTerminal && sig == os.Interrupt
			if !slices.Contains(forwardSignals, sig) && !interrupt {
				continue // the child got it from the terminal too
			}
			if s.result.Signal == nil {
				s.result.Signal = sig
			}
			s.hungUp = s.hungUp || sig == hangup
			_ = forward(s.cmd.Process, sig)
			s.end(false)
		case <-ctxDone:
			ctxDone = nil
			s.result.Canceled = true
			s.end(true)
		case <-s.outFailed:
			s.end(true)
		case <-s.waitDone:
			s.exited = true
		}
	}
	if s.killTimer != nil {
		s.killTimer.Stop()
	}

	err := s.drain()
	if s.inW != nil {
		s.inW.Close()
	}
	if s.hungUp {
		err = nil // the terminal is gone; its write errors say nothing new
	}
	if s.cmd.ProcessState == nil {
		return s.result, fmt.Errorf("wait for session child: %w", s.waitStatus)
	}
	s.result.ExitCode = exitCode(s.cmd.ProcessState)
	return s.result, err
}

// end makes sure the child ends: it asks it to (unless a forwarded signal
// already did) and kills it if it is still there after the grace period.
func (s *child) end(ask bool) {
	if ask && !s.endAsked {
		_ = askToEnd(s.cmd.Process)
	}
	s.endAsked = true
	if s.killTimer == nil {
		p := s.cmd.Process
		s.killTimer = time.AfterFunc(s.grace, func() { _ = p.Kill() })
	}
}

// drain waits for the child's output to be copied out to the end. A process
// the child started (the plugin runs stty) could keep the pipe open after the
// child is gone; the grace period bounds that wait.
func (s *child) drain() error {
	if s.outR == nil {
		return nil
	}
	defer s.outR.Close()
	var out outcome
	select {
	case out = <-s.outDone:
	case <-time.After(s.grace):
		s.outR.Close()
		out = <-s.outDone
	}
	s.result.Lost = out.lost
	return out.err
}

// outcome is what copying the child's output found.
type outcome struct {
	lost bool
	err  error
}

// killIfRunning kills a child that is still running when Run returns early,
// i.e. when it panics: the child must not outlive the terminal restore.
func (s *child) killIfRunning() {
	if !s.exited {
		s.killed = true
		_ = s.cmd.Process.Kill()
	}
}

// sttySettle is how long a session cut short waits before restoring the
// terminal a second time (see Run).
const sttySettle = 100 * time.Millisecond

// cutShort reports whether the child was asked to end or killed, rather
// than ending the session itself.
func (s *child) cutShort() bool { return s.endAsked || s.killed }

// childEnv is base without any inherited copies of the child's variables,
// plus the child's variables. The session response travels here, never on
// argv, where ps would show its token.
func childEnv(base []string, p Params) []string {
	env := make([]string, 0, len(base)+len(childVars)+1)
	var gorace string
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case slices.Contains(childVars, k):
		case raceEnabled && k == "GORACE":
			gorace = v
		default:
			env = append(env, kv)
		}
	}
	env = append(env,
		envChild+"="+childMarker,
		envResponse+"="+string(p.SessionJSON),
		envRegion+"="+p.Region,
		envProfile+"="+p.Profile,
		envEndpoint+"="+p.SSMEndpoint,
		envTarget+"="+p.Target,
		envOrphanHint+"="+p.OrphanHint,
	)
	if raceEnabled {
		// The plugin's data races would otherwise turn a clean end into
		// exit status 66 (reference P15).
		env = append(env, "GORACE="+strings.TrimSpace(gorace+" exitcode=0"))
	}
	return env
}
