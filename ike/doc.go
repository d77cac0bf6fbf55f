// Package ike implements IKEv1 (RFC 2407/2408/2409): the ISAKMP message
// codec, key derivation, Main/Aggressive/Quick Mode exchanges as state
// tables, and the SA lifecycle. It installs negotiated SA pairs into the
// data plane through a small interface.
package ike
