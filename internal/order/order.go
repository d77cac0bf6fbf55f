// Package order sorts slices stably by index through sort.Stable.
//
// It exists for flash: sort.Slice and sort.SliceStable reach the
// elements through internal/reflectlite's Swapper and carry their own
// copy of each sorting algorithm, and slices.SortStableFunc is compiled
// once per element shape; sort.Stable shares its insertion sort with the
// sort.Sort that the dependencies link, so sorting through it costs each
// caller only its less and swap functions.
package order

import "sort"

type bySwap struct {
	n    int
	less func(i, j int) bool
	swap func(i, j int)
}

// Pointer receivers, and a pointer in the interface: with value
// receivers the compiler also generates a pointer wrapper for each
// method (flash).
func (b *bySwap) Len() int           { return b.n }
func (b *bySwap) Less(i, j int) bool { return b.less(i, j) }
func (b *bySwap) Swap(i, j int)      { b.swap(i, j) }

// Stable sorts n elements by less, keeping equal elements in their
// original order; swap exchanges elements i and j.
func Stable(n int, less func(i, j int) bool, swap func(i, j int)) {
	sort.Stable(&bySwap{n: n, less: less, swap: swap})
}
