package tun

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestRawBatch: a batch mixing IPv4 and IPv6 ESP and AH goes out with
// sendmmsg per socket run and comes back through recvmmsg, every packet
// in order; sending allocates nothing.
func TestRawBatch(t *testing.T) {
	ns := testNS(t, "tun-rawb")
	ipc := listenIPIn(t, ns)
	readers := ipc.Readers() // ESP4, AH4, ESP6, AH6
	if len(readers) < 4 {
		t.Skip("no IPv6")
	}
	pkt := func(v6 bool, proto byte, i int) []byte {
		body := []byte(fmt.Sprintf("\x00\x00\x10\x01%08d", i))
		if !v6 {
			p := make([]byte, 20+len(body))
			p[0] = 0x45
			binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
			p[8], p[9] = 64, proto
			copy(p[12:], []byte{127, 0, 0, 1})
			copy(p[16:], []byte{127, 0, 0, 1})
			copy(p[20:], body)
			return p
		}
		p := make([]byte, 40+len(body))
		p[0] = 0x60
		binary.BigEndian.PutUint16(p[4:], uint16(len(body)))
		p[6], p[7] = proto, 64
		p[23], p[39] = 1, 1
		copy(p[40:], body)
		return p
	}
	var batch [][]byte
	for i := 0; i < 100; i++ {
		batch = append(batch, pkt(i%10 == 9, ProtoESP, i)) // runs of 9 IPv4, then one IPv6
	}
	batch = append(batch, pkt(false, ProtoAH, 100), pkt(true, ProtoAH, 101))
	if err := ipc.Send(batch, 0); err != nil {
		t.Fatal(err)
	}
	bufs := make([][]byte, 64)
	for i := range bufs {
		bufs[i] = make([]byte, 256)
	}
	sizes := make([]int, 64)
	expect := func(r *RawReader, want []int, off int) {
		t.Helper()
		for len(want) > 0 {
			n, err := r.Read(bufs, sizes, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				p := bufs[i][:sizes[i]]
				got := string(p[off+4:])
				if w := fmt.Sprintf("%08d", want[0]); got != w {
					t.Fatalf("packet %q, want %q", got, w)
				}
				want = want[1:]
			}
		}
	}
	var v4, v6 []int
	for i := 0; i < 100; i++ {
		if i%10 == 9 {
			v6 = append(v6, i)
		} else {
			v4 = append(v4, i)
		}
	}
	expect(readers[0], v4, 20)
	expect(readers[2], v6, 40)
	expect(readers[1], []int{100}, 20)
	expect(readers[3], []int{101}, 40)
	small := batch[:20]
	allocs := testing.AllocsPerRun(20, func() {
		if err := ipc.Send(small, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per batch, want 0", allocs)
	}
}
