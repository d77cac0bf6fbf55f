package tun

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket buffer sizing. A full-speed TCP stream through the tunnel puts
// bursts of a few thousand packets on the wire; the default receive
// buffer (about 208 KiB, some 150 packets of ESP counting the kernel's
// per-packet overhead) overflows whenever the decrypting goroutine is not
// scheduled for a millisecond, and every overflow is a TCP retransmit.
// The buffer is what the kernel may hold per socket, not what it
// allocates up front, so a router only pays for it under load; the cap
// keeps a 64 MB router from committing a large share of its memory.
const (
	minSocketBuffer = 256 << 10
	maxSocketBuffer = 4 << 20
)

// SocketBufferSize is the send and receive buffer size the data plane's
// sockets ask for on this machine. It is asked for at each socket's
// set-up (one sysinfo call) rather than kept by a sync.OnceValue, whose
// instantiation took more flash than the call costs.
func SocketBufferSize() int {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return minSocketBuffer
	}
	ram := uint64(si.Totalram) * uint64(si.Unit)
	// 1/32 of the RAM: 2 MiB on a 64 MB router, 4 MiB from 128 MB on.
	return int(min(max(ram/32, minSocketBuffer), maxSocketBuffer))
}

// sizeBuffers sets fd's receive and send buffers to SocketBufferSize. The
// FORCE variants (CAP_NET_ADMIN, which the daemon has) go past
// net.core.rmem_max/wmem_max; without the capability the plain options
// still get what the sysctl allows. Best effort: a failure leaves the
// default size.
func sizeBuffers(fd int) {
	n := SocketBufferSize()
	if setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
		_ = setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
	if setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, n) != nil {
		_ = setsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n)
	}
}

// setsockoptInt is unix.SetsockoptInt out of line: the set-up code
// sets a dozen options, and each inlined copy of the system call cost
// flash.
//
//go:noinline
func setsockoptInt(fd, level, opt, value int) error {
	return unix.SetsockoptInt(fd, level, opt, value)
}

// socket is syscall.Socket out of line, for the same reason.
//
//go:noinline
func socket(family, typ, proto int) (int, error) {
	return syscall.Socket(family, typ, proto)
}

// skMeminfoDrops is SK_MEMINFO_DROPS, the index of the socket's drop
// count in the SO_MEMINFO array (linux/sock_diag.h).
const (
	skMeminfoDrops = 8
	skMeminfoVars  = 9
)

// socketDrops reads how many packets the kernel dropped on fd because
// its receive buffer was full (or a filter refused them): the counter
// SO_RXQ_OVFL reports per packet, read once on demand instead.
func socketDrops(fd int) uint64 {
	var info [skMeminfoVars]uint32
	l := uint32(unsafe.Sizeof(info))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 || l < (skMeminfoDrops+1)*4 {
		return 0
	}
	return uint64(info[skMeminfoDrops])
}

// tunTxQueueLen is the TUN's transmit queue: packets the kernel routed
// into the device and the daemon has not read yet. The default of 500
// overflows under a TCP burst while the outbound goroutine encrypts;
// each entry costs memory only while it is queued.
const tunTxQueueLen = 1000
