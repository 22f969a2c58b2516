package naming

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveDerivesTheConventionalNames(t *testing.T) {
	n, err := Resolve("", "DEMO", "EFS-Util", Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	want := Names{
		Project:    "breakglass",
		Env:        "DEMO",
		Service:    "EFS-Util",
		Cluster:    "breakglass-ECS-DEMO",
		ECSService: "breakglass-EFS-Util-DEMO",
		Container:  "efs_util",
		TaskFamily: "breakglass-EFS-Util-Task-DEMO",
	}
	if n != want {
		t.Errorf("Resolve = %+v, want %+v", n, want)
	}
}

func TestResolveAppliesProjectAndOverrides(t *testing.T) {
	n, err := Resolve("acme", "PROD", "Data_Fix", Overrides{Cluster: "shared", Container: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Cluster != "shared" || n.ECSService != "acme-Data_Fix-PROD" || n.Container != "main" {
		t.Errorf("got %+v", n)
	}
	if n.TaskFamily != "acme-Data_Fix-Task-PROD" {
		t.Errorf("TaskFamily = %q", n.TaskFamily)
	}
}

func TestResolveRejectsBadInput(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		name      string
		project   string
		env       string
		service   string
		o         Overrides
		wantField string
	}{
		{"an empty environment is refused", "", "", "EFS-Util", Overrides{}, "environment"},
		{"a slash in the environment is refused", "", "DE/MO", "EFS-Util", Overrides{}, "environment"},
		{"a space in the service is refused", "", "DEMO", "EFS Util", Overrides{}, "service"},
		{"a dot in the project is refused", "a.b", "DEMO", "EFS-Util", Overrides{}, "project"},
		{"a bad cluster override is refused", "", "DEMO", "EFS-Util", Overrides{Cluster: "x:y"}, "--cluster"},
		{"a bad service override is refused", "", "DEMO", "EFS-Util", Overrides{Service: "ü"}, "--service"},
		{"a bad container override is refused", "", "DEMO", "EFS-Util", Overrides{Container: "a b"}, "--container"},
		{"an over-long part is refused", "", long, "EFS-Util", Overrides{}, "environment"},
		{"a derived name over 255 is refused", "", strings.Repeat("e", 200), strings.Repeat("s", 60), Overrides{}, "service name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tt.project, tt.env, tt.service, tt.o)
			var ne *Error
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ne.Field != tt.wantField {
				t.Errorf("Field = %q, want %q (err %v)", ne.Field, tt.wantField, err)
			}
			if ne.Hint() == "" {
				t.Error("no hint")
			}
		})
	}
}

func TestValidateNamesTheBadCharacter(t *testing.T) {
	err := Validate("environment", "DE MO")
	if err == nil || !strings.Contains(err.Error(), "' ' at position 3") {
		t.Errorf("err = %v", err)
	}
}

func TestEnvFromCluster(t *testing.T) {
	tests := []struct {
		cluster string
		env     string
		ok      bool
	}{
		{"breakglass-ECS-DEMO", "DEMO", true},
		{"breakglass-ECS-", "", false},
		{"other-ECS-DEMO", "", false},
		{"breakglass-ECS-A/B", "", false},
	}
	for _, tt := range tests {
		env, ok := EnvFromCluster("breakglass", tt.cluster)
		if env != tt.env || ok != tt.ok {
			t.Errorf("EnvFromCluster(%q) = %q, %v; want %q, %v", tt.cluster, env, ok, tt.env, tt.ok)
		}
	}
}

func TestServiceFromName(t *testing.T) {
	tests := []struct {
		name string
		svc  string
		ok   bool
	}{
		{"breakglass-EFS-Util-DEMO", "EFS-Util", true},
		{"breakglass-EFS-Util-PROD", "", false},
		{"app-DEMO", "", false},
		{"breakglass--DEMO", "", false},
	}
	for _, tt := range tests {
		svc, ok := ServiceFromName("breakglass", "DEMO", tt.name)
		if svc != tt.svc || ok != tt.ok {
			t.Errorf("ServiceFromName(%q) = %q, %v; want %q, %v", tt.name, svc, ok, tt.svc, tt.ok)
		}
	}
}
