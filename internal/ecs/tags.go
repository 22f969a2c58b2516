package ecs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// Tags that record who holds a breakglass service open.
const (
	OpenedByTagKey = "breakglass:opened-by"
	OpenedAtTagKey = "breakglass:opened-at"
)

// maxTagValue is the longest tag value ECS accepts.
const maxTagValue = 256

// MarkOpen tags the service (by ARN) with who holds it open and since when
// (RFC 3339, UTC). Characters ECS does not allow in tag values are replaced
// by '_'. The error is for a warning: a service that cannot be tagged can
// still be opened.
func (c *Client) MarkOpen(ctx context.Context, serviceARN, who string) error {
	_, err := c.api.TagResource(ctx, &ecs.TagResourceInput{
		ResourceArn: aws.String(serviceARN),
		Tags: []types.Tag{
			{Key: aws.String(OpenedByTagKey), Value: aws.String(tagValue(who))},
			{Key: aws.String(OpenedAtTagKey),
				Value: aws.String(c.o.Now().UTC().Format(time.RFC3339))},
		},
	})
	if err != nil {
		e := c.classify(fmt.Sprintf("tag service %s as opened", lastSegment(serviceARN)), err)
		e.Service = lastSegment(serviceARN)
		return e
	}
	return nil
}

// ClearOpen removes the tags MarkOpen set; removing absent tags is not an
// error. The error is for a warning, like MarkOpen's.
func (c *Client) ClearOpen(ctx context.Context, serviceARN string) error {
	_, err := c.api.UntagResource(ctx, &ecs.UntagResourceInput{
		ResourceArn: aws.String(serviceARN),
		TagKeys:     []string{OpenedByTagKey, OpenedAtTagKey},
	})
	if err != nil {
		e := c.classify(fmt.Sprintf("remove opened tags from service %s", lastSegment(serviceARN)), err)
		e.Service = lastSegment(serviceARN)
		return e
	}
	return nil
}

// tagValue makes s a valid ECS tag value: at most 256 of letters, digits,
// spaces and + - = . _ : / @.
func tagValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= maxTagValue {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			strings.ContainsRune(" +-=._:/@", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}
