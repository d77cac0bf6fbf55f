package ike

import (
	"crypto/aes"
	"path/filepath"
	"testing"
)

func FuzzUnmarshal(f *testing.F) {
	for _, c := range vectorCases {
		for _, d := range pcapIKEMessages(f, filepath.Join(vectorDir(c), "exchange.pcap")) {
			f.Add(d.Payload)
		}
	}
	blk, _ := aes.NewCipher(make([]byte, 16))
	iv := make([]byte, 16)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err == nil {
			// Whatever parsed must encode again without error or panic.
			if _, err := m.Marshal(); err != nil {
				t.Fatalf("re-marshal: %v", err)
			}
			for _, p := range m.Payloads {
				if id, ok := p.(*ID); ok {
					_ = id.String()
					_, _, _ = id.Range()
				}
			}
		}
		// The decrypting path must not panic either; with a wrong key the
		// plaintext is noise, which exercises the payload parser too.
		_, _, _ = Open(b, blk, iv)
		if len(b) > HeaderLen {
			m := &Message{Header: Header{NextPayload: PayloadType(b[0])}}
			_ = m.parsePayloads(b[1:], true)
		}
	})
}
