package netif

import (
	"net"
	"testing"
)

// TestLoopback: the ioctls give what net's netlink listing gives.
func TestLoopback(t *testing.T) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Skip(err)
	}
	if i, err := Index("lo"); err != nil || i != lo.Index {
		t.Errorf("Index(lo) = %d, %v; want %d", i, err, lo.Index)
	}
}

// TestMissing: an interface that does not exist is an error naming it.
func TestMissing(t *testing.T) {
	if _, err := Index("nosuchif0"); err == nil || err.Error() != "interface nosuchif0: no such device" {
		t.Errorf("Index(nosuchif0) error = %v", err)
	}
	if _, err := Index("a-name-longer-than-ifnamsiz"); err == nil {
		t.Error("Index accepted a name longer than IFNAMSIZ")
	}
}
