package tun

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/nstest"
)

// refusingKernel replaces TUNSETOFFLOAD with one that refuses every flag
// set containing a bit of refuse (all sets, with refuseAll) and passes the
// others to the real ioctl. It records the sets asked for.
func refusingKernel(t *testing.T, refuse int, refuseAll bool) *[]int {
	asked := new([]int)
	kernel := setOffload
	setOffload = func(fd, flags int) error {
		*asked = append(*asked, flags)
		if refuseAll || flags&refuse != 0 {
			return unix.EINVAL
		}
		if fd < 0 {
			return nil
		}
		return kernel(fd, flags)
	}
	t.Cleanup(func() { setOffload = kernel })
	return asked
}

func TestNegotiateOffloads(t *testing.T) {
	all := tunFCsum | tunFTSO4 | tunFTSO6 | tunFUSO4 | tunFUSO6
	for _, tc := range []struct {
		name      string
		refuse    int
		refuseAll bool
		want      int
		tries     int
	}{
		{"all accepted", 0, false, all, 1},
		{"no USO", tunFUSO6, false, tunFCsum | tunFTSO4 | tunFTSO6, 2},
		{"no TSO", tunFTSO4, false, tunFCsum, 3},
		{"no checksum", tunFCsum, false, 0, 4},
		{"nothing", 0, true, 0, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := refusingKernel(t, tc.refuse, tc.refuseAll)
			if got := negotiateOffloads(-1); got != tc.want || len(*asked) != tc.tries {
				t.Fatalf("negotiated %#x after %d tries, want %#x after %d", got, len(*asked), tc.want, tc.tries)
			}
		})
	}
}

// TestOffloadRefused opens the device against a kernel that refuses TSO
// and USO (checksum only) or every offload: the device reports no
// segmentation offloads, still writes a batch of UDP datagrams as plain
// packets (not merged: the kernel counts each) and reads the kernel's
// packets with complete checksums.
func TestOffloadRefused(t *testing.T) {
	nstest.Require(t, "ip")
	for _, tc := range []struct {
		name      string
		refuseAll bool
	}{{"csum-only", false}, {"none", true}} {
		t.Run(tc.name, func(t *testing.T) {
			refusingKernel(t, tunFTSO4|tunFTSO6|tunFUSO4|tunFUSO6, tc.refuseAll)
			testOffloadRefused(t)
		})
	}
}

func testOffloadRefused(t *testing.T) {
	var pc net.PacketConn
	ns, dev := openAddressed(t, "tunref", "tisref0", netip.MustParsePrefix("10.9.0.1/24"), func() (err error) {
		pc, err = net.ListenPacket("udp4", "10.9.0.1:5556")
		return err
	})
	defer pc.Close()
	if vh, tso, uso := dev.Offloads(); !vh || tso || uso {
		t.Fatalf("Offloads() = vnet %v tso %v uso %v, want the header without segmentation", vh, tso, uso)
	}

	const n = 20
	var batch, want [][]byte
	for i := 0; i < n; i++ {
		payload := bytes.Repeat([]byte{byte(i)}, 1000)
		batch = append(batch, udpPacket(payload))
		want = append(want, payload)
	}
	rx0, _ := devCounters(t, ns, "tisref0")
	if _, err := dev.Write(batch, 0); err != nil {
		t.Fatal(err)
	}
	expectDatagrams(t, pc, want, "10.9.0.2:40000")
	if rx1, _ := devCounters(t, ns, "tisref0"); rx1-rx0 < n {
		t.Fatalf("kernel counted %d packets for %d datagrams without USO", rx1-rx0, n)
	}

	// The other way: a datagram from the socket is read as one plain
	// packet with a complete UDP checksum.
	answer := bytes.Repeat([]byte{0x5a}, 1200)
	if _, err := pc.WriteTo(answer, &net.UDPAddr{IP: net.IPv4(10, 9, 0, 2), Port: 40000}); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, 2048), make([]byte, 2048)}
	sizes := make([]int, 2)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		done := make(chan struct{})
		timer := time.AfterFunc(5*time.Second, func() {
			select {
			case <-done:
			default:
				t.Error("no packet from the TUN")
				dev.Close()
			}
		})
		k, err := dev.Read(bufs, sizes, 0)
		close(done)
		timer.Stop()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < k; i++ {
			p := bufs[i][:sizes[i]]
			if len(p) < 28 || p[0] != 0x45 || p[9] != 17 {
				continue
			}
			u := p[20:]
			if foldSum(checksumOf(0, p[12:20])+17+uint64(len(u))+checksumOf(0, u)) != 0xffff {
				t.Fatalf("UDP packet from the TUN with a bad checksum")
			}
			if binary.BigEndian.Uint16(u[2:]) != 40000 || !bytes.Equal(u[8:], answer) {
				t.Fatalf("UDP packet from the TUN differs: % x", p[:28])
			}
			return
		}
	}
	t.Fatal("no UDP packet from the TUN")
}
