package conf

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxFileSize bounds what Load reads: a router configuration is a few
// kilobytes, and a runaway file must not exhaust the router's memory.
const MaxFileSize = 1 << 20

// Load reads and validates a configuration file. UCI files (the first
// significant line starts with "config " or "package ") go through the
// UCI bridge, everything else is TOML. On error it returns Errors with
// every problem found.
func Load(path string) (*Config, error) {
	// A file that cannot be read is one Error, made at one place (flash).
	var msg string
	if f, err := os.Open(path); err != nil {
		// os.Open's *PathError names the file, which the Error does
		// (a type assertion: errors.Unwrap is linked for nothing else).
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		msg = "cannot read: " + err.Error()
	} else {
		data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
		f.Close() // not deferred: a defer is a wrapper function of its own (flash)
		switch {
		case err != nil:
			msg = "cannot read: " + err.Error()
		case len(data) > MaxFileSize:
			msg = "larger than " + strconv.Itoa(MaxFileSize) + " bytes"
		default:
			return Parse(path, data)
		}
	}
	return nil, Errors{{File: path, Msg: msg}}
}

// Parse validates configuration text; name is used in messages and as
// the base for relative psk_file/cert/key/ca paths. Like Load, it detects
// UCI by content.
func Parse(name string, data []byte) (*Config, error) {
	if LooksLikeUCI(data) {
		return ParseUCI(name, data)
	}
	return ParseTOML(name, data)
}

// LooksLikeUCI reports whether the first line that is neither blank nor
// a comment starts with the UCI keywords "config" or "package".
func LooksLikeUCI(data []byte) bool {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		// The first word, up to a blank, is the keyword, and no "="
		// follows it (that is a TOML key named config or package).
		i := strings.IndexAny(s, " \t")
		return i > 0 && (s[:i] == "config" || s[:i] == "package") && !strings.HasPrefix(strings.TrimSpace(s[i:]), "=")
	}
	return false
}

// ParseTOML validates TOML configuration text. Every error leaves through
// the one return at the end, which takes the secrets out of it.
func ParseTOML(name string, data []byte) (*Config, error) {
	var root map[string]any
	var c *Config
	_, err := toml.Decode(string(data), &root)
	if pe, ok := err.(toml.ParseError); ok { // Decode returns it unwrapped
		err = Errors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message, syntax: true}}
	} else if err != nil {
		err = Errors{{File: name, Msg: err.Error(), syntax: true}}
	} else {
		if root == nil {
			root = map[string]any{}
		}
		c, err = newBuilder(name, &tomlLocator{src: data}, false).build(root)
	}
	return c, redactSecrets(data, false, err)
}
