// Package netif runs the classic interface ioctls: the TUN's set-up, an
// interface's index (Index) and, in tun, a route's interface MTU.
// net.InterfaceByName and net.InterfaceByIndex answer by listing every
// interface of the system over netlink; one ioctl on a throwaway socket
// asks the kernel about the one interface needed, and the functions
// behind it are linked for the TUN device's set-up anyway (flash).
package netif

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Ioctl runs the interface ioctls reqs, in order, on ifr over a
// throwaway datagram socket: the one place tinyipsec opens one.
func Ioctl(ifr *unix.Ifreq, reqs ...uint) error {
	s, err := syscall.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	for _, req := range reqs {
		if err = unix.IoctlIfreq(s, req, ifr); err != nil {
			break
		}
	}
	syscall.Close(s)
	return err
}

// Index returns the index of the interface called name (an IPv6 zone).
func Index(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		err = Ioctl(ifr, unix.SIOCGIFINDEX)
	}
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}
