package conf

import "testing"

// TestParsePoolRefused: what is not an IPv4 pool is refused with an
// error, never a panic (the bounds are read as IPv4 numbers only after
// the checks).
func TestParsePoolRefused(t *testing.T) {
	for _, s := range []string{"", "-", "x-y", "10.0.0.1-", "-10.0.0.1", "10.0.0.9-10.0.0.1",
		"2001:db8::1-2001:db8::9", "::ffff:10.0.0.1-::ffff:10.0.0.9", "10.0.0.1-2001:db8::1",
		"2001:db8::/120", "10.0.0.0/31", "10.0.0.0/33", "10.0.0.1"} {
		if _, _, err := parsePool(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}
