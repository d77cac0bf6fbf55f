package tun

import "golang.org/x/sys/unix"

// Two queues for port 500. Under a flood of forged first messages the
// socket's queue fills, and the kernel drops whatever arrives next: the
// third message of a real peer as likely as a forged first one. So port
// 500 gets a second socket in a SO_REUSEPORT group, and a classic BPF
// program, run by the kernel for each datagram, steers every message
// that carries a responder cookie (bytes 8 to 15 of the ISAKMP header
// not zero: third message on, Quick Mode, Informational) to it; first
// messages stay on the first socket. A flood can then only fill the first
// queue. Where the kernel refuses the program (before Linux 4.5), the
// port has its one socket as before.
//
// The group also lets another process of the same user bind port 500;
// such a socket gets index 2 or more, which the program never returns,
// so it receives nothing (and tinyipsec everything).

// cookieSteer is the program (ListenUDP attaches it to the group): the
// datagram's payload starts at the ISAKMP header (the kernel has pulled
// the UDP header); a load past the end (a runt) ends the program with 0,
// the first socket.
var cookieSteer = []unix.SockFilter{
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 8},                // A = responder cookie, high word
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: 0, Jf: 2}, // not zero: socket 1
	{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 12},               // A = low word
	{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 0, Jt: 1, Jf: 0}, // zero: socket 0
	{Code: unix.BPF_RET | unix.BPF_K, K: 1},
	{Code: unix.BPF_RET | unix.BPF_K, K: 0},
}
