// Command tinyipsec is an IKEv1 + userspace ESP/AH IPsec VPN for OpenWrt
// routers and small Linux boxes.
//
//	tinyipsec run    [-c FILE]          run the daemon in the foreground
//	tinyipsec check  [-c FILE]          validate a configuration
//	tinyipsec status [-c FILE] [--json|--summary] show IKE and IPsec SAs of the running daemon
//	tinyipsec uci    [-c FILE]          print a UCI configuration as TOML
//	tinyipsec import-cisco [-o OUT] FILE  convert a Cisco running-config
//	tinyipsec version
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"

	"tinyipsec/conf"
	"tinyipsec/internal/cliflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes: 0 success, 1 the operation failed (invalid configuration,
// daemon error), 2 usage errors (wrong flags, missing file).
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	// syscall.Exit rather than os.Exit, whose hooks are for tests and
	// for coverage and race-detector builds, not the release (flash).
	syscall.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: tinyipsec <command> [flags]

commands:
  run     [-c FILE]            run the VPN daemon in the foreground
  check   [-c FILE]            validate the configuration and print OK or every error
  status  [-c FILE] [--json|--summary]  show the IKE and IPsec SAs of the running daemon (--summary: how many)
  uci     [-c FILE]            print a UCI configuration (/etc/config/tinyipsec) as TOML
  keys    --wireshark DIR [-c FILE]  write the live SAs' keys for Wireshark (SECRET files, mode 0600)
  import-cisco [-o OUT] FILE   convert an IOS or ASA running-config to TOML; lost lines on stderr
  version                      print the version

FILE defaults to ` + conf.DefaultConfigPath + `; a UCI file is recognised by its content.
`

// commands are the subcommands that take arguments, by name: a static
// table searched in order (a map would be built at start; flash).
var commands = [...]struct {
	name string
	run  func(args []string, stdout, stderr io.Writer) int
}{
	{"run", cmdRun},
	{"check", cmdCheck},
	{"status", cmdStatus},
	{"uci", cmdUCI},
	{"keys", cmdKeys},
	{"import-cisco", cmdImportCisco},
}

func runCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	for _, c := range commands {
		if c.name == cmd {
			return c.run(rest, stdout, stderr)
		}
	}
	switch cmd {
	case "version", "-v", "--version":
		// The Go release from runtime.Version, not debug.ReadBuildInfo,
		// which would link the build-info parser for the same string.
		fmt.Fprintf(stdout, "tinyipsec %s %s\n", version, runtime.Version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "tinyipsec: unknown command %q (try: tinyipsec help)\n", cmd)
		return exitUsage
	}
}

// newFlags makes a flag set for one command that reports errors as one
// line, not Go's default help dump.
func newFlags(name string, stderr io.Writer) (*cliflag.Set, *string) {
	fs := cliflag.New(name)
	path := fs.String("c", conf.DefaultConfigPath, "configuration file (TOML or UCI)")
	fs.StringVar(path, "config", conf.DefaultConfigPath, "configuration file (TOML or UCI)")
	return fs, path
}

// parseFlags parses and turns problems into the one-line usage error.
func parseFlags(fs *cliflag.Set, args []string, stderr io.Writer) bool {
	if err := fs.Parse(args); err != nil {
		if err == cliflag.ErrHelp {
			var b strings.Builder
			fs.VisitAll(func(name string) {
				if name != "config" {
					fmt.Fprintf(&b, " [-%s]", name)
				}
			})
			fmt.Fprintf(stderr, "usage: tinyipsec %s%s\n", fs.Name(), b.String())
			return false
		}
		fmt.Fprintf(stderr, "tinyipsec %s: %v\n", fs.Name(), err)
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tinyipsec %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// configFromArgs is how the commands that take only -c start: parse the
// arguments, then read and validate the configuration they name. A
// missing or unreadable file is a usage problem (exit 2); an invalid one
// prints every error and gives exit 1.
func configFromArgs(name string, args []string, stderr io.Writer) (path string, cfg *conf.Config, code int) {
	fs, p := newFlags(name, stderr)
	if !parseFlags(fs, args, stderr) {
		return "", nil, exitUsage
	}
	if _, err := os.Stat(*p); err != nil {
		fmt.Fprintf(stderr, "tinyipsec: cannot read configuration: %v\n", err)
		return *p, nil, exitUsage
	}
	cfg, err := conf.Load(*p)
	if err != nil {
		fmt.Fprintln(stderr, errorLines(err))
		return *p, nil, exitFail
	}
	return *p, cfg, exitOK
}

// errorLines is err's text without trailing newlines, to be printed as
// whole lines. A loop rather than strings.TrimRight, whose cut-set
// matching nothing else links (flash).
func errorLines(err error) string {
	s := err.Error()
	for strings.HasSuffix(s, "\n") {
		s = s[:len(s)-1]
	}
	return s
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if _, _, code := configFromArgs("check", args, stderr); code != exitOK {
		return code
	}
	fmt.Fprintln(stdout, "OK")
	return exitOK
}

func cmdUCI(args []string, stdout, stderr io.Writer) int {
	_, cfg, code := configFromArgs("uci", args, stderr)
	if code != exitOK {
		return code
	}
	if err := conf.WriteTOML(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "tinyipsec uci: %v\n", err)
		return exitFail
	}
	return exitOK
}
