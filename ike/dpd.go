package ike

import "time"

// Dead Peer Detection (RFC 3706), Cisco's "on-idle" flavour: when nothing
// was heard from the peer for Delay, send R-U-THERE; repeat every
// retryInterval while no ACK comes; after Timeout without any sign of
// life the peer is dead and its SAs go.

// dpdState tracks one IKE SA's liveness.
type dpdState struct {
	_       [0]func()     // not comparable: no generated == function (flash)
	Delay   time.Duration // idle time before probing; 0 = DPD off
	Timeout time.Duration // silence after the first probe that means dead

	seq       uint32 // last sequence number we sent
	lastHeard mono   // last authenticated message (or ESP, via heard)
	probing   bool
	firstSent mono
	lastSent  mono
}

// dpdRetryInterval is the time between R-U-THERE retransmissions.
const dpdRetryInterval = 5 * time.Second

// heard records proof of life (any authenticated IKE message or inbound
// ESP on the SA's children).
func (d *dpdState) heard(now mono) {
	if now > d.lastHeard {
		d.lastHeard = now
	}
	d.probing = false
}

// ack handles an R-U-THERE-ACK; only the sequence of an outstanding probe
// counts (RFC 3706 section 5.2: stale or forged ACKs are ignored).
func (d *dpdState) ack(seq uint32, now mono) bool {
	if !d.probing || seq != d.seq {
		return false
	}
	d.heard(now)
	return true
}

// tick returns whether to send an R-U-THERE now (with its sequence
// number) or whether the peer is to be declared dead.
func (d *dpdState) tick(now mono) (send bool, seq uint32, dead bool) {
	if d.Delay <= 0 {
		return false, 0, false
	}
	if !d.probing {
		if time.Duration(now-d.lastHeard) < d.Delay {
			return false, 0, false
		}
		d.probing = true
		d.firstSent = now
	} else {
		if time.Duration(now-d.firstSent) >= d.Timeout {
			return false, 0, true
		}
		if time.Duration(now-d.lastSent) < dpdRetryInterval {
			return false, 0, false
		}
	}
	d.seq++
	d.lastSent = now
	return true, d.seq, false
}
