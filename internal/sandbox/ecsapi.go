package sandbox

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/breakglass-dev/breakglass/internal/sandbox/datachannel"
)

// The ECS operations. Each decodes its request, takes s.mu for the whole
// operation and returns a deep-copied answer. Messages marked (unverified)
// in reference/ecs-api.md are best guesses at ECS's wording.

type describeClustersInput struct {
	Clusters []string `json:"clusters"`
	Include  []string `json:"include"`
}

func (s *Server) describeClusters(body []byte) (any, *apiError) {
	var in describeClustersInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Clusters) > 100 {
		return nil, invalidParameter("clusters can have at most 100 items.")
	}
	if len(in.Clusters) == 0 {
		in.Clusters = []string{"default"}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out := struct {
		Clusters []wireCluster `json:"clusters"`
		Failures []wireFailure `json:"failures"`
	}{Clusters: []wireCluster{}, Failures: []wireFailure{}}
	for _, ref := range in.Clusters {
		c, err := s.findCluster(ref)
		if err != nil {
			out.Failures = append(out.Failures, wireFailure{Arn: s.clusterARN(ref), Reason: "MISSING"})
			continue
		}
		out.Clusters = append(out.Clusters, s.renderCluster(c, in.Include))
	}
	return out, nil
}

type listInput struct {
	MaxResults *int32 `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

func (s *Server) listClusters(body []byte) (any, *apiError) {
	var in listInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var arns []string
	for _, c := range s.clusters {
		arns = append(arns, c.arn)
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		ClusterArns []string `json:"clusterArns"`
		NextToken   string   `json:"nextToken,omitempty"`
	}{page, next}, nil
}

type describeServicesInput struct {
	Cluster  string   `json:"cluster"`
	Services []string `json:"services"`
	Include  []string `json:"include"`
}

func (s *Server) describeServices(body []byte) (any, *apiError) {
	var in describeServicesInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Services) == 0 {
		return nil, invalidParameter("Services cannot be empty.")
	}
	if len(in.Services) > 10 {
		return nil, invalidParameter("services can have at most 10 items.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	out := struct {
		Services []wireService `json:"services"`
		Failures []wireFailure `json:"failures"`
	}{Services: []wireService{}, Failures: []wireFailure{}}
	for _, ref := range in.Services {
		svc := s.findService(c, ref)
		if svc == nil {
			arn := ref
			if !isARN(ref) {
				arn = s.arn("service/" + c.name + "/" + ref)
			}
			out.Failures = append(out.Failures, wireFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Services = append(out.Services, s.renderService(svc, in.Include))
	}
	return out, nil
}

type listServicesInput struct {
	listInput
	Cluster            string `json:"cluster"`
	LaunchType         string `json:"launchType"`
	SchedulingStrategy string `json:"schedulingStrategy"`
}

func (s *Server) listServices(body []byte) (any, *apiError) {
	var in listServicesInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var arns []string
	for _, svc := range c.services {
		if in.LaunchType != "" && in.LaunchType != svc.launchType {
			continue
		}
		if in.SchedulingStrategy != "" && in.SchedulingStrategy != "REPLICA" {
			continue
		}
		arns = append(arns, svc.arn)
	}
	// ListServices returns 10 per page unless told otherwise.
	page, next, err := paginate(arns, in.MaxResults, in.NextToken, 10)
	if err != nil {
		return nil, err
	}
	return struct {
		ServiceArns []string `json:"serviceArns"`
		NextToken   string   `json:"nextToken,omitempty"`
	}{page, next}, nil
}

type updateServiceInput struct {
	Cluster              string `json:"cluster"`
	Service              string `json:"service"`
	DesiredCount         *int32 `json:"desiredCount"`
	EnableExecuteCommand *bool  `json:"enableExecuteCommand"`
}

// updateService changes the desired count and the exec flag. Other members
// (task definition, network, forceNewDeployment) are accepted and ignored:
// the sandbox has no deployments, so a test of a rollout cannot use it.
func (s *Server) updateService(body []byte) (any, *apiError) {
	var in updateServiceInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.Service == "" {
		return nil, invalidParameter("service can not be blank.")
	}
	if in.DesiredCount != nil && *in.DesiredCount < 0 {
		return nil, invalidParameter("desiredCount can not be negative.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	svc := s.findService(c, in.Service)
	if svc == nil {
		return nil, serviceNotFound()
	}
	if svc.status != "ACTIVE" {
		return nil, newError("ServiceNotActiveException", "Service was not ACTIVE.")
	}

	now := time.Now()
	if in.EnableExecuteCommand != nil {
		// Only tasks started from now on see the change, as in ECS.
		svc.enableExec = *in.EnableExecuteCommand
	}
	if in.DesiredCount != nil {
		svc.desired = *in.DesiredCount
		s.mark(Mark{At: now, Kind: MarkDesiredCount, Cluster: c.name, Service: svc.name,
			Detail: itoa(svc.desired)})
		s.reconcile(svc, now)
	}
	return struct {
		Service wireService `json:"service"`
	}{s.renderService(svc, nil)}, nil
}

type listTasksInput struct {
	listInput
	Cluster           string `json:"cluster"`
	ServiceName       string `json:"serviceName"`
	DesiredStatus     string `json:"desiredStatus"`
	Family            string `json:"family"`
	StartedBy         string `json:"startedBy"`
	LaunchType        string `json:"launchType"`
	ContainerInstance string `json:"containerInstance"`
}

func (s *Server) listTasks(body []byte) (any, *apiError) {
	var in listTasksInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	switch in.DesiredStatus {
	case "":
		in.DesiredStatus = statusRunning
	case statusRunning, statusPending, statusStopped:
	default:
		return nil, invalidParameter("desiredStatus must be one of RUNNING, PENDING, STOPPED.")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	var svc *service
	if in.ServiceName != "" {
		if svc = s.findService(c, in.ServiceName); svc == nil {
			return nil, serviceNotFound()
		}
	}

	now := time.Now()
	s.pruneStopped(c, now)
	var arns []string
	for _, t := range c.tasks {
		switch {
		case now.Before(t.visibleAt),
			t.desiredStatus != in.DesiredStatus,
			svc != nil && t.service != svc,
			in.Family != "" && family(t.taskDefinition) != in.Family,
			in.StartedBy != "" && t.startedBy != in.StartedBy,
			in.LaunchType != "" && t.launchType != in.LaunchType,
			in.ContainerInstance != "": // Fargate tasks have no container instance
			continue
		}
		arns = append(arns, t.arn)
	}
	page, next, err := paginate(arns, in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	return struct {
		TaskArns  []string `json:"taskArns"`
		NextToken string   `json:"nextToken,omitempty"`
	}{page, next}, nil
}

// family returns the family of a task definition ARN (".../name:3" → name).
func family(taskDefinition string) string {
	name := lastPart(taskDefinition)
	if i := strings.LastIndex(name, ":"); i >= 0 {
		name = name[:i]
	}
	return name
}

type describeTasksInput struct {
	Cluster string   `json:"cluster"`
	Tasks   []string `json:"tasks"`
	Include []string `json:"include"`
}

func (s *Server) describeTasks(body []byte) (any, *apiError) {
	var in describeTasksInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 {
		return nil, invalidParameter(msgTasksEmpty)
	}
	if len(in.Tasks) > 100 {
		return nil, invalidParameter("tasks can have at most 100 items.")
	}
	for _, ref := range in.Tasks {
		if !isARN(ref) && len(ref) > 36 {
			return nil, invalidParameter("taskId longer than 36.")
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	s.pruneStopped(c, time.Now())
	out := struct {
		Tasks    []wireTask    `json:"tasks"`
		Failures []wireFailure `json:"failures"`
	}{Tasks: []wireTask{}, Failures: []wireFailure{}}
	for _, ref := range in.Tasks {
		t := s.findTask(c, ref)
		if t == nil {
			arn := ref
			if !isARN(ref) {
				arn = s.arn("task/" + c.name + "/" + ref)
			}
			out.Failures = append(out.Failures, wireFailure{Arn: arn, Reason: "MISSING"})
			continue
		}
		out.Tasks = append(out.Tasks, s.renderTask(t, in.Include))
	}
	return out, nil
}

type stopTaskInput struct {
	Cluster string `json:"cluster"`
	Task    string `json:"task"`
	Reason  string `json:"reason"`
}

func (s *Server) stopTask(body []byte) (any, *apiError) {
	var in stopTaskInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.Task == "" {
		return nil, invalidParameter("task can not be blank.")
	}
	if len(in.Reason) > 255 {
		return nil, invalidParameter("reason can be at most 255 characters.")
	}
	if in.Reason == "" {
		in.Reason = "Task stopped by user"
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, err
	}
	t := s.findTask(c, in.Task)
	if t == nil {
		return nil, invalidParameter(msgTaskNotFound)
	}
	s.stopTaskAt(t, time.Now(), stopCodeUser, in.Reason)
	return struct {
		Task wireTask `json:"task"`
	}{s.renderTask(t, nil)}, nil
}

type executeCommandInput struct {
	Cluster     string `json:"cluster"`
	Container   string `json:"container"`
	Command     string `json:"command"`
	Interactive bool   `json:"interactive"`
	Task        string `json:"task"`
}

type wireSession struct {
	SessionID  string `json:"sessionId"`
	StreamURL  string `json:"streamUrl"`
	TokenValue string `json:"tokenValue"`
}

type executeCommandOutput struct {
	ClusterArn    string      `json:"clusterArn"`
	ContainerArn  string      `json:"containerArn"`
	ContainerName string      `json:"containerName"`
	Interactive   bool        `json:"interactive"`
	Session       wireSession `json:"session"`
	TaskArn       string      `json:"taskArn"`
}

// executeCommand opens an ECS Exec session with the error semantics of
// reference/ecs-api.md §2.2. It answers only once the data channel knows
// the session, so that the client can connect at once.
func (s *Server) executeCommand(body []byte) (any, *apiError) {
	var in executeCommandInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Task == "":
		return nil, invalidParameter("task can not be blank.")
	case in.Command == "":
		return nil, invalidParameter("command can not be blank.")
	case !in.Interactive:
		return nil, invalidParameter(msgInteractiveOnly)
	case !isARN(in.Task) && len(in.Task) != 32 && len(in.Task) != 36:
		return nil, invalidParameter("task length should be one of [32,36]")
	}

	s.mu.Lock()
	out, registered, err := s.openSession(in)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	<-registered
	return out, nil
}

func (s *Server) openSession(in executeCommandInput) (any, <-chan struct{}, *apiError) {
	c, err := s.findCluster(in.Cluster)
	if err != nil {
		return nil, nil, err
	}
	t := s.findTask(c, in.Task)
	if t == nil {
		return nil, nil, invalidParameter(msgTaskNotFound)
	}

	var ct *container
	switch {
	case in.Container != "":
		for _, x := range t.containers {
			if x.name == in.Container {
				ct = x
			}
		}
		if ct == nil {
			return nil, nil, invalidParameter(
				"The container %s does not exist in the task. Specify a valid container "+
					"name and try again.", in.Container)
		}
	case len(t.containers) == 1:
		ct = t.containers[0]
	default:
		return nil, nil, invalidParameter("The task has more than one container. " +
			"Specify the container name and try again.")
	}

	// Exec disabled and agent not running give the same answer in ECS.
	if !t.enableExec || ct.agent == nil || ct.agent.lastStatus != statusRunning ||
		t.lastStatus != statusRunning || t.desiredStatus != statusRunning {
		return nil, nil, invalidParameter(msgExecNotRunning)
	}
	if !s.connectable(t) {
		return nil, nil, newError("TargetNotConnectedException", msgTargetNotConnect)
	}

	id := "ecs-execute-command-" + randomHex(17)
	sess := &execSession{
		id:        id,
		token:     base64.RawStdEncoding.EncodeToString(randomBytes(48)),
		streamURL: s.streamURL(id),
		task:      t,
		container: ct.name,
	}
	registered := s.register(sess, in.Command)
	m := Mark{Kind: MarkSession, Cluster: c.name, TaskID: t.id, SessionID: id,
		Detail: SessionRegistered}
	if t.service != nil {
		m.Service = t.service.name
	}
	s.mark(m)

	out := executeCommandOutput{
		ClusterArn:    c.arn,
		ContainerArn:  ct.arn,
		ContainerName: ct.name,
		Interactive:   true,
		Session:       wireSession{SessionID: id, StreamURL: sess.streamURL, TokenValue: sess.token},
		TaskArn:       t.arn,
	}
	return out, registered, nil
}

// streamURL is where the client opens the data channel of a session.
func (s *Server) streamURL(sessionID string) string {
	return datachannel.StreamURL(s.ln.Addr().String(), sessionID)
}

type tagResourceInput struct {
	ResourceArn string    `json:"resourceArn"`
	Tags        []wireTag `json:"tags"`
	TagKeys     []string  `json:"tagKeys"`
}

func (s *Server) tagResource(body []byte) (any, *apiError) {
	var in tagResourceInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, invalidParameter("tags can not be empty.")
	}
	for _, t := range in.Tags {
		switch {
		case t.Key == "" || len(t.Key) > 128:
			return nil, invalidParameter("Tag keys must be between 1 and 128 characters.")
		case len(t.Value) > 256:
			return nil, invalidParameter("Tag values can be at most 256 characters.")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return nil, invalidParameter("Tag keys prefixed with 'aws:' are reserved.")
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	merged := setTags(append([]wireTag(nil), *tags...), in.Tags)
	if len(merged) > 50 {
		return nil, invalidParameter("A resource can have at most 50 tags.")
	}
	*tags = merged
	return struct{}{}, nil
}

func (s *Server) untagResource(body []byte) (any, *apiError) {
	var in tagResourceInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, invalidParameter("tagKeys can not be empty.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	*tags = removeTags(*tags, in.TagKeys)
	return struct{}{}, nil
}

func (s *Server) listTagsForResource(body []byte) (any, *apiError) {
	var in tagResourceInput
	if err := decodeJSON(body, &in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.taggable(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	out := append([]wireTag{}, *tags...)
	return struct {
		Tags []wireTag `json:"tags"`
	}{out}, nil
}

// taggable returns the tags of the cluster, service or task an ARN names.
func (s *Server) taggable(arn string) (*[]wireTag, *apiError) {
	if arn == "" {
		return nil, invalidParameter("resourceArn can not be blank.")
	}
	kind, parts, ok := s.ecsResource(arn)
	if !ok {
		if isARN(arn) && strings.Count(arn, ":") == 5 {
			return nil, notFound()
		}
		return nil, invalidParameter("Invalid identifier: %s", arn)
	}
	var c *cluster
	for _, x := range s.clusters {
		if x.name == parts[0] {
			c = x
		}
	}
	if c == nil {
		return nil, notFound()
	}
	switch {
	case kind == "cluster" && len(parts) == 1:
		return &c.tags, nil
	case kind == "service" && len(parts) == 2:
		if svc := s.findService(c, parts[1]); svc != nil {
			return &svc.tags, nil
		}
	case kind == "task" && len(parts) == 2:
		if t := s.findTask(c, parts[1]); t != nil {
			return &t.tags, nil
		}
	default:
		return nil, invalidParameter("Invalid identifier: %s", arn)
	}
	return nil, notFound()
}

func notFound() *apiError {
	return newError("ResourceNotFoundException", "The specified resource could not be found.")
}

// clusterARN returns the ARN a cluster reference stands for.
func (s *Server) clusterARN(ref string) string {
	if isARN(ref) {
		return ref
	}
	return s.arn("cluster/" + ref)
}

// paginate returns one page of items. Tokens are opaque to clients; here
// they carry the offset of the next page.
func paginate(items []string, maxResults *int32, token string, def int) (
	page []string, next string, aerr *apiError) {
	size := def
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 100 {
			return nil, "", invalidParameter("maxResults must be between 1 and 100.")
		}
		size = int(*maxResults)
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, convErr := strconv.Atoi(strings.TrimPrefix(string(raw), "sandbox-offset:"))
		if err != nil || convErr != nil || !strings.HasPrefix(string(raw), "sandbox-offset:") ||
			n < 0 || n > len(items) {
			return nil, "", invalidParameter("Invalid nextToken.")
		}
		start = n
	}
	end := min(start+size, len(items))
	page = append([]string{}, items[start:end]...)
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("sandbox-offset:" + strconv.Itoa(end)))
	}
	return page, next, nil
}
