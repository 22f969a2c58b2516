package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
)

// Resource properties the stack sets. CloudFormation hands every scalar
// property to a custom resource as a string, so numbers arrive as "999".
const (
	propFileSystemID = "FileSystemId"
	propDirectories  = "Directories"
)

// Directory is one directory to create, relative to the file system root.
type Directory struct {
	Path string      // absolute within the file system, e.g. /mysql/data
	UID  int         // owner of the directory when it is created
	GID  int         // group of the directory when it is created
	Mode fs.FileMode // permission bits of the directory when it is created
}

type handler struct {
	root string // where the file system is mounted
}

// handle answers one CloudFormation request. Create and Update create the
// missing directories and leave existing ones as they are, so running it
// again changes nothing; Delete leaves the file system untouched, because
// removing a stack must never remove data.
func (h *handler) handle(ctx context.Context, ev cfn.Event) (string, map[string]any, error) {
	switch ev.RequestType {
	case cfn.RequestDelete:
		return ev.PhysicalResourceID, nil, nil
	case cfn.RequestCreate, cfn.RequestUpdate:
	default:
		// CloudFormation rejects a response without a physical id, and the
		// wrapper only falls back to the request id for a Create.
		id := ev.PhysicalResourceID
		if id == "" {
			id = ev.RequestID
		}
		return id, nil, fmt.Errorf("handle %s: unknown request type %q", ev.LogicalResourceID,
			ev.RequestType)
	}

	fsID, _ := ev.ResourceProperties[propFileSystemID].(string)
	if fsID == "" {
		return "", nil, fmt.Errorf("handle %s: property %s is missing", ev.LogicalResourceID,
			propFileSystemID)
	}
	dirs, err := parseDirectories(ev.ResourceProperties[propDirectories])
	if err != nil {
		return "", nil, fmt.Errorf("handle %s: %w", ev.LogicalResourceID, err)
	}

	created, existing, err := ensureDirectories(ctx, h.root, dirs)
	if err != nil {
		return "", nil, fmt.Errorf("create directories on %s: %w", fsID, err)
	}

	// The id depends only on the file system: an Update of the directory
	// list keeps the resource, and a new file system gets a new resource
	// (the Delete CloudFormation then sends for the old one is a no-op).
	data := map[string]any{
		"Created":  strings.Join(created, ","),
		"Existing": strings.Join(existing, ","),
	}
	return "efs-directories-" + fsID, data, nil
}

// parseDirectories reads the Directories property: a list of objects with
// Path and optional Owner, Group (numeric, default 0) and Mode (octal,
// default 0755).
func parseDirectories(v any) ([]Directory, error) {
	items, ok := v.([]any)
	if !ok || len(items) == 0 {
		return nil, fmt.Errorf("property %s must be a non-empty list", propDirectories)
	}
	out := make([]Directory, 0, len(items))
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("property %s[%d] must be an object", propDirectories, i)
		}
		d, err := parseDirectory(m)
		if err != nil {
			return nil, fmt.Errorf("property %s[%d]: %w", propDirectories, i, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func parseDirectory(m map[string]any) (Directory, error) {
	str := func(key, def string) (string, error) {
		switch v := m[key].(type) {
		case nil:
			return def, nil
		case string:
			return v, nil
		default:
			return "", fmt.Errorf("property %s must be a string, got %T", key, v)
		}
	}

	p, err := str("Path", "")
	if err != nil {
		return Directory{}, err
	}
	if err := validatePath(p); err != nil {
		return Directory{}, err
	}
	d := Directory{Path: p}

	ids := []struct {
		key string
		dst *int
	}{{"Owner", &d.UID}, {"Group", &d.GID}}
	for _, id := range ids {
		s, err := str(id.key, "0")
		if err != nil {
			return Directory{}, err
		}
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return Directory{}, fmt.Errorf("property %s %q is not a numeric id", id.key, s)
		}
		*id.dst = int(n)
	}

	s, err := str("Mode", "0755")
	if err != nil {
		return Directory{}, err
	}
	mode, err := strconv.ParseUint(s, 8, 32)
	if err != nil || mode > 0o777 {
		return Directory{}, fmt.Errorf("property Mode %q is not an octal permission between 0000 and 0777", s)
	}
	d.Mode = fs.FileMode(mode)
	return d, nil
}

// validatePath accepts clean absolute paths below the root. The root itself
// is refused: its owner and mode belong to EFS.
func validatePath(p string) error {
	switch {
	case p == "":
		return errors.New("property Path is missing")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is not absolute", p)
	case p == "/":
		return errors.New(`path "/" is the file system root, which is not created`)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean (write %q)", p, path.Clean(p))
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains a NUL byte", p)
	}
	return nil
}

// ensureDirectories creates each missing directory with its owner and mode,
// parents owned by root with mode 0755, and leaves existing directories
// untouched, so that an operator's later chown or chmod survives updates. It
// works through os.Root, so a symbolic link on the file system cannot lead
// it outside root.
func ensureDirectories(ctx context.Context, root string, dirs []Directory) (created, existing []string,
	err error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("open file system root: %w", err)
	}
	defer r.Close()

	for _, d := range dirs {
		if err := ctx.Err(); err != nil {
			return created, existing, fmt.Errorf("create %s: %w", d.Path, err)
		}
		made, err := ensureDirectory(r, d)
		if err != nil {
			return created, existing, err
		}
		if made {
			created = append(created, d.Path)
		} else {
			existing = append(existing, d.Path)
		}
	}
	return created, existing, nil
}

func ensureDirectory(r *os.Root, d Directory) (bool, error) {
	rel := strings.TrimPrefix(d.Path, "/")
	info, err := r.Lstat(rel)
	switch {
	case err == nil && info.IsDir():
		return false, nil
	case err == nil:
		return false, fmt.Errorf("create %s: exists and is not a directory (%s)", d.Path, info.Mode().Type())
	case !errors.Is(err, fs.ErrNotExist):
		return false, fmt.Errorf("inspect %s: %w", d.Path, err)
	}

	if parent := path.Dir(rel); parent != "." {
		if err := r.MkdirAll(parent, 0o755); err != nil {
			return false, fmt.Errorf("create parent of %s: %w", d.Path, err)
		}
	}
	if err := r.Mkdir(rel, d.Mode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Created concurrently since the Lstat: someone else's now.
			return false, nil
		}
		return false, fmt.Errorf("create %s: %w", d.Path, err)
	}
	if err := r.Chown(rel, d.UID, d.GID); err != nil {
		return true, fmt.Errorf("set owner of %s to %d:%d: %w", d.Path, d.UID, d.GID, err)
	}
	// Mkdir applied the umask; set the mode asked for.
	if err := r.Chmod(rel, d.Mode); err != nil {
		return true, fmt.Errorf("set mode of %s to %04o: %w", d.Path, d.Mode, err)
	}
	return true, nil
}
