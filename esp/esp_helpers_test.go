package esp

import (
	"tinyipsec/internal/algo"

	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

// suite is one algorithm combination used across the tests.
type suite struct {
	proto         Proto
	cipher, integ string
	ahInteg       string
}

func (s suite) String() string {
	switch s.proto {
	case ProtoAH:
		return "ah-" + s.ahInteg
	case ProtoAHESP:
		return fmt.Sprintf("ah-%s+esp-%s-%s", s.ahInteg, s.cipher, s.integ)
	}
	if s.integ == "" {
		return s.cipher
	}
	return s.cipher + "-" + s.integ
}

var allSuites = []suite{
	{ProtoESP, "aes128gcm16", "", ""},
	{ProtoESP, "aes256gcm16", "", ""},
	{ProtoESP, "chacha20poly1305", "", ""},
	{ProtoESP, "aes128", "sha1", ""},
	{ProtoESP, "aes192", "sha256", ""},
	{ProtoESP, "aes256", "sha256", ""},
	{ProtoESP, "aes256", "sha384", ""},
	{ProtoESP, "aes256", "sha512", ""},
	{ProtoESP, "3des", "sha1", ""},
	{ProtoESP, "3des", "md5", ""},
	{ProtoESP, "null", "sha256", ""},
	{ProtoAH, "", "", "sha1"},
	{ProtoAH, "", "", "sha256"},
	{ProtoAH, "", "", "sha384"},
	{ProtoAH, "", "", "sha512"},
	{ProtoAH, "", "", "md5"},
	{ProtoAHESP, "aes128gcm16", "", "sha256"},
	{ProtoAHESP, "aes256", "sha1", "sha512"},
}

// suitesNamed returns the suites of allSuites with these names, in this
// order.
func suitesNamed(names ...string) []suite {
	var out []suite
	for _, n := range names {
		i := slices.IndexFunc(allSuites, func(s suite) bool { return s.String() == n })
		if i < 0 {
			panic("no suite " + n + " in allSuites")
		}
		out = append(out, allSuites[i])
	}
	return out
}

// testKey returns n deterministic key bytes, different per label.
func testKey(label string, n int) []byte {
	if n == 0 {
		return nil
	}
	k := make([]byte, n)
	for i := range k {
		k[i] = byte(len(label)*31 + int(label[i%len(label)]) + i*7)
	}
	return k
}

func keyLens(s suite) (enc, auth, ah int) {
	if c := lookupCipher(s.cipher); c != nil {
		enc = c.KeymatLen()
	}
	if i := lookupInteg(s.integ); i != nil {
		auth = i.Size
	}
	if i := lookupInteg(s.ahInteg); i != nil {
		ah = i.Size
	}
	return
}

// pairParams returns matching outbound (local a -> remote b) and inbound
// (at b) parameters.
func pairParams(s suite, mode Mode, v6, esn bool, natt bool) (out, in Params) {
	e, a, h := keyLens(s)
	out = Params{
		Proto: s.proto, Mode: mode, SPI: 0x1000a, AHSPI: 0x2000b,
		Cipher: algo.Cipher(s.cipher), Integ: algo.Hash(s.integ), AHInteg: algo.Hash(s.ahInteg),
		EncKey: testKey("enc", e), AuthKey: testKey("auth", a), AHKey: testKey("ah", h),
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2"),
		ESN: esn, ReplayWindow: 128,
	}
	if v6 {
		out.Local, out.Remote = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	}
	if natt {
		out.LocalPort, out.RemotePort = 4500, 4501
	}
	in = out
	in.Local, in.Remote = out.Remote, out.Local
	in.LocalPort, in.RemotePort = out.RemotePort, out.LocalPort
	return
}

// udpPacket builds an IPv4 or IPv6 UDP packet of exactly n bytes (n >= 48).
func udpPacket(v6 bool, n int, src, dst netip.Addr) []byte {
	p := make([]byte, n)
	hl := 20
	if v6 {
		hl = 40
		binary.BigEndian.PutUint32(p, 6<<28|0x2e<<20|0x12345)
		binary.BigEndian.PutUint16(p[4:], uint16(n-40))
		p[6], p[7] = 17, 63
		s, d := src.As16(), dst.As16()
		copy(p[8:], s[:])
		copy(p[24:], d[:])
	} else {
		p[0], p[1] = 0x45, 0xb8
		binary.BigEndian.PutUint16(p[2:], uint16(n))
		binary.BigEndian.PutUint16(p[4:], 0x1234)
		p[6] = 0x40
		p[8], p[9] = 63, 17
		s, d := src.As4(), dst.As4()
		copy(p[12:], s[:])
		copy(p[16:], d[:])
		setIPv4Checksum(p[:20])
	}
	binary.BigEndian.PutUint16(p[hl:], 1234)
	binary.BigEndian.PutUint16(p[hl+2:], 5678)
	binary.BigEndian.PutUint16(p[hl+4:], uint16(n-hl))
	for i := hl + 8; i < n; i++ {
		p[i] = byte(i)
	}
	if v6 {
		p[hl+6] = 0xff // IPv6 requires a UDP checksum
		fixL4Checksum(p, hl, 17)
	}
	return p
}

// innerFor returns an inner packet suitable for the mode: in transport
// mode it must carry the SA's own addresses and family.
func innerFor(p Params, innerV6 bool, n int) []byte {
	if p.Mode == Transport {
		return udpPacket(p.Local.Is6(), n, p.Local, p.Remote)
	}
	if innerV6 {
		return udpPacket(true, n, netip.MustParseAddr("2001:db8:1::5"), netip.MustParseAddr("2001:db8:2::7"))
	}
	return udpPacket(false, n, netip.MustParseAddr("10.1.0.5"), netip.MustParseAddr("10.2.0.7"))
}

// encapCopy runs Encap on a copy of pkt and returns the wire packet.
func encapCopy(t testing.TB, sa *OutboundSA, pkt []byte) []byte {
	t.Helper()
	buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
	copy(buf[MaxHeadroom:], pkt)
	s, e, err := sa.Encap(buf, MaxHeadroom, len(pkt))
	if err != nil {
		t.Fatalf("Encap: %v", err)
	}
	return append([]byte(nil), buf[s:e]...)
}

// decapAllocs is how many allocations Decap of wire makes, on average
// (it must succeed).
func decapAllocs(t testing.TB, sa *InboundSA, wire []byte) float64 {
	t.Helper()
	buf := make([]byte, len(wire))
	return testing.AllocsPerRun(100, func() {
		copy(buf, wire)
		if _, _, err := sa.Decap(buf, 0, len(wire)); err != nil {
			t.Fatal(err)
		}
	})
}

// decapCopy runs Decap on a copy of wire and returns the cleartext.
func decapCopy(sa *InboundSA, wire []byte) ([]byte, error) {
	buf := append([]byte(nil), wire...)
	o, n, err := sa.Decap(buf, 0, len(buf))
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), buf[o:o+n]...), nil
}

func mustPair(t testing.TB, po, pi Params) (*OutboundSA, *InboundSA) {
	t.Helper()
	o, i := newSAs(t, po, pi)
	t.Cleanup(func() { o.Close(); i.Close() })
	return o, i
}

// newSAs builds an outbound and an inbound SA, failing the test if
// either cannot be built.
func newSAs(t testing.TB, po, pi Params) (*OutboundSA, *InboundSA) {
	t.Helper()
	out, errOut := NewOutbound(po)
	in, errIn := NewInbound(pi)
	if err := errors.Join(errOut, errIn); err != nil {
		t.Fatal(err)
	}
	return out, in
}

func equalPacket(t testing.TB, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("packet differs\n got %x\nwant %x", got, want)
	}
}

// The test tables name algorithms as the configuration does.
func lookupCipher(name string) *algo.CipherInfo { return algo.Cipher(name).Info() }
func lookupInteg(name string) *algo.HashInfo    { return algo.Hash(name).Info() }
