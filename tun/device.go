package tun

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
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
	raw   syscall.RawConn
	name  string
	index int
	mtu   int

	// State of the batch read in progress. Kept in the struct and read by a
	// method value built once, so that a read allocates nothing.
	rdBufs  [][]byte
	rdSizes []int
	rdOff   int
	rdN     int
	rdErr   error
	rdFn    func(fd uintptr) bool

	closed atomic.Bool
}

// Open creates (or attaches to) the TUN device name, sets its MTU and
// brings it up. The caller must hold CAP_NET_ADMIN.
func Open(name string, mtu int) (*Device, error) {
	if len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("tun: interface name %q too long", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("tun: open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: %w", err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tun: TUNSETIFF %s: %w", name, err)
	}
	d := &Device{name: ifr.Name(), mtu: mtu}
	// The fd is non-blocking, so os.NewFile registers it with the runtime
	// poller: a blocked Read returns when the device is closed.
	d.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	if d.raw, err = d.file.SyscallConn(); err != nil {
		d.file.Close()
		return nil, err
	}
	d.rdFn = d.readReady
	// No IPv6 link-local address: the device would only send router
	// solicitations into the tunnel, which no crypto ACL permits.
	// Best effort: the file is missing without IPv6.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+d.name+"/addr_gen_mode", []byte("1"), 0)
	if err := setMTUAndUp(d.name, mtu); err != nil {
		d.file.Close()
		return nil, err
	}
	// Best effort: a longer queue only absorbs bursts.
	_ = setTxQueueLen(d.name, tunTxQueueLen)
	ifi, err := net.InterfaceByName(d.name)
	if err != nil {
		d.file.Close()
		return nil, fmt.Errorf("tun: %w", err)
	}
	d.index = ifi.Index
	return d, nil
}

// Name returns the interface name the kernel gave the device.
func (d *Device) Name() string { return d.name }

// Index returns the interface index.
func (d *Device) Index() int { return d.index }

// KernelDrops reports the packets the kernel dropped at the device: tx
// are packets routed into the TUN that found its queue full (the daemon
// did not read fast enough), rx are packets the daemon wrote that the
// kernel could not deliver.
func (d *Device) KernelDrops() (rx, tx uint64) {
	rx, tx, _ = interfaceDrops(d.name)
	return rx, tx
}

// MTU returns the MTU set at Open.
func (d *Device) MTU() int { return d.mtu }

// Read waits for at least one packet and fills bufs[i][offset:] with up to
// len(bufs) packets; sizes[i] is set to the length of packet i. It returns
// the number of packets read.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	d.rdBufs, d.rdSizes, d.rdOff, d.rdN, d.rdErr = bufs, sizes, offset, 0, nil
	err := d.raw.Read(d.rdFn)
	n, rerr := d.rdN, d.rdErr
	d.rdBufs, d.rdSizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if rerr != nil {
		return 0, rerr
	}
	if err != nil {
		if d.closed.Load() {
			// The poller's "file closing" error is not os.ErrClosed.
			return 0, fmt.Errorf("tun: read: %w", os.ErrClosed)
		}
		return 0, fmt.Errorf("tun: read: %w", err)
	}
	return 0, nil
}

// readReady runs inside RawConn.Read. Returning false means "not ready,
// wait for the poller"; true ends the read.
func (d *Device) readReady(fd uintptr) bool {
	for d.rdN < len(d.rdBufs) {
		b := d.rdBufs[d.rdN][d.rdOff:]
		n, err := unix.Read(int(fd), b)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return d.rdN > 0
		}
		if err != nil {
			d.rdErr = fmt.Errorf("tun: read: %w", err)
			return true
		}
		d.rdSizes[d.rdN] = n
		d.rdN++
	}
	return true
}

// Write sends bufs[i][offset:] as packets into the kernel. It returns the
// number of packets written before the first error.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if _, err := d.file.Write(b[offset:]); err != nil {
			// A malformed packet is refused by the kernel (EINVAL); the
			// caller counts it, the device stays usable.
			return i, fmt.Errorf("tun: write: %w", err)
		}
	}
	return len(bufs), nil
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

// setMTUAndUp uses the classic interface ioctls: shorter than the
// equivalent RTM_NEWLINK and available on every kernel OpenWrt ships.
func setMTUAndUp(name string, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tun: socket: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if mtu > 0 {
		ifr.SetUint32(uint32(mtu))
		if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
			return fmt.Errorf("tun: set MTU %d on %s: %w", mtu, name, err)
		}
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tun: get flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tun: bring %s up: %w", name, err)
	}
	return nil
}
