// Package spawn runs a helper program (nft) with a script on its standard
// input and collects what it prints, with plain fork/exec system calls.
//
// It exists for flash size: os/exec (Cmd, LookPath, its pipe goroutines
// and context handling) costs about 0.13 MB more of a MIPS router binary
// than the few system calls one synchronous run needs.
package spawn

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxOutput bounds what is kept of the program's output for the error
// message; the rest is read and dropped so the program never blocks.
const maxOutput = 64 << 10

// timeout bounds a run. nft finishes in well under a second; one that
// hangs (waiting on a wedged netlink socket, say) must not hold the
// daemon's start, reload or shutdown forever, so the program and every
// process it started are killed after this long and Run reports it. A
// variable for the tests.
var timeout = 30 * time.Second

// LookPath finds name in the directories of $PATH (or the usual OpenWrt
// and Debian ones when PATH is unset, as under procd).
func LookPath(name string) (string, error) {
	// A name with a slash is the one candidate, else each directory of
	// the list: one loop, so that the check is written once.
	list, slash := "", strings.Contains(name, "/")
	if !slash {
		var ok bool
		if list, ok = syscall.Getenv("PATH"); !ok || list == "" {
			list = "/usr/sbin:/usr/bin:/sbin:/bin"
		}
	}
	for more := true; more; {
		p := name
		more = false
		if !slash {
			var dir string
			dir, list, more = strings.Cut(list, ":")
			if dir == "" {
				dir = "."
			}
			p = dir + "/" + name
		}
		fi, err := os.Stat(p)
		if err == nil && (fi.IsDir() || fi.Mode().Perm()&0o111 == 0) {
			err = errors.New(p + ": not an executable file")
		}
		if err == nil || slash {
			return p, err
		}
	}
	return "", errors.New(name + ": not found in $PATH")
}

// Run starts name (looked up in $PATH) with args, writes stdin to it,
// waits for it to exit and returns its standard output and error,
// interleaved. A non-zero exit status is an error, and so is a run that
// takes longer than timeout (the program's process group is killed).
func Run(name string, args []string, stdin string) (string, error) {
	path, err := LookPath(name)
	if err != nil {
		return "", err
	}
	var in, out [2]int
	err = syscall.Pipe2(in[:], syscall.O_CLOEXEC)
	if err == nil {
		if err = syscall.Pipe2(out[:], syscall.O_CLOEXEC); err != nil {
			syscall.Close(in[0])
			syscall.Close(in[1])
		}
	}
	if err != nil {
		return "", os.NewSyscallError("pipe2", err)
	}
	pid, err := syscall.ForkExec(path, append([]string{name}, args...), &syscall.ProcAttr{
		Env:   syscall.Environ(),
		Files: []uintptr{uintptr(in[0]), uintptr(out[1]), uintptr(out[1])},
		// A group of its own, so that the timeout kills what it
		// started too: a child left holding the output pipe would
		// keep the read below waiting.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	syscall.Close(in[0])
	syscall.Close(out[1])
	if err != nil {
		syscall.Close(in[1])
		syscall.Close(out[0])
		return "", fmt.Errorf("%s: %w", path, err)
	}
	killer := time.AfterFunc(timeout, func() { syscall.Kill(-pid, syscall.SIGKILL) })
	// The writer runs beside the reader: a program that prints a lot
	// before it has read all of its input must not deadlock with us.
	wf := os.NewFile(uintptr(in[1]), "stdin")
	go func() {
		wf.WriteString(stdin)
		wf.Close()
	}()
	rf := os.NewFile(uintptr(out[0]), "output")
	var kept []byte
	buf := make([]byte, 4096)
	for {
		n, rerr := rf.Read(buf)
		if len(kept) < maxOutput {
			kept = append(kept, buf[:min(n, maxOutput-len(kept))]...)
		}
		if rerr != nil {
			break
		}
	}
	rf.Close()
	var ws syscall.WaitStatus
	for {
		_, err = syscall.Wait4(pid, &ws, 0, nil)
		if err != syscall.EINTR {
			break
		}
	}
	timedOut := !killer.Stop()
	output := string(kept)
	if err != nil {
		return output, os.NewSyscallError("wait4", err)
	}
	// One error made at one place for every way the program can end.
	why := "did not exit"
	switch {
	case ws.Exited() && ws.ExitStatus() == 0:
		return output, nil
	case ws.Exited():
		why = "exit status " + strconv.Itoa(ws.ExitStatus())
	case timedOut:
		why = "killed after " + timeout.String() + " without finishing"
	case ws.Signaled():
		why = "killed by signal " + strconv.Itoa(int(ws.Signal()))
	}
	return output, errors.New(name + ": " + why)
}
