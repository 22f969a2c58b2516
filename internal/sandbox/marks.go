package sandbox

import (
	"slices"
	"time"
)

// Mark is one entry of the sandbox's timeline: something that happened, and
// when. Tests and benchmarks read it to measure against the moments only the
// sandbox knows, such as when a container became connectable.
type Mark struct {
	At        time.Time
	Kind      string // one of the Mark* constants
	Cluster   string // cluster name, when the mark concerns one
	Service   string // service name, when the mark concerns one
	TaskID    string // 32-hex task ID, when the mark concerns a task
	SessionID string // exec session ID, for MarkSession
	Detail    string // meaning depends on Kind, see the constants
}

// Mark kinds.
const (
	// MarkDesiredCount: UpdateService set a desired count; Detail is the new
	// count in decimal.
	MarkDesiredCount = "desired-count"
	// MarkTaskStatus: a task changed lastStatus; Detail is the new lastStatus.
	MarkTaskStatus = "task-status"
	// MarkAgentRunning: a task's ExecuteCommandAgent went RUNNING.
	MarkAgentRunning = "agent-running"
	// MarkConnectable: ExecuteCommand into the task succeeds from this moment.
	MarkConnectable = "connectable"
	// MarkSession: an exec session event; Detail is a datachannel EventKind
	// or SessionRegistered.
	MarkSession = "session"
	// MarkAPICall: an API call arrived; Detail is the operation name. At is
	// the moment the request arrived.
	MarkAPICall = "api"
)

// SessionRegistered is the Detail of the MarkSession mark recorded when
// ExecuteCommand hands a new session to the data channel.
const SessionRegistered = "registered"

// maxMarks bounds the timeline of a long-running sandbox; the oldest half is
// dropped when it is reached.
const maxMarks = 1 << 16

// mark appends m to the timeline. It takes only marksMu, so it may be called
// with or without s.mu held.
func (s *Server) mark(m Mark) {
	if m.At.IsZero() {
		m.At = time.Now()
	}
	s.marksMu.Lock()
	defer s.marksMu.Unlock()
	if len(s.marks) >= maxMarks {
		s.marks = slices.Delete(s.marks, 0, maxMarks/2)
	}
	s.marks = append(s.marks, m)
}

// Marks returns a copy of the timeline in time order (ties keep the order in
// which they were recorded). It keeps at most the latest 65536 marks.
func (s *Server) Marks() []Mark {
	s.marksMu.Lock()
	out := slices.Clone(s.marks)
	s.marksMu.Unlock()
	slices.SortStableFunc(out, func(a, b Mark) int { return a.At.Compare(b.At) })
	return out
}

// markTask records a mark about t.
func (s *Server) markTask(t *task, kind, detail string, at time.Time) {
	m := Mark{At: at, Kind: kind, Cluster: t.cluster.name, TaskID: t.id, Detail: detail}
	if t.service != nil {
		m.Service = t.service.name
	}
	s.mark(m)
}
