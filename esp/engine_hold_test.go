package esp

import (
	"encoding/binary"
	"testing"
)

// TestHoldOutbound: a rekeyed pair installed with HoldOutbound decrypts at
// once while outbound traffic stays on the old pair; after
// ReleaseOutbound the new pair carries it (an IKEv1 Quick Mode responder
// between its second message and the initiator's third).
func TestHoldOutbound(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	e := newEngTest(t, dev, snd, EngineConfig{})
	installOut(t, e, 0x7001, PairInfo{})
	p2, _ := installOut(t, e, 0x7002, PairInfo{HoldOutbound: true})
	ol := newOutLoop(e)
	spiSent := func() uint32 {
		pkt := engPacket([4]byte{10, 2, 0, 1}, 100, false)
		ol.sizes[0] = copy(ol.bufs[0][MaxHeadroom:], pkt)
		ol.process(1)
		return binary.BigEndian.Uint32(snd.last[20:])
	}
	if spi := spiSent(); spi != 0x7001 {
		t.Fatalf("outbound SPI while the new pair is held: %#x, want the old 0x7001", spi)
	}
	e.ReleaseOutbound(p2)
	if spi := spiSent(); spi != 0x7002 {
		t.Fatalf("outbound SPI after the release: %#x, want 0x7002", spi)
	}
	e.ReleaseOutbound(p2) // twice: harmless
	e.Remove(p2)
	e.ReleaseOutbound(p2) // removed: harmless
}
