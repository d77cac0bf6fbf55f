// Command tinyipsec is an IKEv1 + userspace ESP/AH IPsec VPN for OpenWrt
// routers and small Linux boxes.
package main

func main() {}
