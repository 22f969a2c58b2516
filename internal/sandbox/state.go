package sandbox

import (
	"strings"
	"time"
)

// Task and container states (reference/ecs-api.md §2.1).
const (
	statusProvisioning   = "PROVISIONING"
	statusPending        = "PENDING"
	statusActivating     = "ACTIVATING"
	statusRunning        = "RUNNING"
	statusDeactivating   = "DEACTIVATING"
	statusStopping       = "STOPPING"
	statusDeprovisioning = "DEPROVISIONING"
	statusStopped        = "STOPPED"
)

// Stop codes the sandbox sets.
const (
	stopCodeScheduler = "ServiceSchedulerInitiated"
	stopCodeUser      = "UserInitiated"
	stopCodeExited    = "EssentialContainerExited"
	stopCodeFailed    = "TaskFailedToStart"
)

const (
	execAgentName = "ExecuteCommandAgent"
	// stoppedRetention is how long a stopped task stays visible; ECS promises
	// at least an hour.
	stoppedRetention = time.Hour
)

// cluster is one ECS cluster with everything in it.
type cluster struct {
	name, arn string
	createdAt time.Time
	tags      []wireTag
	exec      *wireExecConfig // nil: no executeCommandConfiguration

	services []*service // creation order
	tasks    []*task    // creation order
}

// service is one ECS service. Its counts are derived from its tasks.
type service struct {
	cluster        *cluster
	name, arn      string
	status         string // ACTIVE
	desired        int32
	family         string
	taskDefinition string // ARN
	launchType     string
	platform       string // platformVersion as the service shows it
	enableExec     bool
	tags           []wireTag
	containers     []containerDef
	createdAt      time.Time

	deploymentID      string
	deploymentCreated time.Time
	deploymentUpdated time.Time

	events []wireEvent // newest first, at most maxEvents
	steady bool
}

type containerDef struct{ name, image string }

// task is one ECS task. Timestamps that are zero have not happened yet.
type task struct {
	id, arn        string
	cluster        *cluster
	service        *service // nil for a task no service owns
	taskDefinition string
	startedBy      string
	group          string
	enableExec     bool
	launchType     string
	lastStatus     string
	desiredStatus  string
	version        int64
	tags           []wireTag

	createdAt, connectivityAt, pullStartedAt, pullStoppedAt time.Time
	startedAt, stoppingAt, executionStoppedAt, stoppedAt    time.Time
	stopCode, stoppedReason                                 string

	// visibleAt is when ListTasks starts to list the task: ECS is eventually
	// consistent, and a new task is missing from ListTasks for a while.
	visibleAt time.Time

	containers []*container
	eni        eni

	// agentConnected is set ConnectDelay after the agent went RUNNING; the
	// task is connectable when it is set and NeverConnect is off.
	agentConnected bool
	connectMarked  bool
	fault          *startFault // set: the task fails in ACTIVATING
	sessions       []string    // exec session IDs, dropped when the task stops
}

type container struct {
	arn, name, image string
	imageDigest      string
	runtimeID        string
	lastStatus       string
	exitCode         *int32
	reason           string
	agent            *managedAgent // nil when exec is disabled
}

type managedAgent struct {
	lastStatus    string
	lastStartedAt time.Time
}

// eni is a task's elastic network interface; id is its attachment ID.
type eni struct {
	id, nic, subnet, ip, mac, status string
}

// startFault makes a task fail to start (FailNextTaskStart).
type startFault struct{ stopCode, reason string }

// execSession is an ECS Exec session the sandbox handed out.
type execSession struct {
	id, token, streamURL string
	task                 *task
	container            string
	ended                bool // terminated, or its task stopped
}

// connectable reports whether ExecuteCommand into t succeeds now.
func (s *Server) connectable(t *task) bool {
	return t.agentConnected && !s.neverConnect && t.desiredStatus == statusRunning
}

// counts returns how many of svc's tasks run and how many are starting.
func (svc *service) counts() (running, pending int32) {
	for _, t := range svc.cluster.tasks {
		if t.service != svc || t.desiredStatus != statusRunning {
			continue
		}
		switch t.lastStatus {
		case statusRunning:
			running++
		case statusProvisioning, statusPending, statusActivating:
			pending++
		}
	}
	return running, pending
}

// activeTasks returns svc's tasks that are meant to run, newest first.
func (svc *service) activeTasks() []*task {
	var out []*task
	for i := len(svc.cluster.tasks) - 1; i >= 0; i-- {
		t := svc.cluster.tasks[i]
		if t.service == svc && t.desiredStatus == statusRunning {
			out = append(out, t)
		}
	}
	return out
}

// stopping reports whether some of svc's tasks are on their way to STOPPED.
func (svc *service) stopping() bool {
	for _, t := range svc.cluster.tasks {
		if t.service == svc && t.desiredStatus == statusStopped && t.lastStatus != statusStopped {
			return true
		}
	}
	return false
}

// pruneStopped forgets tasks of c that have been STOPPED longer than ECS
// keeps them, and their sessions.
func (s *Server) pruneStopped(c *cluster, now time.Time) {
	kept := c.tasks[:0]
	for _, t := range c.tasks {
		if t.lastStatus == statusStopped && now.Sub(t.stoppedAt) > stoppedRetention {
			for _, id := range t.sessions {
				delete(s.sessions, id)
			}
			continue
		}
		kept = append(kept, t)
	}
	clear(c.tasks[len(kept):])
	c.tasks = kept
}

// ARNs

func (s *Server) arn(resource string) string {
	return "arn:aws:ecs:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + resource
}

// ecsResource splits an ECS ARN of this sandbox's region and account into
// its resource type and the parts after it ("service/c/s" → "service",
// ["c", "s"]). ok is false for anything else.
func (s *Server) ecsResource(arn string) (kind string, parts []string, ok bool) {
	fields := strings.SplitN(arn, ":", 6)
	if len(fields) != 6 || fields[0] != "arn" || fields[2] != "ecs" {
		return "", nil, false
	}
	if fields[3] != s.cfg.Region || fields[4] != s.cfg.AccountID {
		return "", nil, false
	}
	parts = strings.Split(fields[5], "/")
	return parts[0], parts[1:], len(parts) > 1
}

func isARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// findCluster resolves a request's cluster parameter: a name, an ARN, or ""
// for the cluster named "default", as in ECS.
func (s *Server) findCluster(ref string) (*cluster, *apiError) {
	name := ref
	if ref == "" {
		name = "default"
	}
	if isARN(ref) {
		kind, parts, ok := s.ecsResource(ref)
		if !ok || kind != "cluster" || len(parts) != 1 {
			return nil, clusterNotFound()
		}
		name = parts[0]
	}
	for _, c := range s.clusters {
		if c.name == name {
			return c, nil
		}
	}
	return nil, clusterNotFound()
}

// findService resolves a service name or ARN within c; nil if unknown.
func (s *Server) findService(c *cluster, ref string) *service {
	name := ref
	if isARN(ref) {
		kind, parts, ok := s.ecsResource(ref)
		if !ok || kind != "service" {
			return nil
		}
		switch len(parts) {
		case 1: // legacy ARN without the cluster
			name = parts[0]
		case 2:
			if parts[0] != c.name {
				return nil
			}
			name = parts[1]
		default:
			return nil
		}
	}
	for _, svc := range c.services {
		if svc.name == name {
			return svc
		}
	}
	return nil
}

// taskIDOf returns the task ID a task reference names: the reference itself,
// or the last part of a task ARN of cluster c.
func (s *Server) taskIDOf(c *cluster, ref string) (string, bool) {
	if !isARN(ref) {
		return ref, true
	}
	kind, parts, ok := s.ecsResource(ref)
	if !ok || kind != "task" {
		return "", false
	}
	switch len(parts) {
	case 1: // legacy ARN without the cluster
		return parts[0], true
	case 2:
		return parts[1], parts[0] == c.name
	}
	return "", false
}

// findTask resolves a task ID or ARN within c; nil if unknown.
func (s *Server) findTask(c *cluster, ref string) *task {
	id, ok := s.taskIDOf(c, ref)
	if !ok {
		return nil
	}
	for _, t := range c.tasks {
		if t.id == id {
			return t
		}
	}
	return nil
}

// setTags merges tags into dst: a known key gets the new value.
func setTags(dst []wireTag, tags []wireTag) []wireTag {
	for _, nt := range tags {
		replaced := false
		for i := range dst {
			if dst[i].Key == nt.Key {
				dst[i].Value = nt.Value
				replaced = true
			}
		}
		if !replaced {
			dst = append(dst, nt)
		}
	}
	return dst
}

// removeTags drops the given keys from dst.
func removeTags(dst []wireTag, keys []string) []wireTag {
	out := dst[:0]
	for _, t := range dst {
		drop := false
		for _, k := range keys {
			drop = drop || t.Key == k
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}
