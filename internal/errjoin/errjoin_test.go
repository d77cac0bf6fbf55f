package errjoin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
)

// TestLikeErrorsJoin: the same text as errors.Join for the same errors,
// nil for none, and errors.Is finds each joined error.
func TestLikeErrorsJoin(t *testing.T) {
	a := fmt.Errorf("routes: %w", os.ErrNotExist)
	b := errors.New("cleartext policy: nft: exit status 1: Error: syntax error\nline two")
	for _, errs := range [][]error{nil, {nil}, {nil, nil}, {a}, {nil, a}, {a, nil, b}, {b, a, io.EOF}} {
		got, want := Join(errs), errors.Join(errs...)
		if (got == nil) != (want == nil) {
			t.Fatalf("%v: %v, errors.Join gives %v", errs, got, want)
		}
		if got == nil {
			continue
		}
		if got.Error() != want.Error() {
			t.Fatalf("%v: %q, errors.Join gives %q", errs, got, want)
		}
		for _, e := range errs {
			if e != nil && !errors.Is(got, e) {
				t.Fatalf("%v: errors.Is(%v) false", errs, e)
			}
		}
	}
	if errors.Is(Join([]error{a}), io.EOF) {
		t.Fatal("unwraps to an error it does not hold")
	}
	if !errors.Is(Join([]error{a, b}), os.ErrNotExist) {
		t.Fatal("a wrapped error is not reached")
	}
}
