package sandbox

import (
	"time"

	"github.com/breakglass-dev/breakglass/internal/naming"
)

// SeedEnv is the environment the sandbox is seeded with.
const SeedEnv = "DEMO"

// Seeded services, as SERVICE names of the naming convention:
//   - SeedBreakglass is the breakglass service: tagged, exec enabled, at rest.
//   - SeedApp is an ordinary service (untagged) with two running tasks, so
//     that breakglass's refusal to scale it can be seen.
//   - SeedNoExec is tagged but has exec disabled, so that the exec refusal
//     can be seen.
const (
	SeedBreakglass = "EFS-Util"
	SeedApp        = "App"
	SeedNoExec     = "NoExec"
)

const busyboxImage = "public.ecr.aws/docker/library/busybox:stable"

type serviceSpec struct {
	svc     string // SERVICE
	managed bool
	exec    bool
	desired int32
	image   string
}

// seed builds the DEMO environment. Called once from New with s.mu held.
func (s *Server) seed(now time.Time) {
	project := naming.DefaultProject
	created := now.Add(-30 * 24 * time.Hour)

	name := naming.ClusterName(project, SeedEnv)
	c := &cluster{
		name:      name,
		arn:       s.arn("cluster/" + name),
		createdAt: created,
		tags:      []wireTag{},
		// As the CDK app configures it: exec audit logs to CloudWatch,
		// encrypted with a KMS key.
		exec: &wireExecConfig{
			KmsKeyID: "arn:aws:kms:" + s.cfg.Region + ":" + s.cfg.AccountID +
				":key/5a4d1c0e-6b7f-4e3a-9c2d-0b1a2f3e4d5c",
			Logging: "OVERRIDE",
			LogConfiguration: &wireExecLogConfig{
				CloudWatchLogGroupName:      "/" + project + "/" + SeedEnv + "/ecs-exec",
				CloudWatchEncryptionEnabled: true,
			},
		},
	}
	s.clusters = append(s.clusters, c)

	specs := []serviceSpec{
		{svc: SeedBreakglass, managed: true, exec: true, desired: 0, image: busyboxImage},
		{svc: SeedApp, managed: false, exec: true, desired: 2,
			image: "public.ecr.aws/nginx/nginx:stable"},
		{svc: SeedNoExec, managed: true, exec: false, desired: 0, image: busyboxImage},
	}
	for _, sp := range specs {
		svc := s.seedService(c, project, sp, created)
		// Tasks of the running service were started long ago and are fully
		// up, exec agent included.
		for range sp.desired {
			s.seedRunningTask(svc, now.Add(-2*time.Hour))
		}
		svc.addEvent(now.Add(-time.Hour),
			"(service "+svc.name+") has reached a steady state.")
		svc.steady = true
	}
}

func (s *Server) seedService(c *cluster, project string, sp serviceSpec,
	created time.Time) *service {
	name := naming.ServiceName(project, SeedEnv, sp.svc)
	fam := naming.TaskFamily(project, SeedEnv, sp.svc)
	svc := &service{
		cluster:           c,
		name:              name,
		arn:               s.arn("service/" + c.name + "/" + name),
		status:            "ACTIVE",
		desired:           sp.desired,
		family:            fam,
		taskDefinition:    s.arn("task-definition/" + fam + ":1"),
		launchType:        "FARGATE",
		platform:          "LATEST",
		enableExec:        sp.exec,
		tags:              []wireTag{},
		containers:        []containerDef{{name: naming.ContainerName(sp.svc), image: sp.image}},
		createdAt:         created,
		deploymentID:      "ecs-svc/" + randomDigits(19),
		deploymentCreated: created,
		deploymentUpdated: created,
	}
	if sp.managed {
		svc.tags = append(svc.tags, wireTag{Key: naming.ManagedTagKey, Value: naming.ManagedTagValue})
	}
	c.services = append(c.services, svc)
	return svc
}

// seedRunningTask adds a task of svc that has been running since started.
func (s *Server) seedRunningTask(svc *service, started time.Time) {
	t := s.newTask(svc, started.Add(-time.Minute))
	t.visibleAt = t.createdAt
	t.connectivityAt = started.Add(-50 * time.Second)
	t.pullStartedAt = started.Add(-40 * time.Second)
	t.pullStoppedAt = started.Add(-10 * time.Second)
	t.startedAt = started
	t.lastStatus = statusRunning
	t.version = 4
	t.eni.status = "ATTACHED"
	for _, c := range t.containers {
		c.lastStatus = statusRunning
		c.imageDigest = imageDigest(c.image)
		c.runtimeID = t.id + "-" + randomDigits(10)
		if c.agent != nil {
			c.agent.lastStatus = statusRunning
			c.agent.lastStartedAt = started.Add(5 * time.Second)
		}
	}
	t.agentConnected = t.enableExec
	t.connectMarked = true
}
