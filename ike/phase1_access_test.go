package ike

import "net/netip"

// The state machine's accessors the tests read it through. The manager
// reads the fields (p1Adapter); each method of Phase1 in the product is
// an entry of its type's method table (flash).

// State returns the current state.
func (p *Phase1) State() State { return p.state }

// Initiator reports the role.
func (p *Phase1) Initiator() bool { return p.initiator }

// Exchange is ExchangeMain or ExchangeAggressive (0 for a responder that
// has not seen the first message).
func (p *Phase1) Exchange() ExchangeType { return p.out.Exchange }

// Cookies returns the IKE SA's cookies (CookieR is zero until known).
func (p *Phase1) Cookies() (Cookie, Cookie) { return p.out.CookieI, p.out.CookieR }

// Floated reports whether the exchange moved to UDP 4500.
func (p *Phase1) Floated() bool { return p.floated }

// Remote returns the peer endpoint currently in use.
func (p *Phase1) Remote() netip.AddrPort { return p.out.Remote }

// Done returns the result once the state is active.
func (p *Phase1) Done() *Phase1Done { return p.done }

// Failure returns why the negotiation failed, if it did.
func (p *Phase1) Failure() *Phase1Failure { return p.failure }
