package ike

import (
	"crypto/hmac"

	"golang.org/x/crypto/cryptobyte"
)

// hmacEqual compares MACs and hashes in constant time.
func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }

func newBuilder() *cryptobyte.Builder { return cryptobyte.NewBuilder(nil) }
