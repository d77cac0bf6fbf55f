#!/bin/sh
# Installs what building, the demo and the tests need on Debian/Ubuntu:
# network tools for the namespaces, strongSwan as the interop peer (with
# its standard plugins for AES-GCM and OpenSSL, and xauth-generic for the
# remote-access tests), scapy as the independent ESP/AH implementation,
# qemu-user and busybox for the router-architecture and init-script tests,
# squashfs-tools and mtd-utils for the flash-cost table, and the shared libraries the
# phase-1 check against Libreswan's pluto needs (its package conflicts with
# strongSwan's, so the test unpacks it privately). Go 1.26 or newer must be on PATH.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	ca-certificates git make procps xz-utils squashfs-tools mtd-utils iproute2 iputils-ping nftables tcpdump tshark socat busybox \
	qemu-user-static python3 python3-scapy python3-cryptography \
	strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins \
	libstrongswan-standard-plugins libcharon-extauth-plugins \
	coreutils \
	libnss3 libnss3-tools libnspr4 libunbound8 libldns3 libevent-core-2.1-7 libevent-pthreads-2.1-7 \
	libcap-ng0 libaudit1 libcurl3-nss libldap-2.5-0 libpam0g libselinux1 libsystemd0 libcrypt1 \
	>/dev/null
# Debian may start a system strongSwan on install; tests and the demo run
# their own instances inside network namespaces.
if command -v systemctl >/dev/null 2>&1; then
	systemctl disable --now strongswan-starter strongswan >/dev/null 2>&1 || true
fi
pkill -x charon 2>/dev/null || true
if ! command -v go >/dev/null 2>&1; then
	echo "note: Go is not on PATH; install Go 1.26 or newer (https://go.dev/dl) to build tinyipsec" >&2
fi
