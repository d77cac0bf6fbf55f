package ike

// deleteFunc is slices.DeleteFunc for the manager's lists of pointers.
// slices.DeleteFunc is instantiated per slice type (orphans, graves,
// phase 1 failures: 0.7 KB each on MIPS); parameterised by the element
// alone, every list of pointers shares one instantiation (flash).
func deleteFunc[E any](s []E, del func(E) bool) []E {
	kept := s[:0]
	for _, e := range s {
		if !del(e) {
			kept = append(kept, e)
		}
	}
	clear(s[len(kept):]) // no pointers kept alive past the end
	return kept
}
