package ike

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// udpDatagram is one UDP payload from a capture, with its ports.
type udpDatagram struct {
	Frame            int
	SrcPort, DstPort uint16
	Payload          []byte
}

// readPcap extracts the UDP payloads of an Ethernet/IPv4 pcap file. It
// understands just enough of the format for the test captures.
func readPcap(path string) ([]udpDatagram, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: short pcap", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	default:
		bo = binary.BigEndian
	}
	if bo.Uint32(b[20:]) != 1 {
		return nil, fmt.Errorf("%s: link type %d, want Ethernet", path, bo.Uint32(b[20:]))
	}
	var out []udpDatagram
	frame := 0
	for off := 24; off+16 <= len(b); {
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if off+incl > len(b) {
			return nil, fmt.Errorf("%s: truncated record", path)
		}
		pkt := b[off : off+incl]
		off += incl
		frame++
		if len(pkt) < 14+20 || binary.BigEndian.Uint16(pkt[12:]) != 0x0800 {
			continue
		}
		ip := pkt[14:]
		ihl := int(ip[0]&0xf) * 4
		if ip[9] != 17 || len(ip) < ihl+8 {
			continue
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total > len(ip) {
			total = len(ip)
		}
		udp := ip[ihl:total]
		out = append(out, udpDatagram{
			Frame:   frame,
			SrcPort: binary.BigEndian.Uint16(udp[0:]),
			DstPort: binary.BigEndian.Uint16(udp[2:]),
			Payload: append([]byte(nil), udp[8:]...),
		})
	}
	return out, nil
}

// pcapIKEMessages returns the ISAKMP messages of a capture: port 500
// datagrams as they are, port 4500 ones without the non-ESP marker; ESP
// packets and keepalives are skipped.
func pcapIKEMessages(t testing.TB, path string) []udpDatagram {
	t.Helper()
	ds, err := readPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []udpDatagram
	for _, d := range ds {
		p := d.Payload
		if d.SrcPort == 4500 || d.DstPort == 4500 {
			if len(p) < 4 || binary.BigEndian.Uint32(p) != 0 {
				continue // ESP-in-UDP or keepalive
			}
			p = p[4:]
		}
		if len(p) < HeaderLen {
			continue
		}
		d.Payload = p
		out = append(out, d)
	}
	return out
}

var vectorCases = []string{"am-psk-fqdn", "mm-psk-modp2048", "mm-psk-pfs-ecp256", "mm-rsa-sig"}

func vectorDir(name string) string { return filepath.Join("testdata", "ikev1-strongswan", name) }
