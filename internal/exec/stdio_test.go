package exec

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBannerFilter(t *testing.T) {
	const id = "ecs-execute-command-0123"
	start, end := startBanner(id), endBanner(id)
	type chunk struct {
		data string
		cut  bool   // the read filled its buffer
		seen string // everything written out once this chunk is handled
	}
	tests := []struct {
		name   string
		chunks []chunk
		want   string // after the end of the stream
	}{
		{"the start banner alone is removed",
			[]chunk{{data: start}}, ""},
		{"output in the same read as the start banner passes at once",
			[]chunk{{data: start + "$ ", seen: "$ "}}, "$ "},
		{"a start banner split over two reads is removed",
			[]chunk{{data: start[:5], cut: true}, {data: start[5:] + "x", seen: "x"}}, "x"},
		{"output that only begins like the start banner is kept",
			[]chunk{{data: "\nStarting", seen: ""}, {data: " line\n", seen: "\nStarting line\n"}},
			"\nStarting line\n"},
		{"output from a child that never printed the start banner is kept",
			[]chunk{{data: "\nStart"}}, "\nStart"},
		{"the end banner at the end of the stream is removed",
			[]chunk{{data: start}, {data: "bye\r\n", seen: "bye\r\n"}, {data: end, seen: "bye\r\n"}},
			"bye\r\n"},
		{"the end banner in the same read as the last output is removed",
			[]chunk{{data: start + "bye\r\n" + end, seen: "bye\r\n"}}, "bye\r\n"},
		{"an end banner followed by more output was output and is kept",
			[]chunk{{data: start}, {data: "a" + end, seen: "a"}, {data: "b", seen: "a" + end + "b"}},
			"a" + end + "b"},
		{"a trailing newline is passed on at once",
			[]chunk{{data: start}, {data: "line\n\n", seen: "line\n\n"}}, "line\n\n"},
		{"the start of the end banner at a cut is held until the next read",
			[]chunk{{data: start}, {data: "out" + end[:9], cut: true, seen: "out"},
				{data: end[9:], seen: "out"}}, "out"},
		{"a cut that only looked like the end banner is written with the next read",
			[]chunk{{data: start}, {data: "out\n\n", cut: true, seen: "out"},
				{data: "more", seen: "out\n\nmore"}}, "out\n\nmore"},
		{"the message variant of channel_closed is kept",
			[]chunk{{data: start}, {data: "\n\nSessionId: " + id + " : idle\n\n",
				seen: "\n\nSessionId: " + id + " : idle\n\n"}},
			"\n\nSessionId: " + id + " : idle\n\n"},
		{"another session's banners are kept",
			[]chunk{{data: startBanner("other"), seen: startBanner("other")}}, startBanner("other")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := newBannerFilter(&out, id)
			for i, c := range tc.chunks {
				if err := f.write([]byte(c.data), c.cut); err != nil {
					t.Fatal(err)
				}
				if out.String() != c.seen {
					t.Errorf("after chunk %d: written %q, want %q", i, out.String(), c.seen)
				}
			}
			if err := f.flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("at the end: written %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestCopyOutputRemovesBannersFromAStream(t *testing.T) {
	const id = "s-1"
	body := strings.Repeat("remote output line\r\n", 5000)
	var out bytes.Buffer

	lost, err := copyOutput(strings.NewReader(startBanner(id)+body+endBanner(id)), &out, id, func() {})

	if err != nil {
		t.Fatal(err)
	}
	if out.String() != body {
		t.Errorf("copied %d bytes, want exactly the %d bytes of body", out.Len(), len(body))
	}
	if lost {
		t.Error("a normal end was reported as a lost connection")
	}
}

func TestCopyOutputReportsALostConnection(t *testing.T) {
	const id = "s-1"
	body := "/mnt/efs # "
	var out bytes.Buffer

	lost, err := copyOutput(strings.NewReader(startBanner(id)+body+lostBanner(id)), &out, id, func() {})

	if err != nil {
		t.Fatal(err)
	}
	if !lost {
		t.Error("the plugin's timed-out ending was not reported")
	}
	if out.String() != body {
		t.Errorf("copied %q, want %q", out.String(), body)
	}
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("broken pipe")
}

func TestCopyOutputKeepsDrainingAfterAWriteFails(t *testing.T) {
	src := strings.NewReader("x" + strings.Repeat("y", 200*1024))
	w := &failingWriter{}
	failed := 0

	_, err := copyOutput(src, w, "s", func() { failed++ })

	if err == nil || !strings.Contains(err.Error(), "write session output") {
		t.Errorf("error = %v, want a write error", err)
	}
	if failed != 1 || w.writes != 1 {
		t.Errorf("failed called %d times after %d writes, want once after one", failed, w.writes)
	}
	if src.Len() != 0 {
		t.Errorf("%d bytes left unread: the child would block on a full pipe", src.Len())
	}
}

func TestChildArgs(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	good := `{"sessionId":"s-1","streamUrl":"ws://127.0.0.1:9/x","tokenValue":"secret-tok"}`

	args, err := childArgs(env(map[string]string{
		envResponse: good, envRegion: "eu-west-1", envProfile: "ops",
		envEndpoint: "http://127.0.0.1:1", envTarget: "ecs:c_t_r",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"session-manager-plugin", envResponse, "eu-west-1", "StartSession", "ops",
		`{"Target":"ecs:c_t_r"}`, "http://127.0.0.1:1"}
	if !slices.Equal(args, want) {
		t.Errorf("args = %q, want %q", args, want)
	}
	if strings.Contains(strings.Join(args, " "), "secret-tok") {
		t.Errorf("the token is on the command line: %q", args)
	}

	for _, bad := range []string{"", "{", `{"sessionId":"s","streamUrl":"u"}`, `{"sessionId":null}`} {
		if _, err := childArgs(env(map[string]string{envResponse: bad})); err == nil {
			t.Errorf("childArgs accepted the response %q, which would make the plugin panic", bad)
		}
	}
}

func TestChildEnv(t *testing.T) {
	base := []string{"PATH=/bin", envChild + "=stale", envResponse + "=stale",
		"GORACE=log_path=/tmp/r"}
	p := Params{SessionJSON: []byte(`{"sessionId":"s"}`), Region: "eu-west-1", Target: "ecs:c_t_r"}

	env := childEnv(base, p)

	count := func(prefix string) int {
		n := 0
		for _, kv := range env {
			if strings.HasPrefix(kv, prefix) {
				n++
			}
		}
		return n
	}
	for _, kv := range []string{"PATH=/bin", envChild + "=" + childMarker,
		envResponse + `={"sessionId":"s"}`, envRegion + "=eu-west-1", envTarget + "=ecs:c_t_r"} {
		if !slices.Contains(env, kv) {
			t.Errorf("child env lacks %q: %q", kv, env)
		}
	}
	for _, k := range []string{envChild + "=", envResponse + "=", "GORACE="} {
		if n := count(k); n != 1 {
			t.Errorf("child env has %d entries %s, want 1", n, k)
		}
	}
	wantRace := "GORACE=log_path=/tmp/r"
	if raceEnabled {
		wantRace += " exitcode=0"
	}
	if !slices.Contains(env, wantRace) {
		t.Errorf("child env lacks %q: %q", wantRace, env)
	}
}

func TestErrNoTerminalHasAHint(t *testing.T) {
	var h interface{ Hint() string }
	if !errors.As(ErrNoTerminal, &h) || !strings.Contains(h.Hint(), "--command") {
		t.Errorf("ErrNoTerminal has no hint naming --command")
	}
}

func TestPluginVersion(t *testing.T) {
	if got := PluginVersion(); got != "1.3.0.0" {
		t.Errorf("PluginVersion() = %q, want the linked plugin's 1.3.0.0", got)
	}
}

func TestLFWriterTurnsCRLFIntoLF(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   string
	}{
		{"line ends become LF", []string{"a\r\nb\r\n"}, "a\nb\n"},
		{"a CRLF split across writes still becomes LF", []string{"a\r", "\nb"}, "a\nb"},
		{"a lone CR is kept", []string{"50%\r100%\r\n"}, "50%\r100%\n"},
		{"a CR at the very end is kept", []string{"x\r"}, "x\r"},
		{"a CR before a write without LF is kept", []string{"x\r", "y"}, "x\ry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			l := &lfWriter{w: &out}
			for _, c := range tt.chunks {
				if _, err := l.Write([]byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}
