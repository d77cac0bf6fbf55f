package ike

import (
	"testing"

	"tinyipsec/internal/logx"
)

// The life of an IKE SA only goes forward: negotiating, (configuring),
// active, dead; setLife refuses any other move and leaves the state.
func TestIKELifeMoves(t *testing.T) {
	allowed := map[[2]ikeLife]bool{
		{lifeNegotiating, lifeConfiguring}: true, {lifeNegotiating, lifeActive}: true, {lifeNegotiating, lifeDead}: true,
		{lifeConfiguring, lifeActive}: true, {lifeConfiguring, lifeDead}: true,
		{lifeActive, lifeDead}: true,
	}
	m := &Manager{log: logx.Discard()}
	for from := lifeNegotiating; from <= lifeDead; from++ {
		for to := lifeNegotiating; to <= lifeDead; to++ {
			want := from == to || allowed[[2]ikeLife{from, to}]
			sa := &ikeSA{life: from}
			m.setLife(sa, to)
			if got := sa.life == to; got != want {
				t.Errorf("%v -> %v: moved %v, want %v", from, to, got, want)
			}
			if !want && sa.life != from {
				t.Errorf("%v -> %v refused but the state changed to %v", from, to, sa.life)
			}
		}
	}
}

// Status' state names derive from the life: phase 1's state while
// negotiating (and for an SA that died negotiating), the Quick Mode in
// progress or MM_ACTIVE / AM_ACTIVE after.
func TestIKELifeStateNames(t *testing.T) {
	active := &p1Outcome{exchange: "aggressive"}
	cases := []struct {
		sa   *ikeSA
		want string
	}{
		{&ikeSA{life: lifeNegotiating}, "MM_NO_STATE"},
		{&ikeSA{life: lifeNegotiating, busy: true, busyState: "MM_WAIT_MSG4"}, "MM_WAIT_MSG4"},
		{&ikeSA{life: lifeDead}, "MM_NO_STATE"},
		{&ikeSA{life: lifeConfiguring, out: active}, "AM_ACTIVE"},
		{&ikeSA{life: lifeActive, out: &p1Outcome{exchange: "main"}}, "MM_ACTIVE"},
		{&ikeSA{life: lifeActive, out: active, qms: map[uint32]*qmState{1: {q: &quickMode{state: QMWaitMsg2}}}}, "QM_WAIT_MSG2"},
	}
	for _, c := range cases {
		if got := c.sa.stateName(); got != c.want {
			t.Errorf("%v: %s, want %s", c.sa.life, got, c.want)
		}
	}
}
