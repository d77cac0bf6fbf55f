package esp

import "testing"

// TestIPv4Checksum compares the word-wise checksum with a plain RFC 1071
// 16-bit sum.
func TestIPv4Checksum(t *testing.T) {
	ref := func(b []byte) uint16 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		for s > 0xffff {
			s = s>>16 + s&0xffff
		}
		return ^uint16(s)
	}
	b := make([]byte, 61)
	for i := range b {
		b[i] = byte(0xff - i*3)
	}
	for n := 0; n <= len(b); n++ {
		if got, want := ipv4Checksum(b[:n]), ref(b[:n]); got != want {
			t.Fatalf("len %d: %#x want %#x", n, got, want)
		}
	}
	ff := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if got, want := ipv4Checksum(ff), ref(ff); got != want {
		t.Fatalf("all ones: %#x want %#x", got, want)
	}
}
