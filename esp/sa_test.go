package esp

import (
	"net/netip"
	"sync"
	"testing"
)

func TestParamsValidation(t *testing.T) {
	good, _ := pairParams(suite{ProtoESP, "aes128", "sha256", ""}, Tunnel, false, false, false)
	if _, err := NewOutbound(good); err != nil {
		t.Fatalf("good params: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(p *Params)
	}{
		{"unknown cipher", func(p *Params) { p.Cipher = "rc4" }},
		{"unknown integrity", func(p *Params) { p.Integ = "crc32" }},
		{"short key", func(p *Params) { p.EncKey = p.EncKey[:15] }},
		{"short auth key", func(p *Params) { p.AuthKey = p.AuthKey[:31] }},
		{"CBC without integrity", func(p *Params) { p.Integ, p.AuthKey = "", nil }},
		{"AEAD with integrity", func(p *Params) { p.Cipher, p.EncKey = "aes128gcm16", make([]byte, 20) }},
		{"null without integrity", func(p *Params) { p.Cipher, p.EncKey, p.Integ, p.AuthKey = "null", nil, "", nil }},
		{"reserved SPI", func(p *Params) { p.SPI = 255 }},
		{"mixed families", func(p *Params) { p.Remote = netip.MustParseAddr("2001:db8::2") }},
		{"no address", func(p *Params) { p.Local = netip.Addr{} }},
		{"window too big", func(p *Params) { p.ReplayWindow = 8192 }},
		{"window too small", func(p *Params) { p.ReplayWindow = 32 }},
		{"one NAT-T port", func(p *Params) { p.LocalPort = 4500 }},
		{"bad proto", func(p *Params) { p.Proto = 9 }},
		{"bad mode", func(p *Params) { p.Mode = 7 }},
		{"AH over UDP", func(p *Params) {
			p.Proto, p.AHInteg, p.AHKey = ProtoAHESP, "sha1", make([]byte, 20)
			p.LocalPort, p.RemotePort = 4500, 4500
		}},
		{"AH key length", func(p *Params) { p.Proto, p.AHInteg, p.AHKey = ProtoAH, "sha1", make([]byte, 16) }},
		{"ESP algorithms on AH", func(p *Params) { p.Proto, p.AHInteg, p.AHKey = ProtoAH, "sha1", make([]byte, 20) }},
	} {
		p := good
		tc.edit(&p)
		if _, err := NewOutbound(p); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
		if _, err := NewInbound(p); err == nil {
			t.Errorf("%s: accepted inbound", tc.name)
		}
	}
}

func TestCloseWipesKeys(t *testing.T) {
	po, pi := pairParams(suite{ProtoAHESP, "aes256", "sha1", "sha512"}, Tunnel, false, false, false)
	out, _ := NewOutbound(po)
	in, _ := NewInbound(pi)
	out.Close()
	in.Close()
	for _, sa := range []*saCommon{&out.saCommon, &in.saCommon} {
		for _, k := range [][]byte{sa.authKey, sa.ahKey, sa.slots.first.mac.ipad, sa.slots.first.ah.mac.opad} {
			for _, b := range k {
				if b != 0 {
					t.Fatalf("key material left after Close: %x", k)
				}
			}
		}
	}
	for _, b := range out.ivs.key {
		if b != 0 {
			t.Fatal("IV key left after Close")
		}
	}
	pkt := innerFor(po, false, 100)
	buf := make([]byte, 512)
	copy(buf[MaxHeadroom:], pkt)
	if _, _, err := out.Encap(buf, MaxHeadroom, len(pkt)); err != ErrExpired {
		t.Fatalf("Encap after Close: %v", err)
	}
}

func TestEncapRoom(t *testing.T) {
	po, _ := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, true, false, true)
	out, _ := NewOutbound(po)
	defer out.Close()
	if out.Headroom() > MaxHeadroom || out.Tailroom() > MaxTailroom {
		t.Fatalf("room %d/%d beyond the package maximum", out.Headroom(), out.Tailroom())
	}
	pkt := innerFor(po, false, 100)
	buf := make([]byte, out.Headroom()+len(pkt)+out.Tailroom())
	copy(buf[out.Headroom():], pkt)
	if _, _, err := out.Encap(buf, out.Headroom()-1, len(pkt)); err != ErrNoRoom {
		t.Fatalf("short headroom: %v", err)
	}
	if _, _, err := out.Encap(buf[:len(buf)-1], out.Headroom(), len(pkt)); err != ErrNoRoom {
		t.Fatalf("short tailroom: %v", err)
	}
	if _, _, err := out.Encap(buf, out.Headroom(), len(pkt)); err != nil {
		t.Fatalf("exact room: %v", err)
	}
	big := make([]byte, MaxHeadroom+65535+MaxTailroom)
	copy(big[MaxHeadroom:], udpPacket(false, 65535, netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.2.0.7")))
	po4, _ := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, false, false, false)
	out4, _ := NewOutbound(po4)
	defer out4.Close()
	if _, _, err := out4.Encap(big, MaxHeadroom, 65535); err != ErrTooBig {
		t.Fatalf("65535-byte packet: %v", err)
	}
}

// TestConcurrent runs Encap and Decap of one SA pair from several
// goroutines (run with -race): sequence numbers stay unique and every
// packet is accepted exactly once.
func TestConcurrent(t *testing.T) {
	po, pi := pairParams(suite{ProtoESP, "aes128", "sha256", ""}, Tunnel, false, true, false)
	pi.ReplayWindow = 4096
	out, in := mustPair(t, po, pi)
	const workers, each = 4, 200
	pkt := innerFor(po, false, 300)
	wires := make([][]byte, workers*each)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
				copy(buf[MaxHeadroom:], pkt)
				s, e, err := out.Encap(buf, MaxHeadroom, len(pkt))
				if err != nil {
					t.Error(err)
					return
				}
				wires[w*each+i] = buf[s:e]
			}
		}(w)
	}
	wg.Wait()
	var mu sync.Mutex
	accepted := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(wires); i += workers {
				// Every packet twice: the replay window must let one through.
				for k := 0; k < 2; k++ {
					buf := append([]byte(nil), wires[i]...)
					_, _, err := in.Decap(buf, 0, len(buf))
					if err == nil {
						mu.Lock()
						accepted++
						mu.Unlock()
					} else if err != ErrReplay {
						t.Error(err)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	if accepted != len(wires) {
		t.Fatalf("accepted %d of %d packets", accepted, len(wires))
	}
	if st := out.Stats(); st.Packets != workers*each {
		t.Fatalf("outbound packets %d", st.Packets)
	}
}

// TestCloseWhileBusy: packets racing with Close are refused, never
// processed with wiped keys (which would panic in the HMAC reset).
func TestCloseWhileBusy(t *testing.T) {
	po, pi := pairParams(suite{ProtoESP, "aes128", "sha256", ""}, Tunnel, false, false, false)
	pi.ReplayWindow = 0
	out, _ := NewOutbound(po)
	in, _ := NewInbound(pi)
	pkt := innerFor(po, false, 200)
	wire := encapCopy(t, out, pkt)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
			for i := 0; i < 300; i++ {
				copy(buf[MaxHeadroom:], pkt)
				if _, _, err := out.Encap(buf, MaxHeadroom, len(pkt)); err != nil && err != ErrExpired {
					t.Error(err)
					return
				}
				copy(buf, wire)
				if _, _, err := in.Decap(buf, 0, len(wire)); err != nil && err != ErrExpired {
					t.Error(err)
					return
				}
			}
		}()
	}
	out.Close()
	in.Close()
	wg.Wait()
}

func TestWireLenAndMaxInner(t *testing.T) {
	for _, s := range allSuites {
		for _, mode := range []Mode{Tunnel, Transport} {
			for _, v6 := range []bool{false, true} {
				for _, natt := range []bool{false, true} {
					if natt && s.proto != ProtoESP {
						continue
					}
					po, _ := pairParams(s, mode, v6, false, natt)
					out, err := NewOutbound(po)
					if err != nil {
						t.Fatal(err)
					}
					for n := 60; n < 120; n++ {
						wire := encapCopy(t, out, innerFor(po, v6, n))
						if got := out.WireLen(n); got != len(wire) {
							t.Fatalf("%v/%v/v6=%v: WireLen(%d) = %d, Encap made %d", s, mode, v6, n, got, len(wire))
						}
					}
					for _, mtu := range []int{1280, 1400, 1500} {
						n := out.MaxInner(mtu)
						if out.WireLen(n) > mtu || out.WireLen(n+1) <= mtu {
							t.Fatalf("%v/%v: MaxInner(%d) = %d (wire %d, next %d)", s, mode, mtu, n, out.WireLen(n), out.WireLen(n+1))
						}
					}
					out.Close()
				}
			}
		}
	}
}
