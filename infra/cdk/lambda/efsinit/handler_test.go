package main

import (
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// props builds Directories the way CloudFormation delivers them: every
// scalar a string. Owner and group are the test's own ids so that the test
// needs no root.
func props(paths ...string) map[string]any {
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	dirs := make([]any, 0, len(paths))
	for _, p := range paths {
		dirs = append(dirs, map[string]any{"Path": p, "Owner": uid, "Group": gid, "Mode": "0750"})
	}
	return map[string]any{
		"ServiceToken":   "arn:aws:lambda:eu-west-1:123456789012:function:init",
		propFileSystemID: "fs-0123456789abcdef0",
		propDirectories:  dirs,
	}
}

// cloudFormation stands in for the presigned S3 URL CloudFormation waits on,
// on 127.0.0.1, and records each response.
type cloudFormation struct {
	srv *httptest.Server

	mu        sync.Mutex
	responses []cfn.Response
}

func newCloudFormation(t *testing.T) *cloudFormation {
	t.Helper()
	c := &cloudFormation{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "want PUT", http.StatusMethodNotAllowed)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var resp cfn.Response
		if err := json.Unmarshal(body, &resp); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.responses = append(c.responses, resp)
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// send runs one request through the same wrapper main uses and returns what
// CloudFormation received.
func (c *cloudFormation) send(t *testing.T, h *handler, ev cfn.Event) cfn.Response {
	t.Helper()
	ev.ResponseURL = c.srv.URL + "/response"
	ev.StackID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/breakglass-EFS-DEMO/1"
	ev.LogicalResourceID = "InitDirectories"
	ev.ResourceType = "Custom::EfsDirectories"
	if ev.RequestID == "" {
		ev.RequestID = "request-" + string(ev.RequestType)
	}
	if _, err := cfn.LambdaWrap(h.handle)(context.Background(), ev); err != nil {
		t.Fatalf("%s: delivering the response failed: %v", ev.RequestType, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.responses) == 0 {
		t.Fatalf("%s: CloudFormation received no response", ev.RequestType)
	}
	return c.responses[len(c.responses)-1]
}

func assertDir(t *testing.T, root, p string, mode fs.FileMode) {
	t.Helper()
	info, err := os.Lstat(filepath.Join(root, p))
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	if !info.IsDir() {
		t.Fatalf("%s is %v, want a directory", p, info.Mode())
	}
	if got := info.Mode().Perm(); got != mode {
		t.Errorf("%s has mode %04o, want %04o", p, got, mode)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if ok && (int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid()) {
		t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
}

func TestHandlerAnswersEachCloudFormationRequestType(t *testing.T) {
	root := t.TempDir()
	h := &handler{root: root}
	cf := newCloudFormation(t)
	p := props("/mysql/data", "/rabbitmq/data")

	resp := cf.send(t, h, cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: p})
	if resp.Status != cfn.StatusSuccess {
		t.Fatalf("create: status %s, reason %q", resp.Status, resp.Reason)
	}
	if resp.PhysicalResourceID != "efs-directories-fs-0123456789abcdef0" {
		t.Errorf("create: physical id %q", resp.PhysicalResourceID)
	}
	if got := resp.Data["Created"]; got != "/mysql/data,/rabbitmq/data" {
		t.Errorf("create: Created = %v", got)
	}
	assertDir(t, root, "mysql/data", 0o750)
	assertDir(t, root, "rabbitmq/data", 0o750)
	assertDir(t, root, "mysql", 0o755)

	// An operator's data and permission changes must survive an update.
	if err := os.WriteFile(filepath.Join(root, "mysql/data/ibdata1"), []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "rabbitmq/data"), 0o700); err != nil {
		t.Fatal(err)
	}

	resp = cf.send(t, h, cfn.Event{
		RequestType:           cfn.RequestUpdate,
		PhysicalResourceID:    resp.PhysicalResourceID,
		ResourceProperties:    props("/mysql/data", "/rabbitmq/data", "/redis/data"),
		OldResourceProperties: p,
	})
	if resp.Status != cfn.StatusSuccess {
		t.Fatalf("update: status %s, reason %q", resp.Status, resp.Reason)
	}
	if resp.PhysicalResourceID != "efs-directories-fs-0123456789abcdef0" {
		t.Errorf("update: physical id changed to %q, which makes CloudFormation replace the resource",
			resp.PhysicalResourceID)
	}
	if got := resp.Data["Created"]; got != "/redis/data" {
		t.Errorf("update: Created = %v, want only the new directory", got)
	}
	if got := resp.Data["Existing"]; got != "/mysql/data,/rabbitmq/data" {
		t.Errorf("update: Existing = %v", got)
	}
	assertDir(t, root, "rabbitmq/data", 0o700)
	assertDir(t, root, "redis/data", 0o750)

	resp = cf.send(t, h, cfn.Event{
		RequestType:        cfn.RequestDelete,
		PhysicalResourceID: "efs-directories-fs-0123456789abcdef0",
		ResourceProperties: p,
	})
	if resp.Status != cfn.StatusSuccess {
		t.Fatalf("delete: status %s, reason %q", resp.Status, resp.Reason)
	}
	if resp.PhysicalResourceID != "efs-directories-fs-0123456789abcdef0" {
		t.Errorf("delete: physical id %q", resp.PhysicalResourceID)
	}
	if b, err := os.ReadFile(filepath.Join(root, "mysql/data/ibdata1")); err != nil || string(b) != "data" {
		t.Errorf("delete removed data: %q, %v", b, err)
	}
}

func TestHandlerReportsFailuresToCloudFormation(t *testing.T) {
	tests := []struct {
		name       string
		ev         cfn.Event
		root       string // empty: a fresh temporary directory
		wantReason string
	}{
		{
			name:       "an unknown request type fails",
			ev:         cfn.Event{RequestType: "Frobnicate", ResourceProperties: props("/a")},
			wantReason: `unknown request type "Frobnicate"`,
		},
		{
			name: "a create without a file system id fails",
			ev: cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: map[string]any{
				propDirectories: props("/a")[propDirectories]}},
			wantReason: "FileSystemId is missing",
		},
		{
			name: "a create with a relative path fails",
			ev: cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: map[string]any{
				propFileSystemID: "fs-1", propDirectories: []any{map[string]any{"Path": "mysql/data"}}}},
			wantReason: "not absolute",
		},
		{
			name:       "a create fails when the file system is not mounted",
			ev:         cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: props("/a")},
			root:       "/nonexistent/breakglass-efs-root",
			wantReason: "open file system root",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tt.root
			if root == "" {
				root = t.TempDir()
			}
			cf := newCloudFormation(t)
			resp := cf.send(t, &handler{root: root}, tt.ev)
			if resp.Status != cfn.StatusFailed {
				t.Fatalf("status %s, want FAILED", resp.Status)
			}
			if !strings.Contains(resp.Reason, tt.wantReason) {
				t.Errorf("reason %q does not mention %q", resp.Reason, tt.wantReason)
			}
			if resp.PhysicalResourceID == "" {
				t.Error("a failed response still needs a physical id")
			}
		})
	}
}

func TestParseDirectories(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    []Directory
		wantErr string
	}{
		{
			name: "owner, group and mode are read from strings",
			in:   []any{map[string]any{"Path": "/mysql/data", "Owner": "999", "Group": "998", "Mode": "0750"}},
			want: []Directory{{Path: "/mysql/data", UID: 999, GID: 998, Mode: 0o750}},
		},
		{
			name: "owner and group default to root and mode to 0755",
			in:   []any{map[string]any{"Path": "/x"}},
			want: []Directory{{Path: "/x", Mode: 0o755}},
		},
		{name: "a missing list is refused", in: nil, wantErr: "non-empty list"},
		{name: "an empty list is refused", in: []any{}, wantErr: "non-empty list"},
		{name: "a string entry is refused", in: []any{"/x"}, wantErr: "must be an object"},
		{name: "the root is refused", in: []any{map[string]any{"Path": "/"}}, wantErr: "file system root"},
		{name: "a path climbing out is refused", in: []any{map[string]any{"Path": "/a/../../etc"}},
			wantErr: "not clean"},
		{name: "a trailing slash is refused", in: []any{map[string]any{"Path": "/a/"}}, wantErr: "not clean"},
		{name: "a missing path is refused", in: []any{map[string]any{"Mode": "0700"}},
			wantErr: "Path is missing"},
		{name: "a non-octal mode is refused", in: []any{map[string]any{"Path": "/a", "Mode": "0999"}},
			wantErr: "octal"},
		{name: "setuid bits are refused", in: []any{map[string]any{"Path": "/a", "Mode": "4755"}},
			wantErr: "octal"},
		{name: "a negative owner is refused", in: []any{map[string]any{"Path": "/a", "Owner": "-1"}},
			wantErr: "numeric id"},
		{name: "a numeric (not string) owner is refused",
			in:      []any{map[string]any{"Path": "/a", "Owner": 999.0}},
			wantErr: "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDirectories(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEnsureDirectoriesRefusesWhatItMustNotTouch(t *testing.T) {
	t.Run("a file where a directory should be", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "mysql"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "mysql/data"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		dirs := []Directory{{Path: "/mysql/data", Mode: 0o750}}
		_, _, err := ensureDirectories(context.Background(), root, dirs)
		if err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Fatalf("error = %v, want one saying it is not a directory", err)
		}
	})

	t.Run("a symbolic link leading outside the file system", func(t *testing.T) {
		root, outside := t.TempDir(), t.TempDir()
		if err := os.Symlink(outside, filepath.Join(root, "mysql")); err != nil {
			t.Fatal(err)
		}
		dirs := []Directory{{Path: "/mysql/data", Mode: 0o750}}
		_, _, err := ensureDirectories(context.Background(), root, dirs)
		if err == nil {
			t.Fatal("followed a link out of the file system root")
		}
		if _, err := os.Stat(filepath.Join(outside, "data")); !os.IsNotExist(err) {
			t.Errorf("created a directory outside the root: %v", err)
		}
	})

	t.Run("a cancelled context stops before creating anything", func(t *testing.T) {
		root := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		created, _, err := ensureDirectories(ctx, root, []Directory{{Path: "/a", Mode: 0o755}})
		if err == nil || len(created) != 0 {
			t.Fatalf("created %v, error %v", created, err)
		}
	})
}

func TestMain(m *testing.M) {
	// cfn.LambdaWrap logs every failure it reports; the tests check those
	// reports themselves.
	log.SetOutput(io.Discard)
	os.Exit(m.Run())
}
