package sandbox

import (
	"slices"
	"time"
)

// Wire shapes of the ECS answers, with the exact member names of the API
// (reference/ecs-api.md §1.4). Renderers build them under s.mu as deep
// copies, so that they can be encoded after the lock is released.

type wireTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type wireFailure struct {
	Arn    string `json:"arn,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

type wireExecConfig struct {
	KmsKeyID         string             `json:"kmsKeyId,omitempty"`
	Logging          string             `json:"logging,omitempty"`
	LogConfiguration *wireExecLogConfig `json:"logConfiguration,omitempty"`
}

type wireExecLogConfig struct {
	CloudWatchLogGroupName      string `json:"cloudWatchLogGroupName,omitempty"`
	CloudWatchEncryptionEnabled bool   `json:"cloudWatchEncryptionEnabled"`
	S3BucketName                string `json:"s3BucketName,omitempty"`
	S3EncryptionEnabled         bool   `json:"s3EncryptionEnabled"`
	S3KeyPrefix                 string `json:"s3KeyPrefix,omitempty"`
}

type wireClusterConfiguration struct {
	ExecuteCommandConfiguration *wireExecConfig `json:"executeCommandConfiguration,omitempty"`
}

type wireNameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type wireCluster struct {
	ClusterArn                        string                    `json:"clusterArn"`
	ClusterName                       string                    `json:"clusterName"`
	Status                            string                    `json:"status"`
	RegisteredContainerInstancesCount int32                     `json:"registeredContainerInstancesCount"`
	RunningTasksCount                 int32                     `json:"runningTasksCount"`
	PendingTasksCount                 int32                     `json:"pendingTasksCount"`
	ActiveServicesCount               int32                     `json:"activeServicesCount"`
	Statistics                        []wireNameValue           `json:"statistics"`
	Tags                              []wireTag                 `json:"tags,omitempty"`
	Settings                          []wireNameValue           `json:"settings,omitempty"`
	CapacityProviders                 []string                  `json:"capacityProviders"`
	DefaultCapacityProviderStrategy   []any                     `json:"defaultCapacityProviderStrategy"`
	Configuration                     *wireClusterConfiguration `json:"configuration,omitempty"`
}

type wireEvent struct {
	ID        string    `json:"id"`
	CreatedAt epochTime `json:"createdAt"`
	Message   string    `json:"message"`
}

type wireAwsVpc struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups"`
	AssignPublicIP string   `json:"assignPublicIp"`
}

type wireNetworkConfiguration struct {
	AwsvpcConfiguration wireAwsVpc `json:"awsvpcConfiguration"`
}

type wireDeployment struct {
	ID                   string                    `json:"id"`
	Status               string                    `json:"status"`
	TaskDefinition       string                    `json:"taskDefinition"`
	DesiredCount         int32                     `json:"desiredCount"`
	PendingCount         int32                     `json:"pendingCount"`
	RunningCount         int32                     `json:"runningCount"`
	FailedTasks          int32                     `json:"failedTasks"`
	CreatedAt            epochTime                 `json:"createdAt"`
	UpdatedAt            epochTime                 `json:"updatedAt"`
	LaunchType           string                    `json:"launchType"`
	PlatformVersion      string                    `json:"platformVersion"`
	PlatformFamily       string                    `json:"platformFamily"`
	NetworkConfiguration *wireNetworkConfiguration `json:"networkConfiguration,omitempty"`
	RolloutState         string                    `json:"rolloutState"`
	RolloutStateReason   string                    `json:"rolloutStateReason"`
}

type wireCircuitBreaker struct {
	Enable   bool `json:"enable"`
	Rollback bool `json:"rollback"`
}

type wireDeploymentConfiguration struct {
	DeploymentCircuitBreaker wireCircuitBreaker `json:"deploymentCircuitBreaker"`
	MaximumPercent           int32              `json:"maximumPercent"`
	MinimumHealthyPercent    int32              `json:"minimumHealthyPercent"`
}

type wireDeploymentController struct {
	Type string `json:"type"`
}

type wireService struct {
	ServiceArn              string                      `json:"serviceArn"`
	ServiceName             string                      `json:"serviceName"`
	ClusterArn              string                      `json:"clusterArn"`
	LoadBalancers           []any                       `json:"loadBalancers"`
	ServiceRegistries       []any                       `json:"serviceRegistries"`
	Status                  string                      `json:"status"`
	DesiredCount            int32                       `json:"desiredCount"`
	RunningCount            int32                       `json:"runningCount"`
	PendingCount            int32                       `json:"pendingCount"`
	LaunchType              string                      `json:"launchType"`
	PlatformVersion         string                      `json:"platformVersion"`
	PlatformFamily          string                      `json:"platformFamily"`
	TaskDefinition          string                      `json:"taskDefinition"`
	DeploymentConfiguration wireDeploymentConfiguration `json:"deploymentConfiguration"`
	Deployments             []wireDeployment            `json:"deployments"`
	Events                  []wireEvent                 `json:"events"`
	CreatedAt               epochTime                   `json:"createdAt"`
	PlacementConstraints    []any                       `json:"placementConstraints"`
	PlacementStrategy       []any                       `json:"placementStrategy"`
	NetworkConfiguration    *wireNetworkConfiguration   `json:"networkConfiguration,omitempty"`
	SchedulingStrategy      string                      `json:"schedulingStrategy"`
	DeploymentController    wireDeploymentController    `json:"deploymentController"`
	Tags                    []wireTag                   `json:"tags,omitempty"`
	CreatedBy               string                      `json:"createdBy"`
	EnableECSManagedTags    bool                        `json:"enableECSManagedTags"`
	PropagateTags           string                      `json:"propagateTags"`
	EnableExecuteCommand    bool                        `json:"enableExecuteCommand"`
}

type wireManagedAgent struct {
	LastStartedAt epochTime `json:"lastStartedAt,omitzero"`
	Name          string    `json:"name"`
	LastStatus    string    `json:"lastStatus"`
}

type wireNetworkInterface struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIpv4Address string `json:"privateIpv4Address"`
}

type wireContainer struct {
	ContainerArn      string                 `json:"containerArn"`
	TaskArn           string                 `json:"taskArn"`
	Name              string                 `json:"name"`
	Image             string                 `json:"image"`
	ImageDigest       string                 `json:"imageDigest,omitempty"`
	RuntimeID         string                 `json:"runtimeId,omitempty"`
	LastStatus        string                 `json:"lastStatus"`
	ExitCode          *int32                 `json:"exitCode,omitempty"`
	Reason            string                 `json:"reason,omitempty"`
	NetworkBindings   []any                  `json:"networkBindings"`
	NetworkInterfaces []wireNetworkInterface `json:"networkInterfaces"`
	HealthStatus      string                 `json:"healthStatus"`
	ManagedAgents     []wireManagedAgent     `json:"managedAgents,omitempty"`
	CPU               string                 `json:"cpu"`
}

type wireAttachment struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Status  string          `json:"status"`
	Details []wireNameValue `json:"details"`
}

type wireContainerOverride struct {
	Name string `json:"name"`
}

type wireOverrides struct {
	ContainerOverrides            []wireContainerOverride `json:"containerOverrides"`
	InferenceAcceleratorOverrides []any                   `json:"inferenceAcceleratorOverrides"`
}

type wireEphemeralStorage struct {
	SizeInGiB int32 `json:"sizeInGiB"`
}

type wireTask struct {
	Attachments          []wireAttachment     `json:"attachments"`
	Attributes           []wireNameValue      `json:"attributes"`
	AvailabilityZone     string               `json:"availabilityZone"`
	ClusterArn           string               `json:"clusterArn"`
	Connectivity         string               `json:"connectivity,omitempty"`
	ConnectivityAt       epochTime            `json:"connectivityAt,omitzero"`
	Containers           []wireContainer      `json:"containers"`
	CPU                  string               `json:"cpu"`
	CreatedAt            epochTime            `json:"createdAt"`
	DesiredStatus        string               `json:"desiredStatus"`
	EnableExecuteCommand bool                 `json:"enableExecuteCommand"`
	EphemeralStorage     wireEphemeralStorage `json:"ephemeralStorage"`
	ExecutionStoppedAt   epochTime            `json:"executionStoppedAt,omitzero"`
	Group                string               `json:"group,omitempty"`
	HealthStatus         string               `json:"healthStatus"`
	LastStatus           string               `json:"lastStatus"`
	LaunchType           string               `json:"launchType"`
	Memory               string               `json:"memory"`
	Overrides            wireOverrides        `json:"overrides"`
	PlatformFamily       string               `json:"platformFamily"`
	PlatformVersion      string               `json:"platformVersion"`
	PullStartedAt        epochTime            `json:"pullStartedAt,omitzero"`
	PullStoppedAt        epochTime            `json:"pullStoppedAt,omitzero"`
	StartedAt            epochTime            `json:"startedAt,omitzero"`
	StartedBy            string               `json:"startedBy,omitempty"`
	StopCode             string               `json:"stopCode,omitempty"`
	StoppedAt            epochTime            `json:"stoppedAt,omitzero"`
	StoppedReason        string               `json:"stoppedReason,omitempty"`
	StoppingAt           epochTime            `json:"stoppingAt,omitzero"`
	Tags                 []wireTag            `json:"tags,omitempty"`
	TaskArn              string               `json:"taskArn"`
	TaskDefinitionArn    string               `json:"taskDefinitionArn"`
	Version              int64                `json:"version"`
}

// Fargate facts every sandbox task shares.
const (
	fargatePlatformVersion = "1.4.0"
	platformFamily         = "Linux"
	taskCPU                = "256"
	taskMemory             = "512"
)

func has(include []string, what string) bool { return slices.Contains(include, what) }

func (s *Server) renderCluster(c *cluster, include []string) wireCluster {
	out := wireCluster{
		ClusterArn:                      c.arn,
		ClusterName:                     c.name,
		Status:                          "ACTIVE",
		Statistics:                      []wireNameValue{},
		CapacityProviders:               []string{"FARGATE", "FARGATE_SPOT"},
		DefaultCapacityProviderStrategy: []any{},
	}
	for _, svc := range c.services {
		if svc.status == "ACTIVE" {
			out.ActiveServicesCount++
		}
	}
	for _, t := range c.tasks {
		switch t.lastStatus {
		case statusRunning:
			out.RunningTasksCount++
		case statusProvisioning, statusPending, statusActivating:
			out.PendingTasksCount++
		}
	}
	if has(include, "TAGS") {
		out.Tags = slices.Clone(c.tags)
	}
	if has(include, "SETTINGS") {
		out.Settings = []wireNameValue{{Name: "containerInsights", Value: "disabled"}}
	}
	if has(include, "CONFIGURATIONS") {
		out.Configuration = &wireClusterConfiguration{}
		if c.exec != nil {
			ec := *c.exec
			if ec.LogConfiguration != nil {
				lc := *ec.LogConfiguration
				ec.LogConfiguration = &lc
			}
			out.Configuration.ExecuteCommandConfiguration = &ec
		}
	}
	return out
}

// sandboxNetwork is the awsvpc configuration of every seeded service.
func sandboxNetwork() *wireNetworkConfiguration {
	return &wireNetworkConfiguration{AwsvpcConfiguration: wireAwsVpc{
		Subnets:        []string{"subnet-0a5b0c5d0e5f50001", "subnet-0a5b0c5d0e5f50002"},
		SecurityGroups: []string{"sg-0b5a0d5b0c5e50001"},
		AssignPublicIP: "DISABLED",
	}}
}

func (s *Server) renderService(svc *service, include []string) wireService {
	running, pending := svc.counts()
	out := wireService{
		ServiceArn:        svc.arn,
		ServiceName:       svc.name,
		ClusterArn:        svc.cluster.arn,
		LoadBalancers:     []any{},
		ServiceRegistries: []any{},
		Status:            svc.status,
		DesiredCount:      svc.desired,
		RunningCount:      running,
		PendingCount:      pending,
		LaunchType:        svc.launchType,
		PlatformVersion:   svc.platform,
		PlatformFamily:    platformFamily,
		TaskDefinition:    svc.taskDefinition,
		DeploymentConfiguration: wireDeploymentConfiguration{
			MaximumPercent:        200,
			MinimumHealthyPercent: 100,
		},
		Deployments: []wireDeployment{{
			ID:                   svc.deploymentID,
			Status:               "PRIMARY",
			TaskDefinition:       svc.taskDefinition,
			DesiredCount:         svc.desired,
			PendingCount:         pending,
			RunningCount:         running,
			CreatedAt:            epoch(svc.deploymentCreated),
			UpdatedAt:            epoch(svc.deploymentUpdated),
			LaunchType:           svc.launchType,
			PlatformVersion:      fargatePlatformVersion,
			PlatformFamily:       platformFamily,
			NetworkConfiguration: sandboxNetwork(),
			// Changing only the desired count starts no deployment, so the
			// rollout of the seeded deployment stays completed.
			RolloutState:       "COMPLETED",
			RolloutStateReason: "ECS deployment " + svc.deploymentID + " completed.",
		}},
		Events:               slices.Clone(svc.events),
		CreatedAt:            epoch(svc.createdAt),
		PlacementConstraints: []any{},
		PlacementStrategy:    []any{},
		NetworkConfiguration: sandboxNetwork(),
		SchedulingStrategy:   "REPLICA",
		DeploymentController: wireDeploymentController{Type: "ECS"},
		CreatedBy:            "arn:aws:iam::" + s.cfg.AccountID + ":role/breakglass-deployer",
		PropagateTags:        "NONE",
		EnableExecuteCommand: svc.enableExec,
	}
	if out.Events == nil {
		out.Events = []wireEvent{}
	}
	if has(include, "TAGS") {
		out.Tags = slices.Clone(svc.tags)
	}
	return out
}

func (s *Server) renderTask(t *task, include []string) wireTask {
	out := wireTask{
		Attachments: []wireAttachment{{
			ID:     t.eni.id,
			Type:   "ElasticNetworkInterface",
			Status: t.eni.status,
			Details: []wireNameValue{
				{Name: "subnetId", Value: t.eni.subnet},
				{Name: "networkInterfaceId", Value: t.eni.nic},
				{Name: "macAddress", Value: t.eni.mac},
				{Name: "privateDnsName", Value: "ip-" + dashed(t.eni.ip) + ".ec2.internal"},
				{Name: "privateIPv4Address", Value: t.eni.ip},
			},
		}},
		Attributes:           []wireNameValue{{Name: "ecs.cpu-architecture", Value: "x86_64"}},
		AvailabilityZone:     s.cfg.Region + "a",
		ClusterArn:           t.cluster.arn,
		CPU:                  taskCPU,
		CreatedAt:            epoch(t.createdAt),
		ConnectivityAt:       epoch(t.connectivityAt),
		DesiredStatus:        t.desiredStatus,
		EnableExecuteCommand: t.enableExec,
		EphemeralStorage:     wireEphemeralStorage{SizeInGiB: 20},
		ExecutionStoppedAt:   epoch(t.executionStoppedAt),
		Group:                t.group,
		HealthStatus:         "UNKNOWN",
		LastStatus:           t.lastStatus,
		LaunchType:           t.launchType,
		Memory:               taskMemory,
		Overrides:            wireOverrides{InferenceAcceleratorOverrides: []any{}},
		PlatformFamily:       platformFamily,
		PlatformVersion:      fargatePlatformVersion,
		PullStartedAt:        epoch(t.pullStartedAt),
		PullStoppedAt:        epoch(t.pullStoppedAt),
		StartedAt:            epoch(t.startedAt),
		StartedBy:            t.startedBy,
		StopCode:             t.stopCode,
		StoppedAt:            epoch(t.stoppedAt),
		StoppedReason:        t.stoppedReason,
		StoppingAt:           epoch(t.stoppingAt),
		TaskArn:              t.arn,
		TaskDefinitionArn:    t.taskDefinition,
		Version:              t.version,
	}
	if !t.connectivityAt.IsZero() {
		out.Connectivity = "CONNECTED"
	}
	for _, c := range t.containers {
		out.Containers = append(out.Containers, renderContainer(t, c))
		out.Overrides.ContainerOverrides = append(out.Overrides.ContainerOverrides,
			wireContainerOverride{Name: c.name})
	}
	if has(include, "TAGS") {
		out.Tags = slices.Clone(t.tags)
	}
	return out
}

func renderContainer(t *task, c *container) wireContainer {
	out := wireContainer{
		ContainerArn:    c.arn,
		TaskArn:         t.arn,
		Name:            c.name,
		Image:           c.image,
		ImageDigest:     c.imageDigest,
		RuntimeID:       c.runtimeID,
		LastStatus:      c.lastStatus,
		Reason:          c.reason,
		NetworkBindings: []any{},
		NetworkInterfaces: []wireNetworkInterface{{
			AttachmentID:       t.eni.id,
			PrivateIpv4Address: t.eni.ip,
		}},
		HealthStatus: "UNKNOWN",
		CPU:          "0",
	}
	if c.exitCode != nil {
		code := *c.exitCode
		out.ExitCode = &code
	}
	if c.agent != nil {
		out.ManagedAgents = []wireManagedAgent{{
			LastStartedAt: epoch(c.agent.lastStartedAt),
			Name:          execAgentName,
			LastStatus:    c.agent.lastStatus,
		}}
	}
	return out
}

// dashed turns "10.0.1.7" into "10-0-1-7", as in EC2 private DNS names.
func dashed(ip string) string {
	b := []byte(ip)
	for i := range b {
		if b[i] == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

// addEvent records a service event, keeping the newest maxEvents.
func (svc *service) addEvent(now time.Time, msg string) {
	const maxEvents = 100
	ev := wireEvent{ID: newRequestID(), CreatedAt: epoch(now), Message: msg}
	svc.events = slices.Insert(svc.events, 0, ev)
	if len(svc.events) > maxEvents {
		svc.events = svc.events[:maxEvents]
	}
}
