package esp

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestInboundTableModel drives the sharded inbound table and a plain map
// with the same random installs, replacements and removals (random SPIs
// and round manual-keying ones, both protocols) and compares every lookup.
func TestInboundTableModel(t *testing.T) {
	var tab inTable
	model := map[inKey]*Pair{}
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []inKey
	for i := 0; i < 600; i++ {
		spi := rng.Uint32()
		if i%3 == 0 {
			spi = uint32(i/3) << 12 // 0x0, 0x1000, 0x2000, ...
		}
		keys = append(keys, inKey{ProtoESP, spi}, inKey{ProtoAH, spi})
	}
	pairs := make([]Pair, 8)
	for step := 0; step < 20000; step++ {
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(3) == 0 {
			tab.set(k, nil)
			delete(model, k)
		} else {
			p := &pairs[rng.IntN(len(pairs))]
			tab.set(k, p)
			model[k] = p
		}
		if step%500 == 0 {
			for _, k := range keys {
				if got, want := tab.lookup(k), model[k]; got != want {
					t.Fatalf("step %d: lookup %v = %p, want %p", step, k, got, want)
				}
			}
		}
	}
	n := 0
	for i := range tab.shards {
		s := tab.shards[i].Load()
		if s == nil {
			continue
		}
		if len(*s) == 0 {
			t.Fatalf("shard %d published empty instead of nil", i)
		}
		for j := range *s {
			if j > 0 && !(*s)[j-1].key.less((*s)[j].key) {
				t.Fatalf("shard %d not sorted at %d", i, j)
			}
			if shardOf((*s)[j].key.spi) != i {
				t.Fatalf("SPI 0x%08x in shard %d", (*s)[j].key.spi, i)
			}
		}
		n += len(*s)
	}
	if n != len(model) {
		t.Fatalf("%d entries in the table, %d in the model", n, len(model))
	}
	tab.clear()
	for _, k := range keys {
		if tab.lookup(k) != nil {
			t.Fatalf("%v found after clear", k)
		}
	}
}

// TestInboundTableSpread checks that round manual-keying SPIs do not all
// land in one shard (an install copies only its shard).
func TestInboundTableSpread(t *testing.T) {
	var count [inShards]int
	for i := uint32(0); i < 1024; i++ {
		count[shardOf(0x1000+i<<8)]++
	}
	for i, c := range count {
		if c > 3*1024/inShards {
			t.Fatalf("shard %d holds %d of 1024 round SPIs", i, c)
		}
	}
}

// TestInboundLookupAllocs: the packet path's SPI lookup does not allocate.
func TestInboundLookupAllocs(t *testing.T) {
	var tab inTable
	p := &Pair{}
	for i := uint32(1); i <= 1000; i++ {
		tab.set(inKey{ProtoESP, i * 0x01000193}, p)
	}
	var sink *Pair
	allocs := testing.AllocsPerRun(1000, func() {
		sink = tab.lookup(inKey{ProtoESP, 77 * 0x01000193})
	})
	if allocs != 0 || sink != p {
		t.Fatalf("%v allocs per lookup (found %v)", allocs, sink == p)
	}
}

// BenchmarkInboundInstall installs 1000 SPIs into an empty table, as a
// hub does in a burst of 1000 spokes.
func BenchmarkInboundInstall(b *testing.B) {
	p := &Pair{}
	b.ReportAllocs()
	for b.Loop() {
		var tab inTable
		for i := uint32(1); i <= 1000; i++ {
			tab.set(inKey{ProtoESP, i * 0x9e3779b9}, p)
		}
	}
}

// TestSelIndexModel installs and removes pairs with /32, /24 and /16
// remote prefixes in random order and checks every lookup against the
// most specific installed prefix, and that a remote prefix's shard is the
// only one a change replaces.
func TestSelIndexModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var prefixes []string
	for i := range 300 {
		prefixes = append(prefixes, fmt.Sprintf("10.2.%d.%d/32", i/100, i%100))
	}
	prefixes = append(prefixes, "10.2.0.0/24", "10.2.1.0/24", "10.2.0.0/16")
	pairs := make([]*Pair, len(prefixes))
	for i, p := range prefixes {
		pairs[i] = &Pair{sel: hubSel(p)}
	}
	in := make([]bool, len(pairs))
	var ix *selIndex
	for step := range 3000 {
		i := rng.IntN(len(pairs))
		before := ix
		if in[i] {
			ix = ix.without(pairs[i])
		} else {
			ix = ix.with(pairs[i])
		}
		in[i] = !in[i]
		if before != nil && ix != nil {
			changed := 0
			for s := range ix.shards {
				if ix.shards[s] != before.shards[s] {
					changed++
				}
			}
			if changed != 1 {
				t.Fatalf("step %d: %d shards replaced, want 1", step, changed)
			}
		}
		if step%100 != 0 {
			continue
		}
		for _, dst := range [][4]byte{{10, 2, 0, 5}, {10, 2, 1, 99}, {10, 2, 2, 7}, {10, 2, 0, 200}, {10, 2, 9, 9}, {10, 3, 0, 1}} {
			var want *Pair
			bits := -1
			for j, p := range prefixes {
				pfx := netip.MustParsePrefix(p)
				if in[j] && pfx.Contains(netip.AddrFrom4(dst)) && pfx.Bits() > bits {
					want, bits = pairs[j], pfx.Bits()
				}
			}
			var got *Pair
			if ix != nil {
				got = ix.lookup(engPacket(dst, 20, false))
			}
			if got != want {
				t.Fatalf("step %d: %v took %v, want %v", step, dst, got, want)
			}
		}
	}
}
