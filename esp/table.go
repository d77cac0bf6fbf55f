package esp

import (
	"sync"
	"sync/atomic"
)

// The inbound SA table is an immutable map behind an atomic pointer: the
// inbound loops look SPIs up without any lock, and the rare writers
// (install, remove) copy the map under Engine.tableMu and publish the copy.

type inKey struct {
	proto Proto
	spi   uint32
}

type inTable struct {
	m map[inKey]*Pair
}

func (e *Engine) lookupInbound(proto Proto, spi uint32) *Pair {
	return e.inbound.Load().m[inKey{proto, spi}]
}

// publishInbound replaces the table with a copy changed by edit. Callers
// hold e.tableMu.
func (e *Engine) publishInbound(edit func(m map[inKey]*Pair)) {
	old := e.inbound.Load().m
	m := make(map[inKey]*Pair, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	edit(m)
	e.inbound.Store(&inTable{m: m})
}

// entry is one policy entry (crypto map entry): its current outbound SA
// and the packets waiting for one.
type entry struct {
	id  string
	out atomic.Pointer[Pair]

	mu          sync.Mutex
	queue       []queued     // packets waiting for an SA, oldest first
	pending     atomic.Int32 // len(queue), readable without mu
	lastAcquire atomic.Int64 // unix nanoseconds

	drops dropCounters
}
