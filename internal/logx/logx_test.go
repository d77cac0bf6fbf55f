package logx

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// slogLine is what slog's TextHandler, without the time, writes for the
// same call: the format the daemon's logs had before this package.
func slogLine(level slog.Level, with []any, msg string, args ...any) string {
	var b bytes.Buffer
	h := slog.NewTextHandler(&b, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	l := slog.New(h)
	if with != nil {
		l = l.With(with...)
	}
	switch level {
	case slog.LevelDebug:
		l.Debug(msg, args...)
	case slog.LevelInfo:
		l.Info(msg, args...)
	case slog.LevelWarn:
		l.Warn(msg, args...)
	default:
		l.Error(msg, args...)
	}
	return b.String()
}

type stringer struct{}

func (stringer) String() string { return "from String" }

func TestMatchesSlogText(t *testing.T) {
	addr := netip.MustParseAddr("2001:db8::1")
	cases := []struct {
		with []any
		msg  string
		args []any
	}{
		{nil, "IKE SA up", []any{"peer", "192.0.2.1", "spi", uint32(0xdeadbeef)}},
		{[]any{"part", "ike"}, "retransmit", []any{"n", 3, "after", 1500 * time.Millisecond}},
		{nil, "", []any{"empty", "", "space", "a b", "eq", "a=b", "quote", `say "hi"`, "ctl", "a\tb", "uni", "é☃", "bad", "\xff"}},
		{nil, "odd", []any{"k"}},
		{nil, "badkey", []any{42, "v", "x", true}},
		{nil, "types", []any{"i8", int8(-1), "u64", uint64(1 << 63), "f", 1.5, "f32", float32(0.1), "err", errors.New("no proposal chosen"), "addr", addr, "s", stringer{}, "nil", nil, "bytes", []byte("a\x00b"), "slice", []int{1, 2}, "map", map[string]int{"a": 1}, "backslash", `a\b`, "del", "a\x7fb"}},
		{[]any{"part", "dataplane", "tun", "ipsec0"}, "drop", []any{"reason", "no SA"}},
		{nil, "numbers", []any{"i", -7, "i16", int16(-300), "i32", int32(1 << 30), "i64", int64(-1 << 63), "u", uint(7), "u8", uint8(255), "u16", uint16(65535), "u32", uint32(1 << 31), "up", uintptr(12), "f0", 0.0, "fneg", -2.5e-10, "fbig", 1e21, "f32big", float32(3e38), "b", false, "d0", time.Duration(0), "dneg", -90 * time.Second, "dns", 1500 * time.Nanosecond}},
	}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	for i, c := range cases {
		for _, lvl := range levels {
			var b bytes.Buffer
			l := New(&b, nil)
			if c.with != nil {
				l = l.With(c.with...)
			}
			switch lvl {
			case slog.LevelDebug:
				l.Debug(c.msg, c.args...)
			case slog.LevelInfo:
				l.Info(c.msg, c.args...)
			case slog.LevelWarn:
				l.Warn(c.msg, c.args...)
			default:
				l.Error(c.msg, c.args...)
			}
			if want := slogLine(lvl, c.with, c.msg, c.args...); b.String() != want {
				t.Errorf("case %d %v:\n got %q\nwant %q", i, lvl, b.String(), want)
			}
		}
	}
}

func TestLevel(t *testing.T) {
	var b bytes.Buffer
	lv := new(LevelVar)
	lv.Set(LevelWarn)
	l := New(&b, lv).With("part", "ike")
	l.Info("hidden")
	l.Debug("hidden")
	l.Warn("shown")
	lv.Set(LevelDebug) // a reload changes the level of loggers already made
	l.Debug("now shown")
	if got := b.String(); got != "level=WARN msg=shown part=ike\nlevel=DEBUG msg=\"now shown\" part=ike\n" {
		t.Errorf("got %q", got)
	}
	if l.Enabled(LevelDebug) != true || New(&b, lv).Enabled(LevelDebug-1) {
		t.Error("Enabled")
	}
	var nilLogger *Logger
	nilLogger.With("a", 1).Info("discarded") // must not panic
	if Discard().Enabled(LevelError) {
		t.Error("Discard is enabled")
	}
}

// Lines written from many goroutines never interleave.
func TestConcurrentLines(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				l.With("g", i).Info("message with some length", "k", strings.Repeat("x", 50))
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "level=INFO msg=\"message with some length\" g=") || !strings.HasSuffix(line, strings.Repeat("x", 50)) {
			t.Fatalf("interleaved: %q", line)
		}
	}
}

// appendString asks strconv.IsPrint where slog asks unicode.IsPrint: the
// two must agree on every rune.
func TestIsPrintSameAsUnicode(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if strconv.IsPrint(r) != unicode.IsPrint(r) {
			t.Fatalf("strconv.IsPrint(%U) = %v, unicode.IsPrint = %v", r, strconv.IsPrint(r), unicode.IsPrint(r))
		}
	}
}
