#!/bin/sh
# Build an OpenWrt .ipk for tinyipsec without the OpenWrt SDK.
#
#   cross/ipkg-build.sh -a PKGARCH -v VERSION-RELEASE -b BINARY -o OUT.ipk
#
# The layout is the one OpenWrt's own ipkg-build writes and opkg reads: a
# gzip-compressed tar (not Debian's ar archive) holding ./debian-binary
# ("2.0"), ./control.tar.gz and ./data.tar.gz. Every archive is
# reproducible: owner 0:0 numeric, entries sorted by name, every mtime set to
# SOURCE_DATE_EPOCH, gzip without name or timestamp. Needs GNU tar >= 1.28
# (for --sort) and gzip. With zopfli installed (Debian's zopfli package)
# data.tar.gz is zopfli's gzip encoding, about 4% (0.1 MB) smaller than
# gzip -9 and read by any gunzip; ZOPFLI_ITERATIONS (default 5: 8 KB
# less than 1 on a 5 MB binary, 15 only 0.3 KB more) trades build time
# for size.
#
# Files shipped (source in the repository -> path on the router, mode):
#   BINARY                    /usr/sbin/tinyipsec                   0755
#   init/tinyipsec.init       /etc/init.d/tinyipsec                 0755
#   init/tinyipsec.config     /etc/config/tinyipsec                 0600
#   init/tinyipsec.toml       /etc/tinyipsec/tinyipsec.toml         0600
#   init/rpcd/tinyipsec       /usr/libexec/rpcd/tinyipsec           0755
#   init/rpcd/tinyipsec.json  /usr/share/rpcd/acl.d/tinyipsec.json  0644
# The two configuration files are 0600 (and /etc/tinyipsec 0700) because
# they hold pre-shared keys and manual SA keys: only root - the daemon, the
# init script and rpcd - has to read them. They are conffiles, so opkg keeps
# an edited copy on upgrade.
# UCI_DEFAULT and TOML_EXAMPLE override the two configuration sources.
set -eu

usage() {
	echo "usage: $0 -a PKGARCH -v VERSION-RELEASE -b BINARY -o OUT.ipk" >&2
	exit 2
}

arch= version= binary= out=
while getopts a:v:b:o: opt; do
	case $opt in
	a) arch=$OPTARG ;;
	v) version=$OPTARG ;;
	b) binary=$OPTARG ;;
	o) out=$OPTARG ;;
	*) usage ;;
	esac
done
[ -n "$arch" ] && [ -n "$version" ] && [ -n "$binary" ] && [ -n "$out" ] || usage

top=$(cd "$(dirname "$0")/.." && pwd)
uci_default=${UCI_DEFAULT:-$top/init/tinyipsec.config}
toml_example=${TOML_EXAMPLE:-$top/init/tinyipsec.toml}
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 1735689600)}
license=MIT # the LICENSE file in the repository root

for f in "$binary" "$top/init/tinyipsec.init" "$top/init/rpcd/tinyipsec" \
	"$top/init/rpcd/tinyipsec.json" "$uci_default" "$toml_example"; do
	[ -f "$f" ] || { echo "ipkg-build: missing $f" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
ctrl=$work/control
mkdir -p "$ctrl"

# put SRC DEST MODE: copy into the data tree with an exact mode, so the
# umask of whoever builds never leaks into the package.
put() {
	mkdir -p "$data$(dirname "$2")"
	cp "$1" "$data$2"
	chmod "$3" "$data$2"
}
put "$binary" /usr/sbin/tinyipsec 0755
put "$top/init/tinyipsec.init" /etc/init.d/tinyipsec 0755
put "$uci_default" /etc/config/tinyipsec 0600
put "$toml_example" /etc/tinyipsec/tinyipsec.toml 0600
put "$top/init/rpcd/tinyipsec" /usr/libexec/rpcd/tinyipsec 0755
put "$top/init/rpcd/tinyipsec.json" /usr/share/rpcd/acl.d/tinyipsec.json 0644
find "$data" -type d -exec chmod 0755 {} +
chmod 0700 "$data/etc/tinyipsec"

cat >"$ctrl/control" <<EOF
Package: tinyipsec
Version: $version
Depends: libc, kmod-tun
Source: net/tinyipsec
SourceName: tinyipsec
License: $license
Section: net
SourceDateEpoch: $epoch
Maintainer: tinyipsec developers
Architecture: $arch
Installed-Size: @INSTALLED_SIZE@
Description: IPsec VPN for small routers: IKEv1 (main, aggressive and quick
 mode, initiator and responder) with ESP/AH done in userspace over a TUN
 device, configured with Cisco-style crypto maps in UCI or TOML.
 One static binary; needs no kernel XFRM support.
EOF

cat >"$ctrl/conffiles" <<EOF
/etc/config/tinyipsec
/etc/tinyipsec/tinyipsec.toml
EOF

# The maintainer scripts are shared with the apk package (cross/mkapk).
cp "$top/cross/pkgscripts/postinst" "$ctrl/postinst"

cp "$top/cross/pkgscripts/prerm" "$ctrl/prerm"
chmod 0644 "$ctrl/control" "$ctrl/conffiles"
chmod 0755 "$ctrl/postinst" "$ctrl/prerm" "$ctrl"

# mktar DIR OUT: reproducible tar.gz of DIR's content as ./...
mktar() {
	(cd "$1" && tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$epoch" -cf - .) >"$2.tar"
	if command -v zopfli >/dev/null 2>&1; then
		# zopfli writes no name and a zero timestamp, as gzip -n does.
		zopfli --gzip --i"${ZOPFLI_ITERATIONS:-5}" -c "$2.tar" >"$2"
	else
		gzip -n -9 <"$2.tar" >"$2"
	fi
	rm -f "$2.tar"
}

mkdir -p "$work/pkg"
mktar "$data" "$work/pkg/data.tar.gz"
# Installed-Size as OpenWrt's ipkg-build computes it: the bytes of the
# uncompressed data archive (opkg compares it with the free space).
installed_size=$(gzip -dc "$work/pkg/data.tar.gz" | wc -c | tr -d ' ')
sed -i "s/@INSTALLED_SIZE@/$installed_size/" "$ctrl/control"
mktar "$ctrl" "$work/pkg/control.tar.gz"
printf '2.0\n' >"$work/pkg/debian-binary"
chmod 0644 "$work/pkg/"*
touch -d "@$epoch" "$work/pkg/"*

mkdir -p "$(dirname "$out")"
# The outer order is fixed (not sorted): debian-binary, control, data.
(cd "$work/pkg" && tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$epoch" \
	-cf - ./debian-binary ./control.tar.gz ./data.tar.gz) | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
