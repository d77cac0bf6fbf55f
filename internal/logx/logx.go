// Package logx is the daemon's leveled logger: the part of log/slog the
// daemon uses (Debug/Info/Warn/Error with key-value pairs, With, a level
// that a reload changes), writing the same logfmt lines as slog's
// TextHandler without the time (logd stamps each line):
//
//	level=INFO msg="IKE SA up" part=ike peer=192.0.2.1
//
// It exists for flash size: log/slog's handlers link its JSON encoder and
// encoding/json with it, about 0.2 MB of a MIPS router binary, for output
// the daemon never writes. A nil *Logger discards everything.
package logx

import (
	"encoding"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Level is a message's importance; the values are slog's.
type Level int32

const (
	LevelDebug Level = -4
	LevelInfo  Level = 0
	LevelWarn  Level = 4
	LevelError Level = 8
)

// LevelVar is a level that can change while loggers use it.
type LevelVar struct {
	_ [0]func() // not comparable: no generated == function (flash)
	v atomic.Int32
}

func (v *LevelVar) Level() Level { return Level(v.v.Load()) }
func (v *LevelVar) Set(l Level)  { v.v.Store(int32(l)) }

// Logger writes one line per message to its writer.
type Logger struct {
	out   *output
	attrs []byte // " k=v" pairs of With, already formatted
}

// output is shared by a logger and the loggers With derives from it, so
// lines from different goroutines never interleave.
type output struct {
	_     [0]func() // not comparable: no generated == function (flash)
	mu    sync.Mutex
	w     io.Writer
	level *LevelVar
}

// New logs to w the messages at or above level (every message if level
// is nil).
func New(w io.Writer, level *LevelVar) *Logger {
	return &Logger{out: &output{w: w, level: level}}
}

// Discard returns a logger that writes nothing.
func Discard() *Logger { return nil }

// With returns a logger that adds the key-value pairs to every line.
func (l *Logger) With(args ...any) *Logger {
	if l == nil {
		return nil
	}
	return &Logger{out: l.out, attrs: appendAttrs(append([]byte(nil), l.attrs...), args)}
}

// Enabled reports whether a message at level would be written.
func (l *Logger) Enabled(level Level) bool {
	return l != nil && (l.out.level == nil || level >= l.out.level.Level())
}

func (l *Logger) Debug(msg string, args ...any) { l.log(LevelDebug, msg, args) }
func (l *Logger) Info(msg string, args ...any)  { l.log(LevelInfo, msg, args) }
func (l *Logger) Warn(msg string, args ...any)  { l.log(LevelWarn, msg, args) }
func (l *Logger) Error(msg string, args ...any) { l.log(LevelError, msg, args) }

func (l *Logger) log(level Level, msg string, args []any) {
	if !l.Enabled(level) {
		return
	}
	// The level's name, written here: Level has no String method, as
	// nothing prints one through fmt, and the method was kept with a
	// pointer wrapper because Level is boxed (flash).
	name := "ERROR"
	switch {
	case level < LevelInfo:
		name = "DEBUG"
	case level < LevelWarn:
		name = "INFO"
	case level < LevelError:
		name = "WARN"
	}
	b := make([]byte, 0, 128)
	b = append(b, "level="+name+" msg="...) // one append site (flash)
	b = appendString(b, msg)
	b = append(b, l.attrs...)
	b = appendAttrs(b, args)
	b = append(b, '\n')
	l.out.mu.Lock()
	l.out.w.Write(b)
	l.out.mu.Unlock()
}

// appendAttrs formats key-value pairs as slog does: a key that is not a
// string becomes !BADKEY with the argument as its value.
func appendAttrs(b []byte, args []any) []byte {
	for len(args) > 0 {
		key, ok := args[0].(string)
		var v any
		if !ok {
			key, v, args = "!BADKEY", args[0], args[1:]
		} else if len(args) == 1 {
			key, v, args = "!BADKEY", key, nil
		} else {
			v, args = args[1], args[2:]
		}
		b = append(b, ' ')
		b = appendString(b, key)
		b = append(b, '=')
		// The value the way slog's TextHandler writes it, here rather
		// than in a helper with one caller (flash). Integers, booleans,
		// float64 and durations print the same through fmt's %+v as
		// through strconv, so they take the fmt path at the end rather
		// than a case each; logging is not on the packet path.
		switch x := v.(type) {
		case nil:
			b = append(b, "<nil>"...)
		case string:
			b = appendString(b, x)
		case float32:
			// slog widens a float32 to float64 first; fmt would print it
			// in float32 precision.
			b = strconv.AppendFloat(b, float64(x), 'g', -1, 64)
		case time.Time:
			b = appendString(b, x.Format("2006-01-02T15:04:05.000Z07:00"))
		case encoding.TextMarshaler:
			t, err := x.MarshalText()
			if err != nil {
				b = appendString(b, "!ERROR:"+err.Error())
			} else {
				b = appendString(b, string(t))
			}
		case []byte:
			b = strconv.AppendQuote(b, string(x))
		default:
			b = appendString(b, fmt.Sprintf("%+v", v))
		}
	}
	return b
}

// appendString writes s bare when logfmt allows it, quoted otherwise
// (empty, spaces, '=', '"', control or non-printing characters), as
// slog's TextHandler does.
func appendString(b []byte, s string) []byte {
	quote := s == ""
	for i := 0; i < len(s) && !quote; {
		c := s[i]
		if c < utf8.RuneSelf {
			quote = c <= ' ' || c == '=' || c == '"'
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		// strconv.IsPrint is unicode.IsPrint (the same definition, from
		// compact tables of its own) and is linked anyway, by fmt's %q;
		// unicode.IsPrint would add itself, In and Is (flash).
		quote = r == utf8.RuneError || unicode.IsSpace(r) || !strconv.IsPrint(r)
		i += size
	}
	if quote {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}
