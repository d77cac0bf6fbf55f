# Builds packets with scapy (an independent encoder) and prints them with
# the tuple an ACL must see, as JSON, for TestParsePacketScapy.
import json, sys
from scapy.all import IP, IPv6, TCP, UDP, ICMP, GRE, Raw, fragment, fragment6
from scapy.layers.inet import IPOption_RR
from scapy.layers.inet6 import (IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt, IPv6ExtHdrRouting,
                                IPv6ExtHdrFragment, ICMPv6EchoRequest)
from scapy.layers.sctp import SCTP
from scapy.layers.ipsec import ESP, AH

out = []
def add(name, pkt, proto, sport=0, dport=0, frag=False):
    b = bytes(pkt)
    src = pkt[IP].src if IP in pkt else pkt[IPv6].src
    dst = pkt[IP].dst if IP in pkt else pkt[IPv6].dst
    out.append(dict(name=name, hex=b.hex(), src=src, dst=dst, proto=proto, sport=sport, dport=dport, frag=frag))

a4 = dict(src="10.1.0.5", dst="10.2.0.9")
a6 = dict(src="2001:db8:1::5", dst="2001:db8:2::9")
add("v4 tcp with options", IP(options=[IPOption_RR()], **a4)/TCP(sport=40000, dport=443), 6, 40000, 443)
add("v4 udp", IP(**a4)/UDP(sport=500, dport=4500)/Raw(b"x"*10), 17, 500, 4500)
add("v4 icmp", IP(**a4)/ICMP(), 1)
add("v4 gre", IP(**a4)/GRE()/IP(src="192.0.2.1", dst="192.0.2.2"), 47)
add("v4 sctp", IP(**a4)/SCTP(sport=5060, dport=5061), 132, 5060, 5061)
add("v4 esp", IP(**a4)/ESP(spi=0x1234, seq=1), 50)
add("v4 ah", IP(**a4)/AH(spi=0x1234, seq=1, nh=6, icv=b"\0"*12)/TCP(sport=1, dport=2), 51)
fr = fragment(IP(**a4)/UDP(sport=1000, dport=5050)/Raw(b"y"*200), fragsize=64)
add("v4 first fragment", fr[0], 17, 1000, 5050)
add("v4 later fragment", fr[1], 17, frag=True)
add("v4 last fragment", fr[-1], 17, frag=True)
add("v6 udp", IPv6(**a6)/UDP(sport=53, dport=33333), 17, 53, 33333)
add("v6 icmp6", IPv6(**a6)/ICMPv6EchoRequest(), 58)
add("v6 ext chain", IPv6(**a6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=["2001:db8:2::1"])/IPv6ExtHdrDestOpt()/TCP(sport=22, dport=2222), 6, 22, 2222)
add("v6 ah", IPv6(**a6)/AH(spi=1, seq=1, nh=17, icv=b"\0"*12)/UDP(sport=1, dport=2), 51)
add("v6 esp after hop-by-hop", IPv6(**a6)/IPv6ExtHdrHopByHop()/ESP(spi=7, seq=1), 50)
f6 = fragment6(IPv6(**a6)/IPv6ExtHdrFragment()/UDP(sport=7000, dport=7001)/Raw(b"z"*300), 120)
add("v6 first fragment", f6[0], 17, 7000, 7001)
add("v6 later fragment", f6[1], 17, frag=True)
f6b = fragment6(IPv6(**a6)/IPv6ExtHdrHopByHop()/IPv6ExtHdrFragment()/TCP(sport=8000, dport=8001)/Raw(b"z"*300), 120)
add("v6 hop-by-hop then later fragment", f6b[-1], 6, frag=True)
json.dump(out, sys.stdout)
