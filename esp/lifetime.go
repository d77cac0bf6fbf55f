package esp

import (
	"sync/atomic"
	"time"
)

// lifetime tracks the soft (rekey) and hard (stop) limits of an SA. Byte and
// packet limits are checked per packet with atomics; time limits are checked
// by CheckTime, which the SA's owner calls periodically, so the packet path
// never reads the clock.
type lifetime struct {
	_                    [0]func() // not comparable: no generated == function (flash)
	softBytes, hardBytes uint64
	softPkts, hardPkts   uint64
	softTime, hardTime   time.Duration
	created              time.Time

	packets, bytes atomic.Uint64
	state          atomic.Uint32 // lifeSoft | lifeHard
}

const (
	lifeSoft = 1 << iota
	lifeHard
)

func (l *lifetime) hard() bool { return l.state.Load()&lifeHard != 0 }

func (l *lifetime) mark(bit uint32) {
	for {
		s := l.state.Load()
		if s&bit == bit || l.state.CompareAndSwap(s, s|bit) {
			return
		}
	}
}

// account adds one packet of n cleartext bytes.
func (l *lifetime) account(n int) {
	p := l.packets.Add(1)
	b := l.bytes.Add(uint64(n))
	if (l.hardPkts != 0 && p >= l.hardPkts) || (l.hardBytes != 0 && b >= l.hardBytes) {
		l.mark(lifeSoft | lifeHard)
	} else if (l.softPkts != 0 && p >= l.softPkts) || (l.softBytes != 0 && b >= l.softBytes) {
		l.mark(lifeSoft)
	}
}

func (l *lifetime) checkTime(now time.Time) {
	age := now.Sub(l.created)
	if l.hardTime != 0 && age >= l.hardTime {
		l.mark(lifeSoft | lifeHard)
	} else if l.softTime != 0 && age >= l.softTime {
		l.mark(lifeSoft)
	}
}
