package ike

import (
	"math/bits"
	"testing"
)

// TestExchangeRoutes feeds every exchange type in every stage of an IKE
// SA's life to the dispatcher's table: phase 1 and its notifies while
// negotiating (and the gateway's early XAUTH request, kept), XAUTH /
// Mode-Config and Informationals once phase 1 is up, Quick Mode only when
// active; nothing for a dead SA or an exchange type IKEv1 does not have.
func TestExchangeRoutes(t *testing.T) {
	want := map[ikeLife]map[ExchangeType]string{
		lifeNegotiating: {ExchangeMain: "phase 1", ExchangeAggressive: "phase 1", ExchangeInformational: "phase 1 informational",
			ExchangeTransaction: "early XAUTH request"},
		lifeConfiguring: {ExchangeMain: "phase 1 repeat", ExchangeAggressive: "phase 1 repeat",
			ExchangeTransaction: "XAUTH / Mode-Config", ExchangeInformational: "informational"},
		lifeActive: {ExchangeMain: "phase 1 repeat", ExchangeAggressive: "phase 1 repeat",
			ExchangeTransaction: "XAUTH / Mode-Config", ExchangeInformational: "informational", ExchangeQuick: "Quick Mode"},
		lifeDead: {},
	}
	n := 0
	for l := lifeNegotiating; l <= lifeDead; l++ {
		for x := 0; x < 256; x++ {
			r := routeFor(ExchangeType(x), l)
			w, ok := want[l][ExchangeType(x)]
			switch {
			case r == nil && ok:
				t.Errorf("%v: %v has no route, want %s", l, ExchangeType(x), w)
			case r != nil && !ok:
				t.Errorf("%v: %v routed to %s, want none", l, ExchangeType(x), r.name)
			case r != nil && (r.name != w || r.handle == nil):
				t.Errorf("%v: %v routed to %s, want %s", l, ExchangeType(x), r.name, w)
			}
			if r != nil {
				n++
			}
		}
	}
	rows := 0
	for _, r := range exchangeRoutes {
		rows += bits.OnesCount8(uint8(r.lives))
	}
	if n != rows {
		t.Errorf("%d routes found, the table's rows name %d (rows overlapping?)", n, rows)
	}
}
