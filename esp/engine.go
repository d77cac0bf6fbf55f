package esp

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The packet paths (RFC 4301 §5.1 outbound, §5.2 inbound), as two kinds of
// loops around small interfaces so that they run unchanged against the
// kernel (package tun) and against fakes in tests:
//
//	outbound: Device.Read -> Classifier -> entry's current SA -> Encap -> Sender
//	inbound:  Reader.Read -> ParseSPI -> inbound table -> Decap -> Device.Write
//
// Each loop moves a batch of packets per wake-up through buffers it owns,
// so the steady state allocates nothing. There is one outbound loop and one
// inbound loop per receive socket; a given SA's packets always pass through
// one loop, which keeps them in order without locks on the hot path.

// Device is the TUN side: cleartext IP packets. Read fills bufs[i][offset:]
// with up to len(bufs) packets and sets sizes[i]; Write sends
// bufs[i][offset:] into the kernel. *tun.Device implements it.
type Device interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
}

// Reader delivers received ESP/AH packets, each with its outer IP header,
// in the same batch form as Device.Read. *tun.RawReader implements it.
type Reader interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
}

// Sender puts finished packets bufs[i][offset:] on the wire; each starts
// with its outer IP header (a UDP header follows for NAT-T SAs). It must be
// safe for concurrent use and must not retain the buffers.
type Sender interface {
	Send(bufs [][]byte, offset int) error
}

// Classifier maps an outbound cleartext packet to the policy entry (crypto
// map entry) whose ACL permits it, and the ACL line that did. ok is false
// when no entry permits the packet. It is called per packet and must not
// allocate. *acl.Classifier implements it.
type Classifier interface {
	Classify(pkt []byte) (entry, rule int, ok bool)
}

// Protector is the outbound half of an SA as the paths use it;
// *OutboundSA implements it.
type Protector interface {
	Encap(buf []byte, off, n int) (start, end int, err error)
	Headroom() int
	Tailroom() int
	// WireLen is the size Encap makes of an n-byte packet; MaxInner the
	// largest packet whose encapsulation fits mtu bytes.
	WireLen(n int) int
	MaxInner(mtu int) int
	Close()
}

// Verifier is the inbound half of an SA as the paths use it; *InboundSA
// implements it (its selector check runs inside Decap).
type Verifier interface {
	Decap(buf []byte, start, end int) (off, n int, err error)
	LookupKey() (Proto, uint32)
	Close()
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Device     Device
	Sender     Sender
	Classifier Classifier
	// Entries names the policy entries in Classifier's index order (the
	// crypto map IDs, "name/seq"); they label status and drop counters.
	Entries []string
	// Acquire is called from the outbound loop when a packet matches an
	// entry that has no SA yet (at most once per second per entry while
	// packets keep waiting). pkt is valid only during the call. It must not
	// block: IKE should hand the request to its own goroutine. nil: the
	// packets just wait in the entry's queue until an SA is installed.
	// The entry is named by its ID, which stays right across a Reconfigure.
	Acquire func(id string, pkt []byte)
	// Expire is called from the engine's timer goroutine when a pair
	// reaches its soft lifetime (hard false: time to rekey; once per pair)
	// and after a pair that reached its hard lifetime was removed (hard
	// true). It must not block. nil: expired pairs are just removed.
	Expire func(p *Pair, hard bool)
	// MaxPacket is the largest cleartext or wire packet handled (default
	// 2048). Buffers are MaxHeadroom+MaxPacket+MaxTailroom bytes.
	MaxPacket int
	// Batch is the number of packets moved per wake-up (default 16).
	Batch int
	// QueueLen bounds the packets held per entry while waiting for an SA
	// (default 16).
	QueueLen int
	// PathMTU, if set, is asked for the MTU towards a pair's peer when
	// InstallPairFor gets a PairInfo without PathMTU (IKE does not know it).
	PathMTU func(peer netip.Addr) int
	// WireMTU is the MTU towards the peers used when a pair has no PathMTU:
	// a packet that would exceed it after encapsulation is not sent; the
	// sender gets ICMP "fragmentation needed" / ICMPv6 "packet too big".
	// 0 disables the check.
	WireMTU int
	// Bypass, if set, sends the outbound packets that no entry permits in
	// cleartext, as whole IP packets: IOS semantics, where a crypto ACL
	// deny (or no match at all) means "not protected by this crypto map",
	// not "drop". It must route them around the TUN (the data plane's raw
	// sockets carry the bypass mark), or they would come straight back.
	// nil drops them (no_policy).
	Bypass Sender
}

// Engine runs the packet paths and owns the SA table.
type Engine struct {
	cfg     EngineConfig
	dev     Device
	sender  Sender
	bufSize int
	pool    bufPool

	// policy is the classifier and the entries it indexes, published
	// together so that a reload (Reconfigure) swaps both at once; the
	// outbound loop loads it once per batch.
	policy atomic.Pointer[policyTable]

	inbound inTable
	tableMu setupMutex // serialises writers of the inbound table and pair sets

	// pairs lists every installed pair, under tableMu: a slice rather
	// than a set (a map's types and iteration code cost flash); Remove
	// scans it, which even a hub's thousand pairs make cheap.
	pairs []*Pair

	drops    dropCounters
	bypassed atomic.Uint64 // packets sent in cleartext through cfg.Bypass

	acquire atomic.Pointer[acquireFunc]
	expire  atomic.Pointer[func(p *Pair, hard bool)]

	// Crypto workers shared by the loops (see parallel.go).
	workers int
	work    chan *spreadState

	loopsMu setupMutex
	loops   []*loopState
	wg      sync.WaitGroup
	closed  atomic.Bool
	done    chan struct{}
}

// loopState lets retiring SAs wait until no loop can still hold them: a
// loop's gen is odd while it processes a batch.
type loopState struct {
	_   [0]func() // not comparable: no generated == function (flash)
	gen atomic.Uint64
}

func (l *loopState) enter() { l.gen.Add(1) }
func (l *loopState) leave() { l.gen.Add(1) }

// NewEngine checks the configuration and builds an engine with an empty SA
// table. Start the loops with RunOutbound and RunInbound.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Device == nil || cfg.Sender == nil || cfg.Classifier == nil {
		return nil, errors.New("esp: engine needs a device, a sender and a classifier")
	}
	if cfg.MaxPacket <= 0 {
		cfg.MaxPacket = 2048
	}
	if cfg.MaxPacket > 65535 {
		cfg.MaxPacket = 65535
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 16
	}
	e := &Engine{
		cfg:     cfg,
		dev:     cfg.Device,
		sender:  cfg.Sender,
		bufSize: MaxHeadroom + cfg.MaxPacket + MaxTailroom,
		done:    make(chan struct{}),
	}
	e.pool.size = e.bufSize
	pol, err := e.newPolicy(cfg.Classifier, cfg.Entries, nil)
	if err != nil {
		return nil, err
	}
	e.policy.Store(pol)
	if cfg.Acquire != nil {
		e.SetAcquireByID(cfg.Acquire)
	}
	if cfg.Expire != nil {
		e.SetExpire(cfg.Expire)
	}
	// GOMAXPROCS-1 crypto workers (none on one CPU; parallel.go).
	if e.workers = min(runtime.GOMAXPROCS(0)-1, maxCryptoWorkers); e.workers > 0 {
		e.work = make(chan *spreadState, 4*e.workers)
		for i := 0; i < e.workers; i++ {
			go func() {
				for {
					select {
					case s := <-e.work:
						s.help(true)
					case <-e.done:
						return
					}
				}
			}()
		}
	}
	go e.runLifetimes()
	return e, nil
}

// acquireFunc is the stored Acquire hook.
type acquireFunc func(id string, pkt []byte)

// SetAcquireByID replaces EngineConfig.Acquire; IKE attaches itself with
// it after the data plane is running. The entry is named by its ID (the
// crypto map's "name/seq"). nil detaches.
func (e *Engine) SetAcquireByID(f func(id string, pkt []byte)) {
	if f == nil {
		e.acquire.Store(nil)
		return
	}
	a := acquireFunc(f)
	e.acquire.Store(&a)
}

// SetExpire replaces EngineConfig.Expire. nil detaches.
func (e *Engine) SetExpire(f func(p *Pair, hard bool)) {
	if f == nil {
		e.expire.Store(nil)
		return
	}
	e.expire.Store(&f)
}

func (e *Engine) newBatch() (bufs [][]byte, sizes []int) {
	bufs = make([][]byte, e.cfg.Batch)
	for i := range bufs {
		bufs[i] = e.pool.get()
	}
	return bufs, make([]int, e.cfg.Batch)
}

// batchLoop is what the packet paths (outbound, inbound, UDP-encapsulated)
// share: the engine, the path's loop state, and the buffers the next batch
// is read into (the outbound path switches between two sets).
type batchLoop struct {
	e     *Engine
	state *loopState
	bufs  [][]byte
	sizes []int
}

// newBatchLoop makes a loop's buffers and registers its state, which
// Remove watches.
func (e *Engine) newBatchLoop() batchLoop {
	l := batchLoop{e: e, state: &loopState{}}
	e.loopsMu.Lock()
	e.loops = append(e.loops, l.state)
	e.loopsMu.Unlock()
	l.bufs, l.sizes = e.newBatch()
	return l
}

// run reads batches with read until readFailed says stop, and processes
// each inside the loop's state.
func (l *batchLoop) run(read func(bufs [][]byte, sizes []int, offset int) (int, error), process func(n int)) error {
	for {
		n, err := read(l.bufs, l.sizes, MaxHeadroom)
		if err != nil {
			if stop, err := l.e.readFailed(err); stop {
				return err
			}
			continue
		}
		l.state.enter()
		process(n)
		l.state.leave()
	}
}

// RunOutbound reads the device until it fails or the engine is closed.
// Run exactly one: it is what keeps each SA's outbound packets in order.
//
// The loops end by returning, never by a panic that anything recovers,
// so the clean-up is plain calls after the loop rather than deferred ones
// (each a wrapper function: flash).
func (e *Engine) RunOutbound() error {
	e.wg.Add(1)
	o := newOutLoop(e)
	o.startPipeline()
	err := o.run(e.dev.Read, o.process)
	o.stop()
	e.wg.Done()
	return err
}

// RunInbound reads r until it fails or the engine is closed. Run one per
// receive socket.
func (e *Engine) RunInbound(r Reader) error {
	e.wg.Add(1)
	in := newInLoop(e)
	err := in.run(r.Read, in.process)
	e.wg.Done()
	return err
}

// readFailed decides what a loop does after a read error: stop (with nil
// once the engine is closed, or the error when the device or socket is
// gone), or count it and read again. Transient errors (a kernel out of
// buffers, a signal) must not silently end a packet path; the short pause
// keeps a persistent error from spinning a CPU of a small router.
func (e *Engine) readFailed(err error) (stop bool, _ error) {
	if e.closed.Load() {
		return true, nil
	}
	if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return true, err
	}
	e.drops.add(DropReadError)
	select {
	case <-e.done:
		return true, nil
	case <-time.After(10 * time.Millisecond):
	}
	return false, nil
}

// Close marks the engine closed (the caller then closes the device and the
// sockets, which ends the loops), waits for the loops, and wipes every SA.
func (e *Engine) Close() {
	if e.closed.Swap(true) {
		return
	}
	close(e.done)
}

// Wait waits for the loops to return (after their devices were closed)
// and wipes the keys of every installed SA.
func (e *Engine) Wait() {
	e.wg.Wait()
	e.tableMu.Lock()
	for _, p := range e.pairs {
		p.close()
	}
	e.pairs = nil
	e.inbound.clear()
	for _, ent := range e.policy.Load().entries {
		ent.sel.Store(nil)
		ent.out.Store(nil)
		ent.rules.Store(nil)
	}
	e.tableMu.Unlock()
}

// setupMutex is a mutex that only install, removal, reload and status
// paths take, never a packet. Its Lock and Unlock are calls: sync.Mutex's
// are inlined, and each of the two dozen copies cost flash.
type setupMutex struct {
	_  [0]func() // not comparable: no generated == function (flash)
	mu sync.Mutex
}

//go:noinline
func (m *setupMutex) Lock() { m.mu.Lock() }

//go:noinline
func (m *setupMutex) Unlock() { m.mu.Unlock() }
