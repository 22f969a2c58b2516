//go:build unix

package datachannel

import (
	"testing"
	"time"

	"github.com/aws/session-manager-plugin/src/message"
)

// BenchmarkTimeToFirstOutput measures what the server adds to the time to
// the first prompt: open frame, handshake, process start and the first Size,
// until the first output frame arrives. Run it briefly, e.g. -benchtime=20x.
func BenchmarkTimeToFirstOutput(b *testing.B) {
	f := newFixture(b, Options{})
	var handshake, output time.Duration
	for b.Loop() {
		b.StopTimer()
		sess := f.add("/bin/sh")
		b.StartTimer()

		t0 := time.Now()
		c := f.dialRaw(sess.ID, sess.Token)
		c.handshake()
		t1 := time.Now()
		c.resize(80, 24)
		c.ack(c.frame())
		handshake += t1.Sub(t0)
		output += time.Since(t1)

		b.StopTimer()
		f.srv.Terminate(sess.ID)
		for m := c.frame(); m.MessageType != message.ChannelClosedMessage; m = c.frame() {
			c.ack(m)
		}
		_ = c.ws.Close() // as the plugin exits on channel_closed
		b.StartTimer()
	}
	b.ReportMetric(float64(handshake.Microseconds())/float64(b.N), "µs-handshake/op")
	b.ReportMetric(float64(output.Microseconds())/float64(b.N), "µs-size-to-output/op")
}
