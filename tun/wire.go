package tun

import (
	"net/netip"
	"sync/atomic"

	"tinyipsec/internal/header"
)

// Wire sends finished ESP/AH packets (whole IP packets, as the transforms
// build them): ESP and AH over the raw sockets, UDP-encapsulated ESP (NAT-T)
// over the IKE socket on the packet's source port.
//
// The IKE sockets, which carry ESP in UDP, may open while the packet paths
// run (a reload brings the first IKE-keyed crypto map): SetUDP swaps them
// in, and Send loads them with one atomic read, without lock or allocation.
type Wire struct {
	_   [0]func() // not comparable: no generated == function (flash)
	ip  *IPConn
	udp atomic.Pointer[UDP] // nil when NAT-T is not used
}

// NewWire sends over ip, and over udp (may be nil) for ESP in UDP.
func NewWire(ip *IPConn, udp *UDP) *Wire {
	w := &Wire{ip: ip}
	w.SetUDP(udp)
	return w
}

// SetUDP switches ESP in UDP to udp.
func (w *Wire) SetUDP(udp *UDP) { w.udp.Store(udp) }

// Send implements the packet paths' sender. It never allocates for ESP
// and AH; the first error is returned after trying every packet.
func (w *Wire) Send(bufs [][]byte, offset int) error {
	var first error
	udp := w.udp.Load()
	for i := 0; i < len(bufs); {
		p := bufs[i][offset:]
		var err error
		if hl, ok := udpEncapsulated(p); ok && udp != nil {
			// Consecutive packets of one NAT-T SA go out as one
			// segmented send; order is kept.
			n := udpRun(bufs[i:], offset, hl)
			local, remote := udpAddrs(p, hl)
			err = udp.sendESPRun(bufs[i:i+n], offset, hl, local, remote)
			i += n
		} else {
			n := 1
			for i+n < len(bufs) && !isUDPEncap(bufs[i+n][offset:], udp != nil) {
				n++
			}
			err = w.ip.Send(bufs[i:i+n], offset)
			i += n
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func isUDPEncap(p []byte, haveUDP bool) bool {
	_, ok := udpEncapsulated(p)
	return ok && haveUDP
}

// udpEncapsulated reports whether p is an IP packet carrying UDP, and the
// IP header length.
func udpEncapsulated(p []byte) (int, bool) {
	if len(p) >= header.IPv4MinLen+header.UDPLen && header.Version(p) == 4 && header.IPv4(p).Protocol() == header.ProtoUDP {
		hl := header.IPv4(p).HeaderLen()
		return hl, len(p) >= hl+header.UDPLen
	}
	if len(p) >= header.IPv6Len+header.UDPLen && header.Version(p) == 6 && header.IPv6(p).NextHeader() == header.ProtoUDP {
		return header.IPv6Len, true
	}
	return 0, false
}

// udpAddrs reads the UDP packet's source and destination.
func udpAddrs(p []byte, hl int) (local, remote netip.AddrPort) {
	var src, dst netip.Addr
	if hl == header.IPv6Len {
		ip := header.IPv6(p)
		src = netip.AddrFrom16([16]byte(ip.Src()))
		dst = netip.AddrFrom16([16]byte(ip.Dst()))
	} else {
		ip := header.IPv4(p)
		src = netip.AddrFrom4([4]byte(ip.Src()))
		dst = netip.AddrFrom4([4]byte(ip.Dst()))
	}
	u := header.UDP(p[hl:])
	return netip.AddrPortFrom(src, u.SrcPort()), netip.AddrPortFrom(dst, u.DstPort())
}
