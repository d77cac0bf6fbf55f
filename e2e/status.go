package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"tinyipsec/internal/nstest"
	"tinyipsec/internal/status"
)

// Status is the daemon's `tinyipsec status --json` report; cfg names its
// control socket (so must be valid). An error: the daemon did not answer.
func Status(bin string, ns *nstest.NS, cfg string) (*status.Report, error) {
	out, err := ns.Output(bin, "status", "--json", "-c", cfg)
	if err != nil {
		return nil, fmt.Errorf("status: %v: %s", err, out)
	}
	var st status.Report
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("status --json: %v\n%s", err, out)
	}
	return &st, nil
}

// MustStatus is Status of n's daemon; a daemon that does not answer ends
// the test.
func MustStatus(t *testing.T, bin string, n *Node) *status.Report {
	t.Helper()
	st, err := Status(bin, n.NS, n.Config)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
