package esp

import (
	"testing"
	"time"
)

func TestLifetimeExpiry(t *testing.T) {
	dev, snd := &engDevice{}, &engSender{}
	type ev struct {
		p    *Pair
		hard bool
	}
	var got []ev
	e := newEngTest(t, dev, snd, EngineConfig{Expire: func(p *Pair, hard bool) { got = append(got, ev{p, hard}) }})
	par := engParams(0x8008, engAddrA, engAddrB)
	par.SoftTime, par.HardTime = time.Hour, 2*time.Hour
	out, err := NewOutbound(par)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := e.InstallPairFor("vpn/10", nil, out, PairInfo{Lifetime: 2 * time.Hour})
	now := time.Now()
	e.checkLifetimes(now.Add(time.Minute))
	if len(got) != 0 {
		t.Fatalf("early expiry: %v", got)
	}
	e.checkLifetimes(now.Add(61 * time.Minute))
	e.checkLifetimes(now.Add(62 * time.Minute))
	if len(got) != 1 || got[0] != (ev{p, false}) {
		t.Fatalf("soft expiry events %v, want one", got)
	}
	e.checkLifetimes(now.Add(121 * time.Minute))
	if len(got) != 2 || got[1] != (ev{p, true}) {
		t.Fatalf("hard expiry events %v", got)
	}
	if st := e.Stats(); len(st.Pairs) != 0 || st.Entries[0].HasSA {
		t.Fatalf("expired pair still installed: %+v", st)
	}
}

// FuzzInboundPath feeds arbitrary wire packets through the inbound path
// with an SA installed: nothing may panic, and only authentic packets may
// reach the device.
func FuzzInboundPath(f *testing.F) {
	dev, snd := &engDevice{}, &engSender{}
	e, err := NewEngine(EngineConfig{Device: dev, Sender: snd, Classifier: engClassifier{}, Entries: []string{"x"}})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	out, in := engSAs(f, 0x9009)
	if _, err := e.InstallPairFor("x", in, nil, PairInfo{}); err != nil {
		f.Fatal(err)
	}
	f.Add(encapCopy(f, out, engPacket([4]byte{10, 2, 0, 1}, 40, false)))
	f.Add([]byte{0x45, 0, 0, 20})
	f.Add(make([]byte, 60))
	l := newInLoop(e)
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) > e.cfg.MaxPacket {
			return
		}
		before := len(dev.packets())
		l.sizes[0] = copy(l.bufs[0][MaxHeadroom:], p)
		l.process(1)
		if len(dev.packets()) > before+1 {
			t.Fatal("one packet in, several out")
		}
	})
}
