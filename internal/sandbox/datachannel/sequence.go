package datachannel

import (
	"time"

	"github.com/aws/session-manager-plugin/src/message"
)

// maxEarlyFrames bounds the frames kept while waiting for a missing
// predecessor, the same capacity the plugin and the agent use.
const maxEarlyFrames = 10000

// inbox puts the client's input_stream_data frames in order. It is not safe
// for concurrent use; the session's mutex guards it.
//
// The rules are the agent's (reference §3.6): every frame is acknowledged,
// duplicates included; frames are processed strictly in sequence; frames
// that arrive early wait for their predecessors; frames already processed
// are dropped.
type inbox struct {
	next  int64                            // sequence number to process next
	early map[int64]*message.ClientMessage // frames with number > next
}

// push files m and returns whether m must be acknowledged and the frames, in
// order, that can be processed now (m and any early frames it unblocks). A
// frame is refused, and not acknowledged, only when the early buffer is full,
// so that the client sends it again later.
//
// Two frames may carry the same number, because the plugin bumps its
// counter from several goroutines without a lock (reference P7); the first
// one wins, as with the agent.
func (b *inbox) push(m *message.ClientMessage) (ack bool, ready []*message.ClientMessage) {
	switch seq := m.SequenceNumber; {
	case seq < b.next:
		return true, nil
	case seq > b.next:
		if _, dup := b.early[seq]; dup {
			return true, nil
		}
		if len(b.early) >= maxEarlyFrames {
			return false, nil
		}
		if b.early == nil {
			b.early = make(map[int64]*message.ClientMessage)
		}
		b.early[seq] = m
		return true, nil
	}

	ready = append(ready, m)
	b.next++
	for {
		f, ok := b.early[b.next]
		if !ok {
			return true, ready
		}
		delete(b.early, b.next)
		ready = append(ready, f)
		b.next++
	}
}

// sentFrame is an output frame kept until the client acknowledges it.
type sentFrame struct {
	seq    int64
	raw    []byte
	sentAt time.Time // last time it was (to be) written
}

// outbox numbers the server's output_stream_data frames and keeps them until
// acknowledged. It is not safe for concurrent use; the session's mutex
// guards it.
//
// Numbers start at 0 and have no gaps (reference P2), and they belong to the
// session, not to a connection, because a resumed client carries on counting
// (P20).
type outbox struct {
	next    int64
	unacked []*sentFrame // ascending by seq
}

// add numbers a new frame with build, which receives the frame's sequence
// number, and keeps it until acknowledged; the caller is about to send it at
// now. A failed build consumes no number.
func (o *outbox) add(now time.Time, build func(seq int64) ([]byte, error)) (*sentFrame, error) {
	raw, err := build(o.next)
	if err != nil {
		return nil, err
	}
	f := &sentFrame{seq: o.next, raw: raw, sentAt: now}
	o.next++
	o.unacked = append(o.unacked, f)
	return f, nil
}

// ack forgets the frame with number seq and reports whether it was pending.
// The client acknowledges by number only (reference §3.6).
func (o *outbox) ack(seq int64) bool {
	for i, f := range o.unacked {
		if f.seq == seq {
			o.unacked = append(o.unacked[:i], o.unacked[i+1:]...)
			return true
		}
		if f.seq > seq {
			break
		}
	}
	return false
}

// due returns the pending frames last sent at least after ago and marks them
// as sent at now. With after ≤ 0 it returns every pending
// frame, for a fresh connection.
func (o *outbox) due(now time.Time, after time.Duration) []*sentFrame {
	var out []*sentFrame
	for _, f := range o.unacked {
		if after <= 0 || now.Sub(f.sentAt) >= after {
			f.sentAt = now
			out = append(out, f)
		}
	}
	return out
}

// pending reports how many frames wait for an acknowledgement.
func (o *outbox) pending() int { return len(o.unacked) }
