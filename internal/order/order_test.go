package order

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type item struct{ key, seq int }

func TestStableKeepsEqualElementsInOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 13, 100, 1000} {
		s := make([]item, n)
		for i := range s {
			s[i] = item{r.IntN(7), i}
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, func(a, b item) int { return a.key - b.key })
		Stable(len(s), func(i, j int) bool { return s[i].key < s[j].key },
			func(i, j int) { s[i], s[j] = s[j], s[i] })
		if !slices.Equal(s, want) {
			t.Fatalf("n=%d: Stable gave %v, want %v", n, s, want)
		}
	}
}

// Orders whose permutation is one long cycle or many short ones.
func TestStablePermutations(t *testing.T) {
	for _, keys := range [][]int{
		{5, 4, 3, 2, 1, 0},
		{1, 2, 3, 4, 5, 0},
		{1, 0, 3, 2, 5, 4},
		{0, 1, 2, 3},
		{2, 2, 1, 1, 0, 0},
	} {
		s := make([]item, len(keys))
		for i, k := range keys {
			s[i] = item{k, i}
		}
		want := slices.Clone(s)
		slices.SortStableFunc(want, func(a, b item) int { return a.key - b.key })
		Stable(len(s), func(i, j int) bool { return s[i].key < s[j].key },
			func(i, j int) { s[i], s[j] = s[j], s[i] })
		if !slices.Equal(s, want) {
			t.Fatalf("keys %v: Stable gave %v, want %v", keys, s, want)
		}
	}
}
