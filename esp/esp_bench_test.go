package esp

import (
	"crypto/cipher"
	"crypto/hmac"
	"fmt"
	"math"
	"testing"
	"time"
)

var benchSizes = []int{64, 512, 1400}

// benchSuites are the suites the benchmarks and README's table cover: the
// common ones, taken from allSuites.
var benchSuites = suitesNamed("aes128gcm16", "aes256gcm16", "chacha20poly1305",
	"aes128-sha1", "aes256-sha256", "3des-sha1", "null-sha256", "ah-sha256")

// rawPrimitive returns functions doing only the cryptography an ESP/AH
// packet of size bytes needs, with the standard library, in place: the
// baseline Encap and Decap are compared against.
func rawPrimitive(b testing.TB, s suite, size int) (seal, open func(buf []byte)) {
	e, a, h := keyLens(s)
	var aead cipher.AEAD
	var block cipher.Block
	if c := lookupCipher(s.cipher); c != nil {
		key := testKey("enc", e)
		var err error
		if c.NewAEAD != nil {
			aead, err = c.NewAEAD(key[:c.KeyLen])
		} else if c.NewBlock != nil {
			block, err = c.NewBlock(key)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	integ, key := lookupInteg(s.integ), testKey("auth", a)
	if s.proto == ProtoAH {
		integ, key = lookupInteg(s.ahInteg), testKey("ah", h)
	}
	nonce := make([]byte, 12)
	aad := make([]byte, 8)
	if aead != nil {
		// Open checks a real tag: seal once into the buffer the caller keeps.
		return func(buf []byte) { aead.Seal(buf[:0], nonce, buf[:size], aad) },
			func(buf []byte) {
				if _, err := aead.Open(buf[:0], nonce, buf[:size+16], aad); err != nil {
					b.Fatal(err)
				}
			}
	}
	mac := hmac.New(integ.New, key)
	sum := make([]byte, 0, 64)
	var enc, dec cipher.BlockMode
	ctLen := size
	if block != nil {
		bs := block.BlockSize()
		iv := make([]byte, bs)
		enc, dec = cipher.NewCBCEncrypter(block, iv), cipher.NewCBCDecrypter(block, iv)
		ctLen = (size + bs - 1) / bs * bs
	}
	return func(buf []byte) {
			if enc != nil {
				enc.CryptBlocks(buf[:ctLen], buf[:ctLen])
			}
			mac.Reset()
			mac.Write(buf[:ctLen])
			sum = mac.Sum(sum[:0])
		}, func(buf []byte) {
			mac.Reset()
			mac.Write(buf[:ctLen])
			sum = mac.Sum(sum[:0])
			if dec != nil {
				dec.CryptBlocks(buf[:ctLen], buf[:ctLen])
			}
		}
}

// encapOp returns one Encap of a size-byte packet (tunnel mode), or with
// raw the bare primitive on the same size.
func encapOp(tb testing.TB, s suite, size int, raw bool) func() {
	po, _ := pairParams(s, Tunnel, false, false, false)
	out, err := NewOutbound(po)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(out.Close)
	pkt := innerFor(po, false, size)
	buf := make([]byte, MaxHeadroom+size+MaxTailroom)
	copy(buf[MaxHeadroom:], pkt)
	if raw {
		seal, _ := rawPrimitive(tb, s, size)
		return func() { seal(buf[MaxHeadroom:]) }
	}
	return func() {
		// Encap reads only the inner header's first bytes in tunnel mode:
		// restore them, not the whole packet.
		copy(buf[MaxHeadroom:MaxHeadroom+8], pkt)
		if _, _, err := out.Encap(buf, MaxHeadroom, size); err != nil {
			tb.Fatal(err)
		}
	}
}

// decapOp returns one Decap of the encapsulation of a size-byte packet, or
// with raw the bare primitive. Both decrypt in place, so both first restore
// the packet (the copy is part of both measurements).
func decapOp(tb testing.TB, s suite, size int, raw bool) func() {
	po, pi := pairParams(s, Tunnel, false, false, false)
	po.ReplayWindow, pi.ReplayWindow = 0, 0 // the same packet every time
	out, in := mustPair(tb, po, pi)
	pkt := innerFor(po, false, size)
	if raw {
		seal, open := rawPrimitive(tb, s, size)
		wire := make([]byte, size+MaxTailroom)
		copy(wire, pkt)
		seal(wire)
		buf := make([]byte, len(wire))
		return func() {
			copy(buf, wire)
			open(buf)
		}
	}
	wire := encapCopy(tb, out, pkt)
	buf := make([]byte, len(wire))
	return func() {
		copy(buf, wire)
		if _, _, err := in.Decap(buf, 0, len(wire)); err != nil {
			tb.Fatal(err)
		}
	}
}

func runOp(b *testing.B, size int, op func()) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op()
	}
}

// BenchmarkEncap/<suite>/<size>/{raw,esp}: raw is the bare cryptography
// (AEAD seal, or CBC encryption plus HMAC) on the same size, esp the whole
// tunnel-mode Encap.
func BenchmarkEncap(b *testing.B) {
	for _, s := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d/raw", s, size), func(b *testing.B) { runOp(b, size, encapOp(b, s, size, true)) })
			b.Run(fmt.Sprintf("%v/%d/esp", s, size), func(b *testing.B) { runOp(b, size, encapOp(b, s, size, false)) })
		}
	}
}

// BenchmarkDecap: as BenchmarkEncap for the receiving side.
func BenchmarkDecap(b *testing.B) {
	for _, s := range benchSuites {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%v/%d/raw", s, size), func(b *testing.B) { runOp(b, size, decapOp(b, s, size, true)) })
			b.Run(fmt.Sprintf("%v/%d/esp", s, size), func(b *testing.B) { runOp(b, size, decapOp(b, s, size, false)) })
		}
	}
}

// BenchmarkRatio/<suite>/<size>/<encap|decap> times the transform and its
// raw primitive (as in BenchmarkEncap and BenchmarkDecap) interleaved in
// the same benchmark: each iteration times a batch of about a millisecond
// of each, and the fastest batch of each counts. On a shared, busy machine
// that filters out the interruptions which make separate benchmark runs
// incomparable. It reports ns/op (the transform's, per packet) beside
// raw-ns/op, their ratio, and the transform's allocations per packet. The README's table:
//
//	make bench-tables
func BenchmarkRatio(b *testing.B) {
	for _, s := range benchSuites {
		for _, size := range benchSizes {
			for _, dir := range []string{"encap", "decap"} {
				mk := encapOp
				if dir == "decap" {
					mk = decapOp
				}
				b.Run(fmt.Sprintf("%v/%d/%s", s, size, dir), func(b *testing.B) {
					raw, esp := mk(b, s, size, true), mk(b, s, size, false)
					n := batchSize(esp)
					r, e := math.Inf(1), math.Inf(1)
					for range b.N {
						r = math.Min(r, timeBatch(raw, n))
						e = math.Min(e, timeBatch(esp, n))
					}
					b.StopTimer()
					b.ReportMetric(e, "ns/op")
					b.ReportMetric(r, "raw-ns/op")
					b.ReportMetric(e/r, "ratio")
					b.ReportMetric(testing.AllocsPerRun(20, esp), "esp-allocs/op")
				})
			}
		}
	}
}

// batchSize returns how many calls of op take about a millisecond.
func batchSize(op func()) int {
	n := 1
	for {
		start := time.Now()
		for i := 0; i < n; i++ {
			op()
		}
		if time.Since(start) > time.Millisecond || n > 1<<20 {
			return n
		}
		n *= 2
	}
}

// timeBatch returns the mean ns per call of n calls of op.
func timeBatch(op func(), n int) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		op()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
