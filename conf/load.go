package conf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
	data, err := readConfigFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	f.Close() // not deferred: a defer is a wrapper function of its own (flash)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}}
	}
	return data, nil
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
		for _, kw := range []string{"config", "package"} {
			if rest, ok := strings.CutPrefix(s, kw); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') &&
				!strings.HasPrefix(strings.TrimSpace(rest), "=") {
				return true
			}
		}
		return false
	}
	return false
}

// ParseTOML validates TOML configuration text.
func ParseTOML(name string, data []byte) (*Config, error) {
	c, err := parseTOML(name, data)
	return c, redactSecrets(data, false, err)
}

func parseTOML(name string, data []byte) (*Config, error) {
	var root map[string]any
	if _, err := toml.Decode(string(data), &root); err != nil {
		if pe, ok := err.(toml.ParseError); ok { // Decode returns it unwrapped
			return nil, Errors{{File: name, Line: pe.Position.Line, Key: pe.LastKey, Msg: pe.Message, syntax: true}}
		}
		return nil, Errors{{File: name, Msg: err.Error(), syntax: true}}
	}
	if root == nil {
		root = map[string]any{}
	}
	b := newBuilder(name, &tomlLocator{src: data}, false)
	return b.build(root)
}
