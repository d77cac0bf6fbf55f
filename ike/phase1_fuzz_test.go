package ike

import (
	"crypto/sha256"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"
)

// detRand is a deterministic byte stream so that fuzz inputs can match
// the cookies of a freshly built initiator.
type detRand struct{ n uint64 }

func (d *detRand) Read(b []byte) (int, error) {
	for i := 0; i < len(b); {
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], d.n)
		d.n++
		s := sha256.Sum256(c[:])
		i += copy(b[i:], s[:])
	}
	return len(b), nil
}

func fuzzConfigs() (*Phase1Config, *Phase1Config) {
	ic, rc := pskConfigs(pskPolicy(CipherAES, 128, HashSHA256, GroupMODP2048), pskPolicy(CipherAES, 256, HashSHA1, GroupECP256))
	ic.Rand, rc.Rand = &detRand{}, &detRand{n: 1 << 32}
	return ic, rc
}

// FuzzPhase1 feeds arbitrary datagrams to a fresh responder and to an
// initiator waiting for MM2: no input may panic.
func FuzzPhase1(f *testing.F) {
	for _, c := range vectorCases {
		for _, d := range pcapIKEMessages(f, filepath.Join(vectorDir(c), "exchange.pcap")) {
			f.Add(d.Payload)
		}
	}
	// A real MM2 for the deterministic initiator.
	ic, rc := fuzzConfigs()
	i, _ := NewInitiator(ic)
	r, _ := NewResponder(rc)
	now := time.Unix(1e9, 0)
	res, _ := i.Start(now)
	f.Add(res.Send[0])
	if out, err := r.Handle(Packet{Data: res.Send[0]}, now); err == nil && len(out.Send) > 0 {
		f.Add(out.Send[0])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ic, rc := fuzzConfigs()
		r, err := NewResponder(rc)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = r.Handle(Packet{Data: b, Local: addrR, Remote: addrI}, now)
		i, err := NewInitiator(ic)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = i.Start(now)
		_, _ = i.Handle(Packet{Data: b, Local: addrI, Remote: addrR}, now)
	})
}
