package vnet

// TCP and UDP offsets and flags as the tests write them, spelled out
// here rather than taken from the header package, so that a wrong offset
// there shows up as a failing test here.
const (
	tcpSeq     = 4
	tcpAck     = 8
	tcpDataOff = 12
	tcpFlags   = 13
	udpLength  = 4

	tcpPSH = 0x08
	tcpACK = 0x10
)
