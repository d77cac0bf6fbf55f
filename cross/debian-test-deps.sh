#!/bin/sh
# Installs what the tests need on Debian/Ubuntu, on top of the build and
# demo dependencies (cross/debian-deps.sh): strongSwan as the interop peer
# (with its standard plugins for AES-GCM and OpenSSL, and xauth-generic
# for the remote-access tests), tcpdump and tshark, scapy as the
# independent ESP/AH implementation, qemu-user and busybox for the
# router-architecture and init-script tests, squashfs-tools and mtd-utils
# for the flash-cost table, and the shared libraries the
# phase-1 check against Libreswan's pluto needs (its package conflicts with
# strongSwan's, so the test unpacks it privately).
#
# The tests run their own charon instances inside network namespaces and
# stop them by PID; they need no system strongSwan. An admin's running
# strongSwan is left alone: nothing here stops, restarts or disables a
# service that was installed before. When this script is what installs
# Debian's strongSwan service, it keeps that service from starting
# (policy-rc.d during the install) and leaves it disabled, so that
# installing test tools does not add an IKE daemon to the machine.
set -eu
sh "$(dirname "$0")/debian-deps.sh"
export DEBIAN_FRONTEND=noninteractive

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
fresh_service=
if ! installed strongswan-starter; then
	fresh_service=1
fi
made_policy=
if [ -n "$fresh_service" ] && [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\n# temporary, from tinyipsec cross/debian-test-deps.sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 755 /usr/sbin/policy-rc.d
	made_policy=1
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -qq --no-install-recommends \
	tcpdump tshark socat busybox squashfs-tools mtd-utils \
	qemu-user-static python3 python3-scapy python3-cryptography \
	strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins \
	libstrongswan-standard-plugins libcharon-extauth-plugins \
	libnss3 libnss3-tools libnspr4 libunbound8 libldns3 libevent-core-2.1-7 libevent-pthreads-2.1-7 \
	libcap-ng0 libaudit1 libcurl3-nss libldap-2.5-0 libpam0g libselinux1 libsystemd0 libcrypt1 \
	>/dev/null
if [ -n "$made_policy" ]; then
	rm -f /usr/sbin/policy-rc.d
fi
# The service unit this run installed (never started): not at boot either.
if [ -n "$fresh_service" ] && command -v systemctl >/dev/null 2>&1; then
	systemctl disable strongswan-starter.service >/dev/null 2>&1 || true
fi
