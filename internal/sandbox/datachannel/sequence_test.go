package datachannel

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/message"
)

// inputFrame builds the client frame the plugin would send as input number
// seq, through the plugin's own serializer and the server's parser.
func inputFrame(t *testing.T, seq int64, ptype message.PayloadType,
	payload string) *message.ClientMessage {
	t.Helper()
	raw, err := clientFrameRaw(seq, ptype, payload)
	if err != nil {
		t.Fatalf("serialize input %d: %v", seq, err)
	}
	parsed, err := parseFrame(raw)
	if err != nil {
		t.Fatalf("parse input %d: %v", seq, err)
	}
	return parsed
}

func TestInboxOrdersInput(t *testing.T) {
	type push struct {
		seq      int64
		payload  string
		wantAck  bool
		wantDone []string // payloads processed by this push, in order
	}
	tests := []struct {
		name   string
		pushes []push
	}{
		{"frames in order are processed as they come", []push{
			{0, "a", true, []string{"a"}},
			{1, "b", true, []string{"b"}},
			{2, "c", true, []string{"c"}},
		}},
		{"a duplicate is acked again but processed once", []push{
			{0, "a", true, []string{"a"}},
			{0, "a", true, nil},
			{1, "b", true, []string{"b"}},
		}},
		{"early frames wait for the missing one and then all go in order", []push{
			{2, "c", true, nil},
			{1, "b", true, nil},
			{0, "a", true, []string{"a", "b", "c"}},
			{3, "d", true, []string{"d"}},
		}},
		{"an old frame arriving after the gap closed is dropped", []push{
			{0, "a", true, []string{"a"}},
			{2, "c", true, nil},
			{1, "b", true, []string{"b", "c"}},
			{2, "c", true, nil},
			{1, "b", true, nil},
		}},
		{"of two early frames with the same number the first one wins", []push{
			{1, "first", true, nil},
			{1, "second", true, nil},
			{0, "a", true, []string{"a", "first"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b inbox
			for i, p := range tt.pushes {
				ack, ready := b.push(inputFrame(t, p.seq, message.Output, p.payload))
				var got []string
				for _, m := range ready {
					got = append(got, string(m.Payload))
				}
				if ack != p.wantAck || !slices.Equal(got, p.wantDone) {
					t.Errorf("push %d (seq %d): ack %v, processed %q; want ack %v, processed %q",
						i, p.seq, ack, got, p.wantAck, p.wantDone)
				}
			}
		})
	}
}

func TestInboxRefusesEarlyFramesBeyondItsCapacity(t *testing.T) {
	var b inbox
	m := inputFrame(t, 1, message.Output, "x")
	for seq := int64(1); seq <= maxEarlyFrames; seq++ {
		c := *m
		c.SequenceNumber = seq
		if ack, _ := b.push(&c); !ack {
			t.Fatalf("early frame %d refused with %d buffered", seq, len(b.early))
		}
	}
	over := *m
	over.SequenceNumber = maxEarlyFrames + 1
	if ack, _ := b.push(&over); ack {
		t.Errorf("frame beyond the early buffer was acked; it must be refused so the client resends it")
	}
	ack, ready := b.push(inputFrame(t, 0, message.Output, "x"))
	if !ack || len(ready) != maxEarlyFrames+1 {
		t.Errorf("the missing frame: ack %v, %d processed; want true, %d",
			ack, len(ready), maxEarlyFrames+1)
	}
}

func TestOutboxNumbersFromZeroWithoutGaps(t *testing.T) {
	var o outbox
	now := time.Now()
	build := func(seq int64) ([]byte, error) { return buildOutput(seq, message.Output, []byte("x")) }
	for want := int64(0); want < 3; want++ {
		f, err := o.add(now, build)
		if err != nil || f.seq != want {
			t.Fatalf("add: frame %v, err %v; want seq %d", f, err, want)
		}
	}
	empty := func(seq int64) ([]byte, error) { return buildOutput(seq, message.Output, nil) }
	if _, err := o.add(now, empty); err == nil {
		t.Fatalf("add of an empty frame succeeded")
	}
	if f, _ := o.add(now, build); f.seq != 3 {
		t.Errorf("after a failed build the next frame is %d; want 3 (no gap)", f.seq)
	}
}

func TestOutboxKeepsFramesUntilAcked(t *testing.T) {
	t0 := time.Now()
	build := func(seq int64) ([]byte, error) { return buildOutput(seq, message.Output, []byte("x")) }
	seqs := func(fs []*sentFrame) []int64 {
		var out []int64
		for _, f := range fs {
			out = append(out, f.seq)
		}
		return out
	}

	var o outbox
	for range 4 {
		if _, err := o.add(t0, build); err != nil {
			t.Fatal(err)
		}
	}
	if !o.ack(1) || o.ack(1) || o.ack(9) {
		t.Errorf("ack: want true for a pending frame, false for a repeat and an unknown number")
	}
	if got := seqs(o.due(t0.Add(100*time.Millisecond), 250*time.Millisecond)); got != nil {
		t.Errorf("frames due 100ms after sending: %v; want none", got)
	}
	got := seqs(o.due(t0.Add(300*time.Millisecond), 250*time.Millisecond))
	if !slices.Equal(got, []int64{0, 2, 3}) {
		t.Errorf("frames due 300ms after sending: %v; want [0 2 3]", got)
	}
	if got := seqs(o.due(t0.Add(400*time.Millisecond), 250*time.Millisecond)); got != nil {
		t.Errorf("frames due 100ms after a resend: %v; want none", got)
	}
	if got := seqs(o.due(t0.Add(400*time.Millisecond), 0)); !slices.Equal(got, []int64{0, 2, 3}) {
		t.Errorf("frames for a new connection: %v; want all pending [0 2 3]", got)
	}
	o.ack(0)
	o.ack(3)
	if o.pending() != 1 {
		t.Errorf("pending after acks: %d; want 1", o.pending())
	}
}
