package esp

import (
	"bytes"
	"net/netip"
	"testing"
)

// TestReceiveUDP: NAT-T ESP arrives on the IKE socket without IP and UDP
// headers; ReceiveUDP rebuilds them, so the SA's checks pass and the
// cleartext reaches the device.
func TestReceiveUDP(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	natt := func(local, remote netip.Addr, lport, rport uint16) Params {
		p := engParams(0xb00b, local, remote)
		p.LocalPort, p.RemotePort = lport, rport
		return p
	}
	out, err := NewOutbound(natt(engAddrA, engAddrB, 4500, 4501))
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewInbound(natt(engAddrB, engAddrA, 4501, 4500))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InstallPairFor("vpn/10", in, nil, PairInfo{}); err != nil {
		t.Fatal(err)
	}
	pkt := engPacket([4]byte{10, 2, 0, 1}, 200, false)
	wire := encapCopy(t, out, pkt)
	if wire[9] != ipProtoUDP {
		t.Fatal("NAT-T SA did not make a UDP packet")
	}
	payload := wire[28:] // after outer IPv4 and UDP headers
	e.ReceiveUDP(payload, netip.AddrPortFrom(engAddrB, 4501), netip.AddrPortFrom(engAddrA, 4500))
	got := dev.packets()
	if len(got) != 1 || !bytes.Equal(got[0], pkt) {
		t.Fatalf("delivered %d packets; drops %v", len(got), e.Stats())
	}
}

// TestReceiveUDPFamilyMismatch: a datagram whose local address is of the
// other family than its sender's (such as "::" from a dual-stack socket
// for an IPv4 datagram), or missing, is dropped and counted, never a
// panic.
func TestReceiveUDPFamilyMismatch(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	payload := []byte("\x00\x00\xb0\x0b\x00\x00\x00\x01 not decrypted")
	v4 := netip.MustParseAddrPort("192.0.2.1:4500")
	v6 := netip.MustParseAddrPort("[2001:db8::1]:4500")
	cases := []struct{ local, remote netip.AddrPort }{
		{netip.MustParseAddrPort("[::]:4500"), v4},
		{v6, v4},
		{v4, v6},
		{netip.AddrPort{}, v4},
		{v4, netip.AddrPort{}},
		{netip.AddrPort{}, netip.AddrPort{}},
	}
	for _, c := range cases {
		e.ReceiveUDP(payload, c.local, c.remote)
	}
	if got := e.Stats().Drops["malformed"]; got != uint64(len(cases)) {
		t.Fatalf("malformed drops = %d, want %d (drops %v)", got, len(cases), e.Stats().Drops)
	}
	if n := len(dev.packets()); n != 0 {
		t.Fatalf("%d packets delivered", n)
	}
}
