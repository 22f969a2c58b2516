package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/breakglass-dev/breakglass/internal/sandbox/datachannel"
)

// The task lifecycle of reference/ecs-api.md §2.1–§2.3, on timers. Every
// function here runs with s.mu held. Each timer step first checks that the
// task is still where the step expects it, so that a stop that overtakes a
// start simply ends the start's chain.

// reconcile is the service scheduler: it starts or stops tasks until the
// number meant to run matches the desired count, then updates the service's
// steady state.
func (s *Server) reconcile(svc *service, now time.Time) {
	active := svc.activeTasks() // newest first
	switch n := int(svc.desired) - len(active); {
	case n > 0:
		var ids []string
		for range n {
			ids = append(ids, "(task "+s.launchTask(svc, now).id+")")
		}
		svc.addEvent(now, fmt.Sprintf("(service %s) has started %d tasks: %s.",
			svc.name, n, strings.Join(ids, " ")))
	case n < 0:
		// Stop tasks that are still starting first, then the newest.
		victims := make([]*task, 0, -n)
		for _, t := range active {
			if t.lastStatus != statusRunning && len(victims) < -n {
				victims = append(victims, t)
			}
		}
		for _, t := range active {
			if t.lastStatus == statusRunning && len(victims) < -n {
				victims = append(victims, t)
			}
		}
		var ids []string
		for _, t := range victims {
			ids = append(ids, "(task "+t.id+")")
			reason := "Scaling activity initiated by (deployment " + svc.deploymentID + ")"
			s.stopTaskAt(t, now, stopCodeScheduler, reason)
		}
		svc.addEvent(now, fmt.Sprintf("(service %s) has stopped %d running tasks: %s.",
			svc.name, len(victims), strings.Join(ids, " ")))
	}
	s.checkSteady(svc, now)
}

// checkSteady adds the steady-state event when svc becomes steady.
func (s *Server) checkSteady(svc *service, now time.Time) {
	running, pending := svc.counts()
	steady := running == svc.desired && pending == 0 && !svc.stopping()
	if steady && !svc.steady {
		svc.addEvent(now, fmt.Sprintf("(service %s) has reached a steady state.", svc.name))
	}
	svc.steady = steady
	svc.deploymentUpdated = now
}

// newTask makes a task of svc in PROVISIONING, not yet scheduled.
func (s *Server) newTask(svc *service, now time.Time) *task {
	c := svc.cluster
	id := randomHex(32)
	s.ipSeq++
	t := &task{
		id:             id,
		arn:            s.arn("task/" + c.name + "/" + id),
		cluster:        c,
		service:        svc,
		taskDefinition: svc.taskDefinition,
		startedBy:      svc.deploymentID,
		group:          "service:" + svc.name,
		enableExec:     svc.enableExec,
		launchType:     svc.launchType,
		lastStatus:     statusProvisioning,
		desiredStatus:  statusRunning,
		version:        1,
		createdAt:      now,
		visibleAt:      now.Add(s.cfg.ListDelay),
		eni: eni{
			id:     newRequestID(),
			nic:    "eni-" + randomHex(17),
			subnet: sandboxNetwork().AwsvpcConfiguration.Subnets[s.ipSeq%2],
			ip:     fmt.Sprintf("10.0.%d.%d", 128+s.ipSeq/250%100, 4+s.ipSeq%250),
			mac:    "0e:" + colonHex(randomHex(10)),
			status: "PRECREATED",
		},
	}
	for _, def := range svc.containers {
		ct := &container{
			arn:        s.arn("container/" + c.name + "/" + id + "/" + newRequestID()),
			name:       def.name,
			image:      def.image,
			lastStatus: statusPending,
		}
		if t.enableExec {
			ct.agent = &managedAgent{lastStatus: statusPending}
		}
		t.containers = append(t.containers, ct)
	}
	c.tasks = append(c.tasks, t)
	return t
}

// launchTask starts a new task of svc through the start sequence.
func (s *Server) launchTask(svc *service, now time.Time) *task {
	t := s.newTask(svc, now)
	if s.failNext != nil {
		t.fault, s.failNext = s.failNext, nil
	}
	s.markTask(t, MarkTaskStatus, statusProvisioning, now)

	step := s.cfg.StartDelay / 3
	s.after(step, func(now time.Time) {
		if !s.starting(t, statusProvisioning) {
			return
		}
		t.connectivityAt, t.pullStartedAt = now, now
		t.eni.status = "ATTACHED"
		s.setStatus(t, statusPending, now)

		s.after(step, func(now time.Time) {
			if !s.starting(t, statusPending) {
				return
			}
			t.pullStoppedAt = now
			for _, c := range t.containers {
				c.imageDigest = imageDigest(c.image)
				c.runtimeID = t.id + "-" + randomDigits(10)
			}
			s.setStatus(t, statusActivating, now)

			s.after(s.cfg.StartDelay-2*step, func(now time.Time) {
				if !s.starting(t, statusActivating) {
					return
				}
				if t.fault != nil {
					s.failStart(t, now)
					return
				}
				s.run(t, now)
			})
		})
	})
	return t
}

// starting reports whether t is still starting and at status.
func (s *Server) starting(t *task, status string) bool {
	return t.desiredStatus == statusRunning && t.lastStatus == status
}

// run puts a started task into RUNNING and schedules its exec agent.
func (s *Server) run(t *task, now time.Time) {
	t.startedAt = now
	for _, c := range t.containers {
		c.lastStatus = statusRunning
	}
	s.setStatus(t, statusRunning, now)
	if !t.enableExec {
		return
	}

	s.after(s.cfg.AgentDelay, func(now time.Time) {
		if !s.starting(t, statusRunning) {
			return
		}
		for _, c := range t.containers {
			c.agent.lastStatus, c.agent.lastStartedAt = statusRunning, now
		}
		t.version++
		s.markTask(t, MarkAgentRunning, "", now)

		s.after(s.cfg.ConnectDelay, func(now time.Time) {
			if !s.starting(t, statusRunning) {
				return
			}
			t.agentConnected = true
			s.markConnectable(t, now)
		})
	})
}

// markConnectable records the moment t became connectable, once.
func (s *Server) markConnectable(t *task, now time.Time) {
	if t.connectMarked || !s.connectable(t) {
		return
	}
	t.connectMarked = true
	s.markTask(t, MarkConnectable, "", now)
}

// failStart ends a task in ACTIVATING the way a failed image pull or a
// crashing entry point does.
func (s *Server) failStart(t *task, now time.Time) {
	t.desiredStatus = statusStopped
	t.stopCode, t.stoppedReason = t.fault.stopCode, t.fault.reason
	t.stoppingAt, t.executionStoppedAt, t.stoppedAt = now, now, now
	t.eni.status = "DELETED"
	for _, c := range t.containers {
		c.lastStatus = statusStopped
		c.reason = t.fault.reason
		if c.agent != nil {
			c.agent.lastStatus = statusStopped
		}
	}
	s.setStatus(t, statusStopped, now)
	s.stopped(t, now)
}

// stopTaskAt starts the stop sequence of t with the given stopCode and
// stoppedReason. A task already stopping keeps its first stop code.
func (s *Server) stopTaskAt(t *task, now time.Time, stopCode, reason string) {
	if t.desiredStatus == statusStopped {
		return
	}
	t.desiredStatus = statusStopped
	t.stopCode, t.stoppedReason = stopCode, reason
	t.stoppingAt = now
	t.agentConnected = false

	third := s.cfg.StopDelay / 3
	// deprovision stops the containers and ends the task after wait.
	deprovision := func(now time.Time, wait time.Duration) {
		t.executionStoppedAt = now
		for _, c := range t.containers {
			if c.lastStatus == statusRunning {
				c.exitCode = ptr(int32(143)) // SIGTERM, forwarded by the init process
			}
			c.lastStatus = statusStopped
			if c.agent != nil {
				c.agent.lastStatus = statusStopped
			}
		}
		t.eni.status = "DELETED"
		s.endSessions(t)
		s.setStatus(t, statusDeprovisioning, now)
		s.after(wait, func(now time.Time) {
			t.stoppedAt = now
			s.setStatus(t, statusStopped, now)
			s.stopped(t, now)
		})
	}

	// A task that never got to run has nothing to drain or signal.
	if t.lastStatus == statusProvisioning || t.lastStatus == statusPending {
		deprovision(now, s.cfg.StopDelay)
		return
	}
	s.setStatus(t, statusDeactivating, now)
	s.after(third, func(now time.Time) {
		s.setStatus(t, statusStopping, now)
		s.after(third, func(now time.Time) { deprovision(now, s.cfg.StopDelay-2*third) })
	})
}

// killTask stops t at once, as when its essential container exits: the
// container and its agent are gone and exec sessions drop now; the task then
// goes through the stop sequence.
func (s *Server) killTask(t *task, now time.Time, reason string) {
	for _, c := range t.containers {
		if c.lastStatus == statusRunning {
			c.exitCode = ptr(int32(137)) // killed
		}
		c.lastStatus = statusStopped
		if c.agent != nil {
			c.agent.lastStatus = statusStopped
		}
	}
	s.endSessions(t)
	s.stopTaskAt(t, now, stopCodeExited, reason)
}

// stopped runs when t reached STOPPED. The scheduler replaces a task that
// stopped while its service still wants it, as ECS does.
func (s *Server) stopped(t *task, now time.Time) {
	if t.service != nil {
		s.reconcile(t.service, now)
	}
}

// setStatus moves t to a new lastStatus and records it.
func (s *Server) setStatus(t *task, status string, now time.Time) {
	t.lastStatus = status
	t.version++
	s.markTask(t, MarkTaskStatus, status, now)
	if t.service != nil {
		s.checkSteady(t.service, now)
	}
}

// endSessions drops t's exec sessions: the agent that carried them is gone,
// so the data channel closes the sockets without channel_closed.
func (s *Server) endSessions(t *task) {
	for _, id := range t.sessions {
		if sess := s.sessions[id]; sess != nil && !sess.ended {
			sess.ended = true
			s.queueDC(func() { s.dc.Drop(id) })
		}
	}
}

// register hands a new exec session to the data channel. The returned
// channel is closed once the data channel knows the session.
func (s *Server) register(sess *execSession, command string) <-chan struct{} {
	s.sessions[sess.id] = sess
	sess.task.sessions = append(sess.task.sessions, sess.id)
	dcs := datachannel.Session{
		ID:      sess.id,
		Token:   sess.token,
		Command: command,
		Dir:     s.efsDir,
	}
	return s.queueDC(func() { s.dc.Add(dcs) })
}

// imageDigest stands for the digest of an image: stable per image name.
func imageDigest(image string) string {
	sum := sha256.Sum256([]byte(image))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func colonHex(h string) string {
	var parts []string
	for i := 0; i+2 <= len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

func ptr[T any](v T) *T { return &v }

func itoa(n int32) string { return strconv.Itoa(int(n)) }
