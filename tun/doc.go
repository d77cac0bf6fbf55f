// Package tun owns the kernel-facing I/O: the TUN device, addresses and
// routes over rtnetlink, raw IP sockets for ESP/AH and the UDP sockets
// shared by IKE and NAT-T encapsulated ESP.
package tun
