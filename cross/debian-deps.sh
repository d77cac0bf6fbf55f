#!/bin/sh
# Installs what building tinyipsec and running the demo (`make demo`) need
# on Debian/Ubuntu: the network tools for the namespaces and nftables, and
# zopfli, which makes the .ipk and .apk packages about 4% smaller.
# The tests need more (strongSwan, scapy, qemu-user, ...):
# cross/debian-test-deps.sh installs those too. Go 1.26 or newer must be
# on PATH. Nothing here starts, stops or disables any service.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	ca-certificates git make procps xz-utils zopfli coreutils iproute2 iputils-ping nftables \
	>/dev/null
if ! command -v go >/dev/null 2>&1; then
	echo "note: Go is not on PATH; install Go 1.26 or newer (https://go.dev/dl) to build tinyipsec" >&2
fi
