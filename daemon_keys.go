package main

import (
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

// writeWiresharkKeys renders both tables for the control socket; the
// client splits them into their files. The copies are wiped afterwards.
func (d *daemon) writeWiresharkKeys(w io.Writer) error {
	d.mu.Lock()
	var ikeSAs []wireshark.IKESA
	var espSAs []wireshark.ESPSA
	if d.ike != nil {
		ikeSAs, espSAs = d.ike.exportKeys() // the IKE part holds all SA keys
	}
	d.mu.Unlock()
	err := wireshark.WriteBundle(w, ikeSAs, espSAs)
	for _, sa := range ikeSAs {
		clear(sa.Key)
	}
	for _, sa := range espSAs {
		clear(sa.EncKey)
		clear(sa.AuthKey)
	}
	return err
}

func (d *ikeDaemon) exportKeys() (ikeSAs []wireshark.IKESA, espSAs []wireshark.ESPSA) {
	if !d.enabled {
		return nil, nil
	}
	for _, k := range d.mgr.ExportIKEKeys() {
		ikeSAs = append(ikeSAs, wireshark.IKESA{CookieI: k.CookieI, Key: k.Ka})
	}
	return ikeSAs, d.plane.ExportKeys()
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
