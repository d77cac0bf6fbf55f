package esp

import "testing"

// BenchmarkEncapParallel: Encap of one SA from every CPU at once, as the
// engine's loops do on a busy tunnel. The SA adds scratch slots while it
// warms up; what matters is that the CPUs do not slow each other down
// (lock or cache-line contention) in the steady state.
func BenchmarkEncapParallel(b *testing.B) {
	po, _ := pairParams(suite{ProtoESP, "aes128gcm16", "", ""}, Tunnel, false, false, false)
	out, err := NewOutbound(po)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	pkt := innerFor(po, false, 1400)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, MaxHeadroom+len(pkt)+MaxTailroom)
		for pb.Next() {
			copy(buf[MaxHeadroom:], pkt)
			if _, _, err := out.Encap(buf, MaxHeadroom, len(pkt)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
