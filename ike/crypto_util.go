package ike

import "crypto/hmac"

// hmacEqual compares MACs and hashes in constant time.
func hmacEqual(a, b []byte) bool { return hmac.Equal(a, b) }
