package conf

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	good := map[any]time.Duration{
		int64(0):     0,
		int64(86400): 24 * time.Hour,
		"24h":        24 * time.Hour,
		"90m":        90 * time.Minute,
		"3600s":      time.Hour,
		"1h30m":      90 * time.Minute,
		"3600":       time.Hour,
		" 60 ":       time.Minute,
		"1d":         24 * time.Hour,
	}
	for in, want := range good {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("%#v: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []any{int64(-1), "-5m", "", "1.5s", "500ms", "24 hours", "1w", "d", true, 1.5, []any{"1h"}, int64(1) << 62} {
		if got, err := parseDuration(in); err == nil {
			t.Errorf("%#v: accepted as %v", in, got)
		}
	}
}

// Lifetimes in every form a user may write them, through the whole loader.
func TestLifetimeForms(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"24h"`:   24 * time.Hour,
		`"90m"`:   90 * time.Minute,
		`86400`:   24 * time.Hour,
		`"3600"`:  time.Hour,
		`"1h30m"`: 90 * time.Minute,
	} {
		c := mustParse(t, "l.toml", doc(with(tPolicy, "lifetime = "+in), tTS, tACL, tMap))
		if got := c.Policies[0].Lifetime; got != want {
			t.Errorf("lifetime = %s: %v, want %v", in, got, want)
		}
	}
	c := mustParse(t, "l.toml", doc(tPolicy, tTS, tACL, with(tMap, `lifetime = "2h"`)))
	if c.CryptoMaps[0].Lifetime != 2*time.Hour {
		t.Errorf("map lifetime %v", c.CryptoMaps[0].Lifetime)
	}
}
