package status

import (
	"bytes"
	"strings"
	"testing"
)

// TestStatusRemoteAccess: a remote-access SA shows its stage, user,
// assigned address, DNS servers and split networks in the text status
// (as the JSON carries them for scripts).
func TestStatusRemoteAccess(t *testing.T) {
	r := &Report{IKESAs: []IKESA{{Peer: "198.51.100.1", Type: "RA", State: "MM_ACTIVE", RemoteAccess: "active",
		User: "alice", Assigned: "10.9.0.10", DNS: []string{"10.1.0.53"}}}}
	var text bytes.Buffer
	WriteText(&text, r)
	for _, want := range []string{"User    : alice", "RA state: active", "Assigned: 10.9.0.10", "DNS     : 10.1.0.53",
		"Split   : none (all traffic through the tunnel)"} {
		if !strings.Contains(text.String(), want) {
			t.Fatalf("text status lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(js.String()), "")
	if !strings.Contains(compact, `"remote_access":"active","user":"alice","assigned":"10.9.0.10","dns":["10.1.0.53"]`) {
		t.Fatalf("JSON status: %s", js.String())
	}
}
