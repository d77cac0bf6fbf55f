package status

import (
	"bytes"
	"strings"
	"testing"
)

// TestStatusKernelDrops: the kernel's drops on the sockets and the TUN
// appear in both the text and the JSON status, beside the engine's own.
func TestStatusKernelDrops(t *testing.T) {
	r := &Report{KernelDrops: map[string]uint64{"tun_tx": 7, "udp_socket": 3}}
	var text bytes.Buffer
	WriteText(&text, r)
	if !strings.Contains(text.String(), "Kernel drops (sockets and TUN): ") ||
		!strings.Contains(text.String(), "tun_tx") || !strings.Contains(text.String(), "udp_socket") {
		t.Fatalf("text status without kernel drops:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(js.String()), "")
	if !strings.Contains(compact, `"kernel_drops":{"tun_tx":7,"udp_socket":3}`) {
		t.Fatalf("JSON status without kernel drops: %s", js.String())
	}
}

// TestStatusIKEDrops: dropped IKE input is counted by reason in both the
// text and the JSON status.
func TestStatusIKEDrops(t *testing.T) {
	r := &Report{IKEDrops: map[string]uint64{"foreign-cookie": 12, "half-open-evicted": 3}, IKEHalfOpen: 5}
	var text bytes.Buffer
	WriteText(&text, r)
	if !strings.Contains(text.String(), "IKE input dropped: foreign-cookie 12, half-open-evicted 3") ||
		!strings.Contains(text.String(), "proof of address: 5") {
		t.Fatalf("text status without IKE drops:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	compact := strings.Join(strings.Fields(js.String()), "")
	if !strings.Contains(compact, `"ike_drops":{"foreign-cookie":12,"half-open-evicted":3},"ike_half_open":5`) {
		t.Fatalf("JSON status without IKE drops: %s", js.String())
	}
}
