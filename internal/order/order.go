// Package order sorts slices stably by index.
//
// It exists for flash: sort.Slice and sort.SliceStable reach the
// elements through internal/reflectlite's Swapper and carry their own
// copy of each sorting algorithm, slices.SortStableFunc is compiled once
// per element shape, and sort.Stable's block merge (symMerge, rotate) is
// linked for nothing else. Stable sorts the elements' indexes with the
// sort.Sort that the dependencies link, equal elements ordered by index
// (which makes the result stable), then moves the elements into place;
// each caller costs only its less and swap functions.
package order

import "sort"

// byIndex sorts the original indexes of the elements: idx[k] is the
// element that goes to position k.
type byIndex struct {
	idx  []int
	less func(i, j int) bool
}

// Pointer receivers, and a pointer in the interface: with value
// receivers the compiler also generates a pointer wrapper for each
// method (flash).
func (b *byIndex) Len() int { return len(b.idx) }
func (b *byIndex) Less(x, y int) bool {
	i, j := b.idx[x], b.idx[y]
	return b.less(i, j) || !b.less(j, i) && i < j
}
func (b *byIndex) Swap(x, y int) { b.idx[x], b.idx[y] = b.idx[y], b.idx[x] }

// Stable sorts n elements by less, keeping equal elements in their
// original order; swap exchanges elements i and j.
func Stable(n int, less func(i, j int) bool, swap func(i, j int)) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.Sort(&byIndex{idx: idx, less: less})
	// Each cycle of the permutation by swaps: swapping k with idx[k]
	// puts its element in place and brings the cycle's first element to
	// idx[k], the next position of the cycle. A placed position is -1.
	for s := range idx {
		for k := s; idx[k] >= 0; {
			j := idx[k]
			idx[k] = -1
			if j == s {
				break
			}
			swap(k, j)
			k = j
		}
	}
}
