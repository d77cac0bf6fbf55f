package ike

import "time"

// Test shorthands for mono arithmetic (the manager spells it out).

func (t mono) add(d time.Duration) mono { return t + mono(d) }

func (t mono) sub(u mono) time.Duration { return time.Duration(t - u) }
