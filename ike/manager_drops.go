package ike

import (
	"sync"
	"sync/atomic"
	"time"
	"tinyipsec/internal/logx"
	"tinyipsec/internal/status"
)

// Input that is not authenticated (and most IKE input is not, until
// phase 1 completes) must not be able to fill the log: a flood of forged
// first messages would otherwise write a line per datagram. Every drop is
// counted by reason (status shows the counters, as it shows the data
// plane's), and the log line it causes is rate-limited per reason,
// whatever the log level: one line at once, then at most one per
// logWindow carrying the number of lines suppressed meanwhile.

// DropReason classifies IKE input that was dropped or ignored.
type DropReason uint8

// The drop reasons; DropReasonNames are their status names.
const (
	DropMalformed         DropReason = iota // unparsable header or message
	DropNoSA                                // cookies of no SA we know
	DropForeignCookie                       // a responder cookie we did not issue
	DropNoCryptoMap                         // first message from a peer without a crypto map
	DropRefused                             // first message refused (nothing acceptable offered, ...)
	DropResponderBusy                       // MM3 waits: too many negotiations (proven) in progress
	DropAggressiveBusy                      // too many Aggressive Mode responders from the address
	DropWrongEndpoint                       // an unauthenticated message from another address or port than the SA's
	DropCleartextNotify                     // an unauthenticated Informational during phase 1
	DropPhase1Rejected                      // a phase 1 message the exchange rejected
	DropBeforeEstablished                   // Quick Mode or Informational before phase 1 completed
	DropUnauthenticated                     // HASH of a Quick Mode or Informational message did not verify
	DropReplay                              // an authenticated message seen before (replayed)
	DropUnsupported                         // an exchange type we do not speak
	DropHalfOpenEvicted                     // an unproven responder evicted for room (pool full)
	DropHalfOpenPerSource                   // an unproven responder evicted (per-address limit)
	DropBusy                                // a phase 1 message while the previous one is being computed
	DropShed                                // a first message shed while the input was backlogged (manager_inbound.go)
	// Not drops, but events that unauthenticated input can cause as
	// often as it likes; counted and rate-limited the same way.
	EventPhase1Failed   // a negotiation failed (authentication, proposal, ...)
	EventPhase1TimedOut // a negotiation got no (acceptable) answer in time
	numDropReasons
)

// DropReasonNames are the names status uses.
var DropReasonNames = [numDropReasons]string{
	"malformed", "no-sa", "foreign-cookie", "no-crypto-map", "refused", "responder-busy", "aggressive-busy",
	"wrong-endpoint", "cleartext-notify", "phase1-rejected", "before-established", "unauthenticated",
	"replay", "unsupported-exchange", "half-open-evicted", "half-open-per-source", "busy", "shed",
	"phase1-failed", "phase1-timed-out",
}

// dropLevels are the levels the reasons log at: the usual traffic of a
// busy or attacked responder at debug, refusals at info, what needs an
// admin at warning.
var dropLevels = [numDropReasons]logx.Level{
	DropMalformed: logx.LevelDebug, DropNoSA: logx.LevelDebug, DropForeignCookie: logx.LevelDebug,
	DropNoCryptoMap: logx.LevelInfo, DropRefused: logx.LevelInfo, DropResponderBusy: logx.LevelWarn,
	DropAggressiveBusy: logx.LevelWarn, DropWrongEndpoint: logx.LevelDebug, DropCleartextNotify: logx.LevelInfo,
	DropPhase1Rejected: logx.LevelInfo, DropBeforeEstablished: logx.LevelDebug, DropUnauthenticated: logx.LevelDebug,
	DropReplay: logx.LevelDebug, DropUnsupported: logx.LevelDebug, DropHalfOpenEvicted: logx.LevelWarn,
	DropHalfOpenPerSource: logx.LevelWarn, DropBusy: logx.LevelDebug, DropShed: logx.LevelWarn,
	EventPhase1Failed: logx.LevelWarn, EventPhase1TimedOut: logx.LevelWarn,
}

func (r DropReason) String() string {
	if r < numDropReasons {
		return DropReasonNames[r]
	}
	return "unknown"
}

// logWindow is the rate limit of log lines per drop reason.
var logWindow = 30 * time.Second

// dropLog counts drops and rate-limits their log lines.
type dropLog struct {
	_      [0]func() // not comparable: no generated == function (flash)
	counts [numDropReasons]atomic.Uint64

	mu    sync.Mutex
	kinds [numDropReasons]dropKind
}

// dropKind is the log state of one drop reason.
type dropKind struct {
	_          [0]func() // not comparable: no generated == function (flash)
	last       mono
	suppressed uint64
	msg        string
}

// note counts one drop of reason r and logs msg unless the reason
// already logged within logWindow.
func (d *dropLog) note(log *logx.Logger, now mono, r DropReason, msg string, args ...any) {
	d.counts[r].Add(1)
	d.mu.Lock()
	k := &d.kinds[r]
	if k.last != 0 && time.Duration(now-k.last) < logWindow {
		k.suppressed++
		k.msg = msg
		d.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	d.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	logAt(log, dropLevels[r], msg, append(args, "drop", r)...)
}

// logAt writes one line at level.
//
// The manager's log lines take values with a String method (drop
// reasons, lives, kinds, selectors, identities) as they are: logx prints
// them by that method when the line is written, and each .String() at a
// call site was a call and a boxed string of its own (flash).
func logAt(log *logx.Logger, level logx.Level, msg string, args ...any) {
	switch {
	case level >= logx.LevelError:
		log.Error(msg, args...)
	case level >= logx.LevelWarn:
		log.Warn(msg, args...)
	case level >= logx.LevelInfo:
		log.Info(msg, args...)
	default:
		log.Debug(msg, args...)
	}
}

// flush writes the summary line of the reasons whose window ended with
// lines suppressed (the timer calls it).
func (d *dropLog) flush(log *logx.Logger, now mono) {
	type line struct {
		_   [0]func() // not comparable: no generated == function (flash)
		r   DropReason
		n   uint64
		msg string
	}
	var out []line
	d.mu.Lock()
	for r := range d.kinds {
		k := &d.kinds[r]
		if k.suppressed > 0 && time.Duration(now-k.last) >= logWindow {
			out = append(out, line{r: DropReason(r), n: k.suppressed, msg: k.msg})
			k.last, k.suppressed = now, 0
		}
	}
	d.mu.Unlock()
	for _, l := range out {
		logAt(log, dropLevels[l.r], "suppressed repeats of: "+l.msg, "suppressed", l.n, "drop", l.r)
	}
}

// AddStatus adds the manager's share of a status report: its IKE SAs
// (Status), the drops by reason (those that occurred), the unproven Main
// Mode responders, and the mark on each IPsec SA whose IKE SA is gone,
// which the data plane listed before (by inbound SPI, as it shows them).
// One call for the daemon instead of one per figure (flash).
func (m *Manager) AddStatus(r *status.Report) {
	r.IKESAs = append(r.IKESAs, m.Status()...)
	for i := range numDropReasons {
		if n := m.drops.counts[i].Load(); n > 0 {
			if r.IKEDrops == nil {
				r.IKEDrops = map[string]uint64{}
			}
			r.IKEDrops[i.String()] = n
		}
	}
	m.mu.Lock()
	r.IKEHalfOpen = len(m.halfOpen.entries)
	if len(m.orphans) > 0 {
		orphan := map[string]bool{}
		for _, o := range m.orphans {
			orphan["0x"+spiHex(o.c.espIn, o.c.ahIn)] = true
		}
		for i := range r.IPsecSAs {
			if orphan[r.IPsecSAs[i].SPIIn] {
				r.IPsecSAs[i].WithoutIKESA = true
			}
		}
	}
	m.mu.Unlock()
}

// drop counts and (rate-limited) logs dropped input.
func (m *Manager) drop(r DropReason, msg string, args ...any) {
	m.drops.note(m.log, monoNow(), r, msg, args...)
}
