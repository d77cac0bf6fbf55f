package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"tinyipsec/internal/wireshark"
)

// Key export for packet analysis: "tinyipsec keys --wireshark DIR" asks the
// daemon over the control socket (root only, mode 0600) for the keys of
// every live SA; the daemon answers with Wireshark's ikev1_decryption_table
// and esp_sa, which the client writes into DIR. Nothing is exported unless
// the admin asks.

// writeWiresharkKeys renders both tables into b for the control socket;
// the client splits them into their files. The copies of the keys made
// for it are wiped here, b by the caller once it is sent.
func (d *daemon) writeWiresharkKeys(b *bytes.Buffer) {
	d.mu.Lock()
	var ikeSAs []wireshark.IKESA
	var espSAs []wireshark.ESPSA
	if ik := d.ike; ik != nil && ik.enabled { // the IKE part holds all SA keys
		for _, k := range ik.mgr.ExportIKEKeys() {
			ikeSAs = append(ikeSAs, wireshark.IKESA{CookieI: k.CookieI, Key: k.Ka})
		}
		espSAs = ik.plane.ExportKeys()
	}
	d.mu.Unlock()
	wireshark.WriteBundle(b, ikeSAs, espSAs)
	for _, sa := range ikeSAs {
		clear(sa.Key)
	}
	for _, sa := range espSAs {
		clear(sa.EncKey)
		clear(sa.AuthKey)
	}
}

// cmdKeys: tinyipsec keys --wireshark DIR.
func cmdKeys(args []string, stdout, stderr io.Writer) int {
	fs, path := newFlags("keys", stderr)
	dir := fs.String("wireshark", "", "write ikev1_decryption_table and esp_sa into this directory")
	socket := fs.String("s", "", "control socket (default: from the configuration)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "usage: tinyipsec keys --wireshark DIR [-c FILE]")
		return exitUsage
	}
	if fi, err := os.Stat(*dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(stderr, "tinyipsec keys: %s is not a directory\n", *dir)
		return exitUsage
	}
	sock := *socket
	if sock == "" {
		sock = controlSocketFor(*path)
	}
	answer, err := controlRequest(sock, "keys wireshark")
	code := exitFail
	if err != nil {
		fmt.Fprintf(stderr, "tinyipsec keys: %v\n", err)
	} else if answer[0] == '{' {
		fmt.Fprintf(stderr, "tinyipsec keys: the daemon refused: %s", answer)
	} else if ikeN, espN, skipped, err := wireshark.WriteDir(*dir, answer); err != nil {
		fmt.Fprintf(stderr, "tinyipsec keys: %v\n", err)
	} else {
		for _, s := range skipped {
			fmt.Fprintf(stderr, "tinyipsec keys: skipped %s\n", s)
		}
		fmt.Fprintf(stdout, "wrote %d IKE and %d ESP keys to %s and %s (SECRET: delete them after use)\n",
			ikeN, espN, wireshark.IKEv1File, wireshark.ESPFile)
		code = exitOK
	}
	// The answer holds the keys: wiped on every path (written out, not
	// deferred: a deferred call costs a wrapper function; flash).
	clear(answer)
	return code
}
