package tun

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
)

// batchRead is one batched read through a RawConn, shared by the TUN device
// and the raw ESP/AH sockets. The state of the read in progress lives here
// and the ready function (fn, a method value built once by the owner) fills
// it, so that a read allocates nothing.
type batchRead struct {
	raw    syscall.RawConn
	fn     func(fd uintptr) bool // fills bufs[n:], sets err; false: wait for the poller
	what   string                // what failed, in errors: "read", "raw read"
	closed atomic.Bool

	bufs  [][]byte
	sizes []int
	off   int
	n     int
	err   error
}

// read waits for at least one packet and fills up to len(bufs) buffers at
// bufs[i][offset:], setting sizes[i]; it returns how many.
func (r *batchRead) read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	r.bufs, r.sizes, r.off, r.n, r.err = bufs, sizes, offset, 0, nil
	err := r.raw.Read(r.fn)
	n, rerr := r.n, r.err
	r.bufs, r.sizes = nil, nil
	if n > 0 {
		return n, nil
	}
	if rerr != nil {
		return 0, rerr
	}
	if err != nil {
		if r.closed.Load() {
			// The poller's "file closing" error is not os.ErrClosed.
			return 0, fmt.Errorf("tun: %s: %w", r.what, os.ErrClosed)
		}
		return 0, fmt.Errorf("tun: %s: %w", r.what, err)
	}
	return 0, nil
}
