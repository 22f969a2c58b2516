// Package sandbox is a local stand-in for the AWS side of breakglass: the ECS
// API (JSON 1.1), the SSM session API, STS GetCallerIdentity and the Session
// Manager data channel, all on one loopback address. Tasks go through the
// real lifecycle on timers, exec sessions open a real shell in a folder that
// stands for the EFS root, and errors carry the codes and messages of the
// real services, so that the breakglass CLI, the AWS SDK and the AWS CLI work
// against it unchanged.
//
// The sandbox listens on loopback only and makes no outbound connections.
package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/breakglass-dev/breakglass/internal/sandbox/datachannel"
)

// Config configures a sandbox. The zero value is valid: a free loopback
// port, a fresh EFS folder, us-east-1, account 000000000000 and no delays.
type Config struct {
	// Addr is the listen address. It must be a loopback address
	// (127.0.0.0/8, ::1 or localhost); "" means 127.0.0.1:0, a free port.
	Addr string
	// EFSDir is the folder standing for the EFS root. "" makes a fresh
	// temporary folder, seeded with mysql/data and rabbitmq/data and removed
	// by Close. A given folder is created if missing, seeded with whichever
	// of those folders it lacks, and never removed.
	EFSDir string
	// Region and AccountID appear in every ARN; defaults us-east-1 and
	// 000000000000.
	Region    string
	AccountID string

	// StartDelay is the time from a new task to RUNNING, spread evenly over
	// PROVISIONING, PENDING and ACTIVATING.
	StartDelay time.Duration
	// AgentDelay is the time from task RUNNING to ExecuteCommandAgent
	// RUNNING.
	AgentDelay time.Duration
	// ConnectDelay is the time from agent RUNNING until ExecuteCommand
	// succeeds; before that it fails with TargetNotConnectedException.
	ConnectDelay time.Duration
	// StopDelay is the time a stopping task takes from RUNNING through
	// DEACTIVATING, STOPPING and DEPROVISIONING to STOPPED.
	StopDelay time.Duration
	// ListDelay is how long a new task is missing from ListTasks, standing
	// for ECS's eventual consistency.
	ListDelay time.Duration

	// Log, if set, receives one line per API call (service, operation, key
	// parameters, HTTP status, error code, duration) and one per exec
	// session event, each starting with the time of day. Lines carry no
	// tool prefix and never a token.
	Log io.Writer
}

// Defaults returns the configuration `breakglass sandbox` uses by default:
// a free port, a fresh EFS folder, and delays short enough to wait through
// but long enough to watch every stage.
func Defaults() Config {
	return Config{
		Region:       "us-east-1",
		AccountID:    "000000000000",
		StartDelay:   3 * time.Second,
		AgentDelay:   time.Second,
		ConnectDelay: time.Second,
		StopDelay:    time.Second,
		ListDelay:    500 * time.Millisecond,
	}
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string // Config field name, e.g. "Addr"
	Value  string
	Reason string
	hint   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("sandbox: invalid %s %q: %s", e.Field, e.Value, e.Reason)
}

// Hint says how to correct the configuration.
func (e *ConfigError) Hint() string { return e.hint }

// Server is a running sandbox. Its methods are safe for concurrent use.
type Server struct {
	cfg       Config
	ln        net.Listener
	http      *http.Server
	dc        *datachannel.Server
	url       string
	efsDir    string
	removeEFS bool
	served    chan struct{} // closed when http.Serve returns

	// mu guards the state below. It is never held while calling into the
	// data channel or waiting for it: the data channel reports events to
	// onEvent, which takes mu. Calls into the data channel are queued with
	// queueDC and run in queue order by runDC.
	mu           sync.Mutex
	closed       bool
	clusters     []*cluster
	sessions     map[string]*execSession
	timers       map[*time.Timer]struct{}
	failNext     *startFault
	neverConnect bool
	throttle     map[string]int
	ipSeq        int
	dcQueue      []dcOp
	dcWake       chan struct{}
	dcDone       chan struct{}

	marksMu sync.Mutex
	marks   []Mark

	logMu sync.Mutex

	closeOnce sync.Once
	closeErr  error
}

var accountRE = regexp.MustCompile(`^[0-9]{12}$`)
var regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

// New validates cfg, prepares the EFS folder, seeds the DEMO environment,
// listens and starts serving, so that URL is known when it returns. It
// returns a *ConfigError for an invalid configuration, such as an address
// that is not loopback.
func New(cfg Config) (*Server, error) {
	cfg, addr, err := validate(cfg)
	if err != nil {
		return nil, err
	}

	s := &Server{
		cfg:      cfg,
		sessions: map[string]*execSession{},
		timers:   map[*time.Timer]struct{}{},
		throttle: map[string]int{},
		dcWake:   make(chan struct{}, 1),
		dcDone:   make(chan struct{}),
		served:   make(chan struct{}),
	}
	if err := s.prepareEFS(cfg.EFSDir); err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.removeEFSDir()
		return nil, &hintError{
			err:  fmt.Errorf("sandbox: listen on %s: %w", addr, err),
			hint: "choose another address, or stop the program that holds this port",
		}
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()

	s.dc = datachannel.NewServer(datachannel.Options{OnEvent: s.onEvent})
	s.mu.Lock()
	s.seed(time.Now())
	s.mu.Unlock()

	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.runDC()
	go func() {
		defer close(s.served)
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// validate fills defaults and checks cfg; it returns the address to listen
// on.
func validate(cfg Config) (Config, string, error) {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if !regionRE.MatchString(cfg.Region) {
		return cfg, "", &ConfigError{Field: "Region", Value: cfg.Region,
			Reason: "not a region name", hint: "use a region name such as us-east-1"}
	}
	if !accountRE.MatchString(cfg.AccountID) {
		return cfg, "", &ConfigError{Field: "AccountID", Value: cfg.AccountID,
			Reason: "not 12 digits", hint: "use a 12-digit account ID such as 000000000000"}
	}
	delays := []struct {
		name string
		d    time.Duration
	}{
		{"StartDelay", cfg.StartDelay}, {"AgentDelay", cfg.AgentDelay},
		{"ConnectDelay", cfg.ConnectDelay}, {"StopDelay", cfg.StopDelay},
		{"ListDelay", cfg.ListDelay},
	}
	for _, d := range delays {
		if d.d < 0 {
			return cfg, "", &ConfigError{Field: d.name, Value: d.d.String(),
				Reason: "negative", hint: "use a delay of 0 or more"}
		}
	}
	addr, err := loopbackAddr(cfg.Addr)
	return cfg, addr, err
}

// loopbackAddr checks that addr names a loopback host and returns it in a
// form to listen on. "localhost" becomes 127.0.0.1, so that what the
// sandbox listens on never depends on the resolver.
func loopbackAddr(addr string) (string, error) {
	if addr == "" {
		return "127.0.0.1:0", nil
	}
	bad := func(reason string) error {
		return &ConfigError{Field: "Addr", Value: addr, Reason: reason,
			hint: "use a loopback address such as 127.0.0.1:4566; the sandbox serves this machine only"}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", bad("not host:port")
	}
	if strings.EqualFold(host, "localhost") {
		return net.JoinHostPort("127.0.0.1", port), nil
	}
	ip := net.ParseIP(host)
	if host == "" || ip == nil || !ip.IsLoopback() {
		return "", bad("not a loopback address")
	}
	return addr, nil
}

// hintError is an error with a hint for the user.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// Hint says what to do about the error.
func (e *hintError) Hint() string { return e.hint }

// prepareEFS creates (or completes) the folder standing for the EFS root.
func (s *Server) prepareEFS(dir string) error {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "breakglass-efs-")
		if err != nil {
			return fmt.Errorf("sandbox: create EFS folder: %w", err)
		}
		dir, s.removeEFS = tmp, true
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("sandbox: EFS folder %s: %w", dir, err)
	}
	s.efsDir = abs
	// The same folders the CDK app's custom resource creates on the real
	// file system.
	for _, sub := range []string{"mysql/data", "rabbitmq/data"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			s.removeEFSDir()
			return fmt.Errorf("sandbox: seed EFS folder %s: %w", abs, err)
		}
	}
	return nil
}

func (s *Server) removeEFSDir() error {
	if !s.removeEFS {
		return nil
	}
	if err := os.RemoveAll(s.efsDir); err != nil {
		return fmt.Errorf("sandbox: remove EFS folder %s: %w", s.efsDir, err)
	}
	return nil
}

// URL returns the base URL of all the sandbox's APIs, such as
// "http://127.0.0.1:4566".
func (s *Server) URL() string { return s.url }

// EFSDir returns the absolute path of the folder standing for the EFS root;
// exec sessions start in it.
func (s *Server) EFSDir() string { return s.efsDir }

// Close stops serving, ends every exec session, stops the lifecycle timers
// and removes the EFS folder if New created it. Only the first call does
// anything; later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for t := range s.timers {
			t.Stop()
		}
		clear(s.timers)
		s.mu.Unlock()

		s.wakeDC()
		<-s.dcDone

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := s.http.Shutdown(ctx)
		cancel()
		if err != nil {
			_ = s.http.Close()
		}
		<-s.served
		s.dc.Close()
		s.closeErr = s.removeEFSDir()
	})
	return s.closeErr
}

// Exports returns the shell lines that point the AWS CLI, the SDKs and
// breakglass at the sandbox, in a fixed order: one endpoint for every
// service, the region, dummy credentials, no instance metadata lookups, and
// `unset` lines for the variables that would override any of these (a
// profile, a session token, per-service endpoints, and
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, which would make the SDKs ignore the
// endpoint).
func (s *Server) Exports() []string {
	var out []string
	for _, kv := range s.Env() {
		out = append(out, "export "+kv)
	}
	return append(out, "unset "+strings.Join(unsetVars, " "))
}

// unsetVars are the variables Environ removes and Exports unsets.
var unsetVars = []string{
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_SESSION_TOKEN",
	"AWS_ENDPOINT_URL_ECS",
	"AWS_ENDPOINT_URL_SSM",
	"AWS_ENDPOINT_URL_STS",
	"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
}

// Env returns the variables of Exports as KEY=VALUE, in the same order,
// without the ones to unset. Use Environ to also remove those from an
// inherited environment.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.url,
		"AWS_REGION=" + s.cfg.Region,
		"AWS_DEFAULT_REGION=" + s.cfg.Region,
		"AWS_ACCESS_KEY_ID=sandbox",
		"AWS_SECRET_ACCESS_KEY=sandbox",
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Environ returns base (such as os.Environ()) without the AWS variables
// Exports unsets or sets, followed by Env: an environment for an exec.Cmd
// that talks to the sandbox and nothing else.
func (s *Server) Environ(base []string) []string {
	env := s.Env()
	drop := map[string]bool{}
	for _, k := range unsetVars {
		drop[k] = true
	}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		drop[k] = true
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, env...)
}

// ServeHTTP routes a request: data-channel WebSockets by path, API calls by
// X-Amz-Target (ECS, SSM) or form Action (STS) on any path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, datachannel.PathPrefix) {
		s.dc.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodPost {
		if r.Method == http.MethodGet && r.URL.Path == "/" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "breakglass sandbox: ECS, SSM and STS APIs for region %s; "+
				"point AWS_ENDPOINT_URL here\n", s.cfg.Region)
			return
		}
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "the sandbox APIs take POST requests", http.StatusMethodNotAllowed)
		return
	}
	s.serveAPI(w, r)
}

// Timers and the data-channel queue

// after runs fn under s.mu once d has passed, unless the server closes
// first. The caller must hold s.mu, which also keeps fn from seeing a half
// made timer.
func (s *Server) after(d time.Duration, fn func(now time.Time)) {
	if s.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		delete(s.timers, t)
		fn(time.Now())
	})
	s.timers[t] = struct{}{}
}

type dcOp struct {
	run  func()
	done chan struct{}
}

// queueDC queues a call into the data channel and returns a channel closed
// once it has run. The caller must hold s.mu; the order of the queue is the
// order of the state changes that caused the calls. After Close the call is
// dropped and the channel is closed at once.
func (s *Server) queueDC(run func()) <-chan struct{} {
	done := make(chan struct{})
	if s.closed {
		close(done)
		return done
	}
	s.dcQueue = append(s.dcQueue, dcOp{run: run, done: done})
	s.wakeDC()
	return done
}

func (s *Server) wakeDC() {
	select {
	case s.dcWake <- struct{}{}:
	default:
	}
}

// runDC runs queued data-channel calls until Close, then drains the queue.
func (s *Server) runDC() {
	defer close(s.dcDone)
	for range s.dcWake {
		s.mu.Lock()
		ops, closed := s.dcQueue, s.closed
		s.dcQueue = nil
		s.mu.Unlock()
		for _, op := range ops {
			op.run()
			close(op.done)
		}
		if closed {
			return
		}
	}
}

// onEvent turns a data-channel event into a MarkSession mark.
func (s *Server) onEvent(ev datachannel.Event) {
	m := Mark{At: ev.At, Kind: MarkSession, SessionID: ev.SessionID, Detail: string(ev.Kind)}
	s.mu.Lock()
	if sess, ok := s.sessions[ev.SessionID]; ok {
		m.Cluster, m.TaskID = sess.task.cluster.name, sess.task.id
		if sess.task.service != nil {
			m.Service = sess.task.service.name
		}
	}
	s.mu.Unlock()
	s.mark(m)
	if s.cfg.Log != nil {
		s.logLine(strings.TrimSpace(fmt.Sprintf("session %s %s %s", ev.SessionID, ev.Kind, ev.Detail)))
	}
}

func (s *Server) logLine(line string) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	fmt.Fprintf(s.cfg.Log, "%s %s\n", time.Now().Format("15:04:05.000"), line)
}
