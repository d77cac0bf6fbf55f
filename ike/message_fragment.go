package ike

import (
	"fmt"
)

// MaxFragments bounds how many IKEv1 fragments one message may have.
const MaxFragments = 32

// ErrFragment reports an inconsistent fragment sequence.
var ErrFragment error = errorText("ike: bad IKEv1 fragment")

// Reassembler collects the IKEv1 fragments (payload type 132) of one
// message. The fragments' data concatenate, in fragment-number order, to
// the complete original datagram (ISAKMP header included), which is then
// parsed like any other message. A fragment with a new ID restarts the
// collection (the peer retransmitted with fresh fragments).
type Reassembler struct {
	id    uint16
	frags [MaxFragments + 1][]byte
	last  uint8
	size  int
	have  int
}

// Add stores one fragment. When the set is complete it returns the
// reassembled datagram and resets itself.
func (r *Reassembler) Add(f *Fragment) ([]byte, error) {
	if f.Number == 0 || int(f.Number) > MaxFragments {
		return nil, fmt.Errorf("%w: number %d", ErrFragment, f.Number)
	}
	if r.have > 0 && f.ID != r.id {
		r.Reset()
	}
	r.id = f.ID
	if r.frags[f.Number] != nil {
		return nil, nil // duplicate
	}
	if f.Last {
		if r.last != 0 && r.last != f.Number {
			r.Reset()
			return nil, fmt.Errorf("%w: two last fragments", ErrFragment)
		}
		r.last = f.Number
	}
	if r.size+len(f.Data) > MaxMessageLen {
		r.Reset()
		return nil, fmt.Errorf("%w: reassembled message too long", ErrFragment)
	}
	r.frags[f.Number] = append([]byte(nil), f.Data...)
	r.size += len(f.Data)
	r.have++
	if r.last == 0 || r.have < int(r.last) {
		return nil, nil
	}
	for i := 1; i <= int(r.last); i++ {
		if r.frags[i] == nil {
			return nil, nil
		}
	}
	out := make([]byte, 0, r.size)
	for i := 1; i <= int(r.last); i++ {
		out = append(out, r.frags[i]...)
	}
	r.Reset()
	return out, nil
}

// Reset drops the collected fragments.
func (r *Reassembler) Reset() { *r = Reassembler{} }
