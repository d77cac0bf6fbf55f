package nstest

import (
	"slices"
	"testing"
)

func TestParsePing(t *testing.T) {
	out := `PING 10.2.0.1 (10.2.0.1) from 10.1.0.1 : 56(84) bytes of data.
64 bytes from 10.2.0.1: icmp_seq=1 ttl=64 time=0.221 ms
From 10.1.0.1 icmp_seq=2 Destination Host Unreachable
64 bytes from 10.2.0.1: icmp_seq=4 ttl=64 time=0.542 ms

--- 10.2.0.1 ping statistics ---
5 packets transmitted, 2 received, +1 errors, 60% packet loss, time 4004ms
`
	p, ok := ParsePing(out)
	if !ok || p.Sent != 5 || p.Received != 2 || p.Last != 4 || len(p.Answered) != 2 || p.Lossless() {
		t.Fatalf("%+v %v", p, ok)
	}
	if lost := p.Lost(p.Sent); !slices.Equal(lost, []int{2, 3, 5}) {
		t.Fatalf("lost %v", lost)
	}
	if p, ok := ParsePing(out[:200]); ok || p.Last != 1 {
		t.Fatalf("unfinished ping: %+v %v", p, ok)
	}
	if p, _ := ParsePing("3 packets transmitted, 3 received, 0% packet loss"); !p.Lossless() {
		t.Fatal("lossless run not seen")
	}
}
