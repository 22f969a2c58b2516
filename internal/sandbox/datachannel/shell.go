package datachannel

import (
	"path/filepath"
	"strings"
)

// DefaultPrompt is the PS1 of DefaultEnv. It is a fixed string that does not
// follow cd: the process runs in the folder standing for /mnt/efs, where the
// breakglass container's shell starts. bash may replace it from its rc files.
const DefaultPrompt = "/mnt/efs # "

// DefaultEnv is the small clean environment a Session with a nil Env gets:
// PATH, HOME=dir, TERM, PS1=DefaultPrompt and HISTFILE=/dev/null, and nothing
// from the server's own environment (no credentials leak into the sandbox
// shell). HISTFILE keeps shells that save history (bash, which is /bin/sh on
// macOS) from writing it into dir, the EFS root stand-in.
func DefaultEnv(dir string) []string {
	return []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + dir,
		"TERM=xterm-256color",
		"PS1=" + DefaultPrompt,
		"HISTFILE=/dev/null",
	}
}

// shells are the commands that mean "an interactive shell" when given alone.
var shells = map[string]bool{
	"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "ksh": true,
}

// commandLine returns argv for a Session's Command: the shell itself when the
// command names only a shell, otherwise `/bin/sh -c command`.
func commandLine(command string) []string {
	command = strings.TrimSpace(command)
	switch {
	case command == "":
		return []string{"/bin/sh"}
	case !strings.ContainsAny(command, " \t\n") && shells[filepath.Base(command)]:
		return []string{command}
	default:
		return []string{"/bin/sh", "-c", command}
	}
}
