package esp

import "time"

// Lifetimes: the SAs count bytes and packets themselves but never read the
// clock on the packet path. The engine ticks once a second, applies the
// time limits, and tells the owner (IKE) about soft expiry (time to rekey)
// once per pair. A pair whose SA reached its hard limit is removed: its
// SPIs leave the table and new traffic for the entry waits for an SA and
// triggers Acquire.

// lifetimeTick is how often time lifetimes are checked.
const lifetimeTick = time.Second

func (e *Engine) runLifetimes() {
	t := time.NewTicker(lifetimeTick)
	for {
		select {
		case <-e.done:
			t.Stop()
			return
		case now := <-t.C:
			e.checkLifetimes(now)
		}
	}
}

func (e *Engine) checkLifetimes(now time.Time) {
	for _, p := range e.pairList() {
		soft, hard := false, false
		for _, half := range [2]any{p.in, p.out} {
			x := saOf(half)
			if x == nil {
				continue
			}
			x.life.checkTime(now)
			s, h := x.Expired()
			soft, hard = soft || s, hard || h
		}
		exp := e.expire.Load()
		if soft && !p.softNotified.Swap(true) && exp != nil {
			(*exp)(p, false)
		}
		if hard {
			e.Remove(p)
			if exp != nil {
				(*exp)(p, true)
			}
		}
	}
}
