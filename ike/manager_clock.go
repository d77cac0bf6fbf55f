package ike

import "time"

// mono is an instant on the monotonic clock in nanoseconds; 0 means "not
// set". The manager's timers only compare instants and add durations to
// them, and never show a date: a time.Time is five words on 32-bit
// routers, copied at every call, and each Before/Add/Sub on it branches
// on its wall/monotonic encoding, where a mono is one 64-bit integer
// (flash). Status shows differences of monos as durations.
type mono int64

// monoEpoch is the instant monoOrigin; its monotonic reading makes every
// difference immune to wall-clock steps (NTP setting a router's clock).
var monoEpoch = time.Now()

// monoOrigin puts the process's instants about 73 years after the unset
// instant 0, so that "since an unset instant" is always longer than any
// timer, as it was from a zero time.Time.
const monoOrigin = mono(1 << 61)

// monoNow is the current instant (never 0).
func monoNow() mono { return monoOrigin + mono(time.Since(monoEpoch)) }

// The manager writes t + mono(d) and time.Duration(t - u) rather than
// calling methods: it is compiled without inlining, and a call passing
// 64-bit values costs more code on 32-bit than the arithmetic (flash).
