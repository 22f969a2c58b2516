package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/breakglass-dev/breakglass/internal/ecs"
)

var statusNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func sampleStatus() []ecs.ServiceStatus {
	return []ecs.ServiceStatus{
		{
			Env: "DEMO", Service: "EFS-Util", Cluster: "breakglass-ECS-DEMO",
			ECSService: "breakglass-EFS-Util-DEMO",
			ARN:        "arn:aws:ecs:us-east-1:000000000000:service/breakglass-ECS-DEMO/breakglass-EFS-Util-DEMO",
			Status:     "ACTIVE", Desired: 1, Running: 1, ExecEnabled: true,
			OpenedBy: "arn:aws:iam::000000000000:user/alice", OpenedAt: statusNow.Add(-3 * time.Minute),
			Tasks: []ecs.TaskStatus{{
				ID:         "0123456789abcdef0123456789abcdef",
				ARN:        "arn:aws:ecs:us-east-1:000000000000:task/breakglass-ECS-DEMO/0123456789abcdef0123456789abcdef",
				LastStatus: "RUNNING", DesiredStatus: "RUNNING", AgentStatus: "RUNNING",
				CreatedAt: statusNow.Add(-(2*time.Minute + 5*time.Second)),
				StartedAt: statusNow.Add(-2 * time.Minute),
			}},
		},
		{
			Env: "PROD", Service: "EFS-Util", Cluster: "breakglass-ECS-PROD",
			ECSService: "breakglass-EFS-Util-PROD",
			ARN:        "arn:aws:ecs:us-east-1:000000000000:service/breakglass-ECS-PROD/breakglass-EFS-Util-PROD",
			Status:     "ACTIVE", ExecEnabled: true,
		},
	}
}

func TestStatusTableRendering(t *testing.T) {
	var buf bytes.Buffer
	if err := renderStatusTable(&buf, sampleStatus(), statusNow); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.txt", buf.String())
}

func TestStatusJSONRendering(t *testing.T) {
	var buf bytes.Buffer
	if err := renderStatusJSON(&buf, sampleStatus()); err != nil {
		t.Fatal(err)
	}
	golden(t, "status.json", buf.String())

	// The shape is a contract: decode it the way a script would.
	var doc struct {
		Services []struct {
			Env     string `json:"env"`
			Desired int    `json:"desired"`
			Tasks   []struct {
				ExecAgent string `json:"execAgent"`
			} `json:"tasks"`
		} `json:"services"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Services) != 2 || doc.Services[0].Tasks[0].ExecAgent != "RUNNING" || doc.Services[1].Tasks == nil {
		t.Errorf("unexpected document: %+v", doc)
	}
}

func TestStatusJSONOfNothingIsAnEmptyList(t *testing.T) {
	var buf bytes.Buffer
	if err := renderStatusJSON(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "{\n  \"services\": []\n}\n" {
		t.Errorf("got %q", got)
	}
}

func TestFmtAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{42 * time.Second, "42s"},
		{2*time.Minute + 5*time.Second, "2m5s"},
		{3*time.Hour + 4*time.Minute, "3h4m"},
		{50 * time.Hour, "2d2h"},
	}
	for _, tt := range tests {
		if got := fmtAge(tt.d); got != tt.want {
			t.Errorf("fmtAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestPrintableDropsControlCharacters(t *testing.T) {
	got := printable("alice\x1b]0;TITLE\x07\x1b[2J@host")
	if got != "alice]0;TITLE[2J@host" {
		t.Errorf("printable = %q", got)
	}
}
