package main

import (
	"fmt"
	"io"
	"os"

	"tinyipsec/conf"
	"tinyipsec/internal/ciscoimport"
	"tinyipsec/internal/secretfile"
)

// cmdImportCisco converts an IOS or ASA running-config into TOML: the
// configuration on stdout (or -o FILE, written mode 0600 since it holds
// keys), every line that was not carried over on stderr as FILE:LINE.
// The result is then checked like "tinyipsec check" would, so an admin
// learns at once what is still missing (a hidden key, a policy).
func cmdImportCisco(args []string, stdout, stderr io.Writer) int {
	fs, _ := newFlags("import-cisco", stderr)
	outPath := fs.String("o", "", "write the TOML to this file (mode 0600) instead of stdout")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: tinyipsec import-cisco [-o OUT.toml] RUNNING-CONFIG")
		return exitUsage
	}
	in := fs.Arg(0)
	src, err := os.ReadFile(in)
	if err != nil {
		fmt.Fprintf(stderr, "tinyipsec import-cisco: %v\n", err)
		return exitUsage
	}
	res, err := ciscoimport.Convert(src, ciscoimport.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "tinyipsec import-cisco: %s: %v\n", in, err)
		return exitFail
	}
	fmt.Fprintf(stderr, "%s: read as a Cisco %s configuration\n", in, res.Platform)
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "%s:%d: %s: %s\n", in, n.Line, n.Text, n.Reason)
	}

	name := "import-cisco.toml"
	if *outPath != "" {
		name = *outPath
		if err := secretfile.Write(*outPath, res.TOML); err != nil {
			fmt.Fprintf(stderr, "tinyipsec import-cisco: %v\n", err)
			return exitFail
		}
	} else if _, err := stdout.Write(res.TOML); err != nil {
		return exitFail
	}
	if _, err := conf.Parse(name, res.TOML); err != nil {
		fmt.Fprintf(stderr, "the converted configuration does not pass \"tinyipsec check\" yet:\n%s\n",
			errorLines(err))
		return exitFail
	}
	fmt.Fprintf(stderr, "%d line(s) not carried over or changed; the result passes \"tinyipsec check\"\n", len(res.Notes))
	return exitOK
}
