package sandbox

import (
	"fmt"
	"time"
)

// Fault injection, for tests. Each method may be called on a running server.

// FailNextTaskStart makes the next task any service starts fail in
// ACTIVATING: it goes to STOPPED with the given stopCode and stoppedReason
// (such as "TaskFailedToStart" and "CannotPullContainerError: ..."), and
// its containers carry the reason. Empty arguments default to
// TaskFailedToStart and a pull error. The service then starts a
// replacement, as ECS does.
func (s *Server) FailNextTaskStart(stopCode, reason string) {
	if stopCode == "" {
		stopCode = stopCodeFailed
	}
	if reason == "" {
		reason = "CannotPullContainerError: pull image manifest has been retried 5 time(s): " +
			"failed to resolve ref: not found"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = &startFault{stopCode: stopCode, reason: reason}
}

// StopTaskNow stops a task the way a crash does (stopCode
// EssentialContainerExited, stoppedReason reason): its container and exec
// agent stop and its exec sessions are dropped at once, then the task goes
// through the stop sequence. cluster and taskID may be names, IDs or ARNs.
// It fails if the cluster or the task is unknown or the task is already
// stopping.
func (s *Server) StopTaskNow(cluster, taskID, reason string) error {
	if reason == "" {
		reason = "Essential container in task exited"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, aerr := s.findCluster(cluster)
	if aerr != nil {
		return fmt.Errorf("stop task %s in cluster %s: cluster not found", taskID, cluster)
	}
	t := s.findTask(c, taskID)
	if t == nil {
		return fmt.Errorf("stop task %s in cluster %s: task not found", taskID, cluster)
	}
	if t.desiredStatus != statusRunning {
		return fmt.Errorf("stop task %s in cluster %s: task is already %s", taskID, cluster,
			t.lastStatus)
	}
	s.killTask(t, time.Now(), reason)
	return nil
}

// NeverConnect, while on, keeps every exec agent from connecting: agents
// still go RUNNING, but ExecuteCommand fails with
// TargetNotConnectedException, as with a task that has no route to
// ssmmessages. Turning it off makes tasks whose ConnectDelay has passed
// connectable at once.
func (s *Server) NeverConnect(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.neverConnect = on
	if on {
		return
	}
	now := time.Now()
	for _, c := range s.clusters {
		for _, t := range c.tasks {
			s.markConnectable(t, now)
		}
	}
}

// Throttle makes the next n calls of operation op (such as
// "DescribeTasks") fail with ThrottlingException "Rate exceeded" (400).
// n <= 0 clears it.
func (s *Server) Throttle(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.throttle, op)
		return
	}
	s.throttle[op] = n
}
