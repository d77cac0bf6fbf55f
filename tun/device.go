package tun

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"tinyipsec/internal/netif"
	"tinyipsec/internal/vnet"
)

// Device is a layer-3 TUN interface without packet information header
// (IFF_NO_PI): every read returns exactly one IPv4 or IPv6 packet.
//
// Read and Write take batches so that the packet paths can be written once
// for batched I/O; the TUN character device itself moves one packet per
// system call, so Read drains what is already queued (up to the batch size)
// after the first packet arrives, without blocking again.
type Device struct {
	file  *os.File
	name  string
	index int
	mtu   int

	// The batch read in progress; its RawConn also writes.
	batchRead

	// With offloads (IFF_VNET_HDR) every packet carries a virtio-net
	// header: reads may be TSO/USO super-packets, cut into segments by
	// seg; writes merge TCP segments (and, with USO, UDP datagrams) of a
	// flow (coal) and go out as one writev per merged packet.
	vnet     bool
	offloads int // TUN_F_* flags the kernel accepted
	big      []byte
	seg      vnet.Segmenter
	segErrs  atomic.Uint64

	wrMu   sync.Mutex
	coal   *vnet.Coalescer
	wrPkts [][]byte
	wrIovs []unix.Iovec
	wrHdr  [vnet.HeaderLen]byte
	wrErr  error
	wrFn   func(fd uintptr) bool
}

// TUN offload flags (linux/if_tun.h): what the kernel may hand the
// daemon without finishing it first.
const (
	tunFCsum = 0x01 // partial checksums
	tunFTSO4 = 0x02
	tunFTSO6 = 0x04
	tunFUSO4 = 0x20
	tunFUSO6 = 0x40
)

// writeBatch bounds the packets merged per Write call; larger batches are
// written in parts.
const writeBatch = 128

// OffloadEnv is the environment variable that switches TUN offloads off
// ("off"), for kernels or setups where they misbehave.
const OffloadEnv = "TINYIPSEC_OFFLOAD"

// Open creates (or attaches to) the TUN device name, sets its MTU and
// brings it up, with segmentation offloads unless the environment
// variable TINYIPSEC_OFFLOAD is "off". The caller must hold CAP_NET_ADMIN.
func Open(name string, mtu int) (*Device, error) {
	return OpenWith(name, mtu, os.Getenv(OffloadEnv) != "off")
}

// OpenWith is Open with offloads chosen by the caller. When the kernel
// refuses them the device works without, as Offloads reports.
func OpenWith(name string, mtu int, offload bool) (*Device, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: interface name %q too long", name)
	}
	// syscall.Open, which os links anyway, rather than x/sys's copy (flash).
	fd, err := syscall.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, tunErr("open /dev/net/tun", err)
	}
	// The name's one limit, its length, is checked above.
	ifr, _ := unix.NewIfreq(name)
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if offload {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	if err != nil && offload {
		// A kernel without IFF_VNET_HDR on TUN: the plain device.
		ifr.SetUint16(flags &^ unix.IFF_VNET_HDR)
		offload = false
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("tun: TUNSETIFF %s: %w", name, err)
	}
	d := &Device{name: ifr.Name(), mtu: mtu}
	if offload {
		d.vnet = true
		d.offloads = negotiateOffloads(fd)
		d.big = make([]byte, vnet.HeaderLen+65535)
		d.coal = vnet.NewCoalescer(writeBatch)
		// Merged UDP needs the kernel to take UDP_L4 GSO packets, which
		// it does only where it accepted USO.
		d.coal.UDP = d.offloads&(tunFUSO4|tunFUSO6) == tunFUSO4|tunFUSO6
		d.wrPkts = make([][]byte, 0, writeBatch)
		d.wrIovs = make([]unix.Iovec, 0, writeBatch+1)
		d.wrFn = d.writeReady
	}
	// The fd is non-blocking, so os.NewFile registers it with the runtime
	// poller: a blocked Read returns when the device is closed.
	d.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	d.raw, _ = d.file.SyscallConn() // fails only on a nil file
	what := ""
	d.what, d.fn = "read", d.readReady
	if d.vnet {
		d.fn = d.readReadyVnet
	}
	// The remaining steps in one chain, so that a failure closes the
	// device at one place. The classic interface ioctls (shorter than
	// the equivalent RTM_NEWLINK and available on every kernel OpenWrt
	// ships) all go through ifr, which holds the kernel's name since
	// TUNSETIFF.
	if err == nil {
		// No IPv6 link-local address: the device would only send router
		// solicitations into the tunnel, which no crypto ACL permits.
		// Best effort: the file is missing without IPv6.
		_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+d.name+"/addr_gen_mode", []byte("1"), 0)
		// what names the step, for its error (one formatting call).
		if mtu > 0 {
			ifr.SetUint32(uint32(mtu))
			what = "set MTU " + strconv.Itoa(mtu) + " on " + d.name
			err = netif.Ioctl(ifr, unix.SIOCSIFMTU)
		}
	}
	if err == nil {
		what = "get flags of " + d.name
		err = netif.Ioctl(ifr, unix.SIOCGIFFLAGS)
	}
	if err == nil {
		ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
		what = "bring " + d.name + " up"
		err = netif.Ioctl(ifr, unix.SIOCSIFFLAGS)
	}
	if err == nil {
		// Best effort: a longer queue only absorbs bursts.
		ifr.SetUint32(tunTxQueueLen)
		_ = netif.Ioctl(ifr, unix.SIOCSIFTXQLEN)
		what = "interface " + d.name
		err = netif.Ioctl(ifr, unix.SIOCGIFINDEX)
		d.index = int(ifr.Uint32())
	}
	if err != nil {
		err = tunErr(what, err)
		d.file.Close()
		return nil, err
	}
	return d, nil
}

// offloadChoices are the TUNSETOFFLOAD flag sets asked for, best first:
// USO needs Linux 6.2; TSO alone is the fallback, then partial checksums
// only (the header stays, segments are never larger than the MTU), then
// none.
var offloadChoices = []int{
	tunFCsum | tunFTSO4 | tunFTSO6 | tunFUSO4 | tunFUSO6,
	tunFCsum | tunFTSO4 | tunFTSO6,
	tunFCsum,
	0,
}

// setOffload is the TUNSETOFFLOAD ioctl; a variable so that a test can
// play a kernel that refuses flags.
var setOffload = func(fd, flags int) error {
	return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, flags)
}

// negotiateOffloads sets the best offloads the kernel accepts on fd and
// returns them (0 when it refuses every set).
func negotiateOffloads(fd int) int {
	for _, f := range offloadChoices {
		if setOffload(fd, f) == nil {
			return f
		}
	}
	return 0
}

// Name returns the interface name the kernel gave the device.
func (d *Device) Name() string { return d.name }

// Index returns the interface index.
func (d *Device) Index() int { return d.index }

// KernelDrops reports the packets the kernel dropped at the device: tx
// are packets routed into the TUN that found its queue full (the daemon
// did not read fast enough), rx are packets the daemon wrote that the
// kernel could not deliver.
//
// They are the rx and tx "drop" columns of /proc/net/dev for the device
// in the caller's network namespace (0 when it is not listed); read here,
// their only reader, rather than by a helper of their own (flash).
func (d *Device) KernelDrops() (rx, tx uint64) {
	data, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, 0
	}
	// Lines split by hand: bufio.Scanner is linked nowhere else, and a
	// range over strings.Lines compiles the body as a function (flash).
	for text := string(data); text != ""; {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		ifname, rest, found := strings.Cut(line, ":")
		if !found || strings.TrimSpace(ifname) != d.name {
			continue
		}
		// rx: bytes packets errs drop fifo frame compressed multicast;
		// tx: bytes packets errs drop fifo colls carrier compressed.
		f := strings.Fields(rest)
		if len(f) < 12 {
			return 0, 0
		}
		rx, _ = strconv.ParseUint(f[3], 10, 64)
		tx, _ = strconv.ParseUint(f[11], 10, 64)
		return rx, tx
	}
	return 0, 0
}

// MTU returns the MTU set at Open.
func (d *Device) MTU() int { return d.mtu }

// Read waits for at least one packet and fills bufs[i][offset:] with up to
// len(bufs) packets; sizes[i] is set to the length of packet i. It returns
// the number of packets read.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return d.read(bufs, sizes, offset)
}

// readReady runs inside RawConn.Read. Returning false means "not ready,
// wait for the poller"; true ends the read.
func (d *Device) readReady(fd uintptr) bool {
	for d.n < len(d.bufs) {
		n, ok, end := d.readOne(fd, d.bufs[d.n][d.off:])
		if !ok {
			return end
		}
		d.sizes[d.n] = n
		d.n++
	}
	return true
}

// readOne reads one packet into b, retrying when interrupted. Without a
// packet (ok false) the read ends with end: with nothing queued, true
// once some packets were read (else wait for the poller); on an error,
// which it records in d.err, true.
func (d *Device) readOne(fd uintptr, b []byte) (n int, ok, end bool) {
	for {
		var p unsafe.Pointer
		if len(b) > 0 {
			p = unsafe.Pointer(&b[0])
		}
		r, _, err := quickSyscall6(unix.SYS_READ, fd, uintptr(p), uintptr(len(b)), 0, 0, 0)
		switch err {
		case 0:
			return int(r), true, false
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, false, d.n > 0
		}
		d.err = fmt.Errorf("tun: read: %w", err)
		return 0, false, true
	}
}

// Offloads reports whether the device carries virtio-net headers and which
// segmentation offloads the kernel accepted.
func (d *Device) Offloads() (vnetHdr, tso, uso bool) {
	return d.vnet, d.offloads&tunFTSO4 != 0, d.offloads&tunFUSO4 != 0
}

// SegmentErrors counts offload packets from the kernel that could not be
// segmented (and were dropped).
func (d *Device) SegmentErrors() uint64 { return d.segErrs.Load() }

// readReadyVnet is readReady for a device with virtio-net headers: each
// read may return a super-packet, handed out as segments, possibly over
// several Read calls.
func (d *Device) readReadyVnet(fd uintptr) bool {
	for d.n < len(d.bufs) {
		if d.seg.Pending() {
			if n, ok := d.seg.Next(d.bufs[d.n][d.off:]); ok {
				d.sizes[d.n] = n
				d.n++
			}
			continue
		}
		n, ok, end := d.readOne(fd, d.big)
		if !ok {
			return end
		}
		if n <= vnet.HeaderLen {
			d.segErrs.Add(1)
			continue
		}
		var h vnet.Header
		h.Decode(d.big)
		if d.seg.Reset(d.big[vnet.HeaderLen:n], h) != nil {
			d.segErrs.Add(1)
		}
	}
	return true
}

// Write sends bufs[i][offset:] as packets into the kernel. It returns the
// number of packets written before the first error (with offloads, where
// packets are merged: len(bufs) and the first error, after trying all).
// It is safe for concurrent use.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	if d.vnet {
		return d.writeVnet(bufs, offset)
	}
	for i, b := range bufs {
		if _, err := d.file.Write(b[offset:]); err != nil {
			// A malformed packet is refused by the kernel (EINVAL); the
			// caller counts it, the device stays usable.
			return i, fmt.Errorf("tun: write: %w", err)
		}
	}
	return len(bufs), nil
}

func (d *Device) writeVnet(bufs [][]byte, offset int) (int, error) {
	d.wrMu.Lock()
	defer d.wrMu.Unlock()
	var first error
	total := len(bufs)
	for len(bufs) > 0 {
		part := bufs[:min(len(bufs), writeBatch)]
		bufs = bufs[len(part):]
		pkts := d.wrPkts[:0]
		for _, b := range part {
			if len(b) > offset {
				pkts = append(pkts, b[offset:])
			}
		}
		for _, g := range d.coal.Coalesce(pkts) {
			h := g.Header(pkts)
			h.Encode(d.wrHdr[:])
			iovs := append(d.wrIovs[:0], iovec(d.wrHdr[:]), iovec(pkts[g.First]))
			for i := d.coal.Next(g.First); i >= 0; i = d.coal.Next(i) {
				iovs = append(iovs, iovec(pkts[i][g.HeaderLen():]))
			}
			d.wrIovs = iovs
			d.wrErr = nil
			if err := d.raw.Write(d.wrFn); err != nil && first == nil {
				first = fmt.Errorf("tun: write: %w", err)
			}
			if d.wrErr != nil && first == nil {
				first = d.wrErr
			}
		}
		clear(d.wrPkts[:cap(d.wrPkts)])
	}
	clear(d.wrIovs[:cap(d.wrIovs)])
	return total, first
}

// writeReady runs inside RawConn.Write: one writev of d.wrIovs.
func (d *Device) writeReady(fd uintptr) bool {
	for {
		_, _, e := quickSyscall6(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&d.wrIovs[0])), uintptr(len(d.wrIovs)), 0, 0, 0)
		switch e {
		case 0:
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			// A malformed packet is refused (EINVAL); the caller counts
			// it, the device stays usable.
			d.wrErr = fmt.Errorf("tun: write: %w", e)
			return true
		}
	}
}

func iovec(b []byte) unix.Iovec {
	v := unix.Iovec{Base: &b[0]}
	v.SetLen(len(b))
	return v
}

// Close destroys the device (a non-persistent TUN goes away with its last
// file descriptor, taking its addresses and routes with it).
func (d *Device) Close() error {
	if d.file == nil {
		return errors.New("tun: not open")
	}
	d.closed.Store(true)
	return d.file.Close()
}
