//go:build unix

package datachannel

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/creack/pty"
)

// initialSize is the pty size until the client's first Size message, which
// arrives before any output is shown.
var initialSize = pty.Winsize{Cols: 80, Rows: 24}

// process is a session's command running in a pseudo-terminal, as the
// session leader with the pty as its controlling terminal, so that the line
// discipline turns 0x03 into SIGINT for the foreground job, not for the
// shell.
type process struct {
	cmd    *exec.Cmd
	master *os.File // pty master: output is read and keystrokes written here
	pid    int      // also the process group and session id
	reaped atomic.Bool
}

// startProcess starts spec's command in a new pty in spec.Dir.
func startProcess(spec Session) (*process, error) {
	argv := commandLine(spec.Command)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = spec.Env
	if cmd.Env == nil {
		cmd.Env = DefaultEnv(spec.Dir)
	}
	size := initialSize
	master, err := pty.StartWithSize(cmd, &size) // Setsid and Setctty
	if err != nil {
		return nil, fmt.Errorf("start %q in %s: %w", strings.Join(argv, " "), spec.Dir, err)
	}
	return &process{cmd: cmd, master: pollable(master), pid: cmd.Process.Pid}, nil
}

// pollable returns a copy of the pty master in non-blocking mode, registered
// with Go's poller, so that closing it interrupts a pending Read. The master
// creack/pty returns is in blocking mode (it calls Fd), and a blocked Read
// would keep the output pump alive as long as any background job holds the
// terminal. Linux only: elsewhere the original is kept, and a session whose
// shell left a job holding the terminal ends only when that job does.
func pollable(f *os.File) *os.File {
	if runtime.GOOS != "linux" {
		return f
	}
	syscall.ForkLock.RLock() // no exec may inherit the dup before CloseOnExec
	fd, err := syscall.Dup(int(f.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return f
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return f
	}
	_ = f.Close()
	return os.NewFile(uintptr(fd), f.Name())
}

// setSize applies a client Size to the pty; the kernel sends SIGWINCH to the
// foreground job. It goes through the raw fd without File.Fd, which would put
// the master back into blocking mode.
func (p *process) setSize(cols, rows uint16) error {
	ws := pty.Winsize{Cols: cols, Rows: rows}
	return p.ioctl(syscall.TIOCSWINSZ, unsafe.Pointer(&ws))
}

// size returns the pty's current size.
func (p *process) size() (cols, rows uint16, err error) {
	var ws pty.Winsize
	err = p.ioctl(syscall.TIOCGWINSZ, unsafe.Pointer(&ws))
	return ws.Cols, ws.Rows, err
}

func (p *process) ioctl(req uintptr, arg unsafe.Pointer) error {
	rc, err := p.master.SyscallConn()
	if err != nil {
		return fmt.Errorf("ioctl on pty of pid %d: %w", p.pid, err)
	}
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	}); err != nil {
		return fmt.Errorf("ioctl on pty of pid %d: %w", p.pid, err)
	}
	if errno != 0 {
		return fmt.Errorf("ioctl on pty of pid %d: %w", p.pid, errno)
	}
	return nil
}

// wait waits for the process to exit and describes how it did.
func (p *process) wait() string {
	err := p.cmd.Wait()
	p.reaped.Store(true)
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// kill ends the process's group with SIGKILL. Jobs an interactive shell put
// in groups of their own survive it; see killSession. Once the process has
// been reaped its pid may belong to someone else, so nothing is sent.
func (p *process) kill() {
	if !p.reaped.Load() {
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	}
}

// killSession kills every process of the pty's session: the group, and on
// Linux every process whose session id is the leader's pid, which catches
// the shell's background jobs. Used when the task "goes away" and at
// shutdown, so no sandbox process outlives the sandbox. The kernel does not
// reuse a pid while it is still some process's session id, so while the
// shell's jobs live the scan finds only them, even after the shell is gone.
func (p *process) killSession() {
	p.kill()
	for _, pid := range sessionMembers(p.pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// sessionMembers lists the pids whose session id is sid, from /proc. It
// returns nothing where /proc is missing.
func sessionMembers(sid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == sid {
			continue
		}
		if s, err := procSession(pid); err == nil && s == sid {
			pids = append(pids, pid)
		}
	}
	return pids
}

var errProcStat = errors.New("unexpected /proc stat format")

// procSession reads field 6 (session) of /proc/<pid>/stat. The command name
// in field 2 may contain spaces and parentheses, so fields are counted from
// the last ')'.
func procSession(pid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errProcStat
	}
	f := strings.Fields(string(b[i+1:])) // state, ppid, pgrp, session, ...
	if len(f) < 4 {
		return 0, errProcStat
	}
	return strconv.Atoi(f[3])
}
