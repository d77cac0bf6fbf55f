package ike

import (
	"encoding/binary"
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

// Add stores one fragment payload (PayloadFragment: fragment ID,
// number, flags with 1 for the last, then the data). When the set is
// complete it returns the reassembled datagram and resets itself.
func (r *Reassembler) Add(f *Opaque) ([]byte, error) {
	if f == nil || f.PType != PayloadFragment || len(f.Data) < 4 {
		return nil, fmt.Errorf("%w: not a fragment payload", ErrFragment)
	}
	id, number, last, data := binary.BigEndian.Uint16(f.Data), f.Data[2], f.Data[3]&1 != 0, f.Data[4:]
	if number == 0 || int(number) > MaxFragments {
		return nil, fmt.Errorf("%w: number %d", ErrFragment, number)
	}
	if r.have > 0 && id != r.id {
		r.Reset()
	}
	r.id = id
	if r.frags[number] != nil {
		return nil, nil // duplicate
	}
	if last {
		if r.last != 0 && r.last != number {
			r.Reset()
			return nil, fmt.Errorf("%w: two last fragments", ErrFragment)
		}
		r.last = number
	}
	if r.size+len(data) > MaxMessageLen {
		r.Reset()
		return nil, fmt.Errorf("%w: reassembled message too long", ErrFragment)
	}
	r.frags[number] = append([]byte(nil), data...)
	r.size += len(data)
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
