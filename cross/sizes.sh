#!/bin/sh
# The flash budget of a small router, per architecture: the stripped
# binary, its xz size, what it costs inside a squashfs firmware image and
# on a jffs2 overlay (where opkg/apk install packages), and the .ipk and
# .apk package sizes. Fails over budget:
#   linux/mipsle (the most common 8-16 MB flash target) binary > 5.5 MiB
#   xz of that binary                                        > 1.6 MiB
#   any .ipk or .apk                                         > 2.0 MiB
#
#   cross/sizes.sh [BUILD_DIR]
# With SIZES_WARN_ONLY=1 an overrun is reported but the exit status is 0.
# SIZES_MARKDOWN=1 prints the table as Markdown (for the README).
# SIZES_QUICK=1 (make test) measures squashfs and jffs2 for mipsel_24kc only.
#
# squashfs: mksquashfs as OpenWrt builds its root (xz, 256 KiB blocks, the
# dictionary as large as a block; the BCJ filter where Debian's xz has one
# for the architecture: x86, arm) of a directory holding the binary, minus
# the same image of an empty directory. jffs2: mkfs.jffs2 with 64 KiB erase
# blocks (a common NOR flash) and Debian's default zlib compression, the
# way the kernel stores a file written to the overlay, minus an empty
# image. Both tools come from Debian's squashfs-tools and mtd-utils; a
# column is "-" without them.
set -eu
build=${1:-build}
bin_limit=5767168 # 5.5 MiB
xz_limit=1677721  # 1.6 MiB
pkg_limit=2097152 # 2.0 MiB
fail=0

human() {
	awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'
}

xzsize() {
	command -v xz >/dev/null 2>&1 || { echo -; return; }
	xz -9e -c "$1" | wc -c | tr -d ' '
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/empty"

# squashfs_cost BINARY BCJ: bytes the binary adds to a squashfs image.
squashfs_cost() {
	command -v mksquashfs >/dev/null 2>&1 || { echo -; return; }
	rm -rf "$work/sq" && mkdir -p "$work/sq/usr/sbin" && cp "$1" "$work/sq/usr/sbin/tinyipsec"
	for d in empty sq; do
		# shellcheck disable=SC2086
		mksquashfs "$work/$d" "$work/$d.img" -noappend -no-progress -quiet -all-root -nopad \
			-comp xz -b 256k -Xdict-size 100% ${2:+-Xbcj $2} >/dev/null
	done
	echo $(($(wc -c <"$work/sq.img") - $(wc -c <"$work/empty.img")))
}

# jffs2_cost BINARY ENDIAN: bytes the binary takes on a jffs2 overlay.
jffs2_cost() {
	command -v mkfs.jffs2 >/dev/null 2>&1 || { echo -; return; }
	rm -rf "$work/jf" && mkdir -p "$work/jf/usr/sbin" && cp "$1" "$work/jf/usr/sbin/tinyipsec"
	for d in empty jf; do
		mkfs.jffs2 "--$2" -e 0x10000 -n -q -U -d "$work/$d" -o "$work/$d.jffs2"
	done
	echo $(($(wc -c <"$work/jf.jffs2") - $(wc -c <"$work/empty.jffs2")))
}

md=${SIZES_MARKDOWN:-0}
if [ "$md" = 1 ]; then
	echo "| arch | binary | xz | in squashfs | on jffs2 | .ipk | .apk |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
else
	printf '%-26s %9s %9s %11s %9s %9s %9s   (MiB)\n' arch binary xz squashfs jffs2 ipk apk
fi
for dir in "$build"/*/; do
	arch=$(basename "$dir")
	bin=${dir%/}/tinyipsec
	[ -f "$bin" ] || continue
	case $arch in
	mips_24kc) bcj= endian=big-endian ;;
	mipsel_24kc) bcj= endian=little-endian ;;
	arm_*) bcj=arm endian=little-endian ;;
	aarch64_*) bcj= endian=little-endian ;;
	x86_64) bcj=x86 endian=little-endian ;;
	*) bcj= endian=little-endian ;;
	esac
	bsize=$(wc -c <"$bin" | tr -d ' ')
	xsize=$(xzsize "$bin")
	sq=- jf=-
	if [ "${SIZES_QUICK:-0}" != 1 ] || [ "$arch" = mipsel_24kc ]; then
		sq=$(squashfs_cost "$bin" "$bcj")
		jf=$(jffs2_cost "$bin" "$endian")
	fi
	cols="$(human "$bsize")"
	for v in "$xsize" "$sq" "$jf"; do
		if [ "$v" = - ]; then cols="$cols -"; else cols="$cols $(human "$v")"; fi
	done
	for ext in ipk apk; do
		pkg=$(ls "$build/$ext"/tinyipsec*_"$arch.$ext" 2>/dev/null | tail -n 1 || true)
		if [ -z "$pkg" ]; then
			cols="$cols -"
			continue
		fi
		psize=$(wc -c <"$pkg" | tr -d ' ')
		cols="$cols $(human "$psize")"
		if [ "$psize" -gt "$pkg_limit" ]; then
			echo "over budget: $pkg is $(human "$psize") MiB, over 2.0 MiB" >&2
			fail=1
		fi
	done
	if [ "$md" = 1 ]; then
		echo "| $arch | $(echo "$cols" | sed 's/ / | /g') |"
	else
		# shellcheck disable=SC2086
		printf '%-26s %9s %9s %11s %9s %9s %9s\n' "$arch" $cols
	fi
	if [ "$arch" = mipsel_24kc ]; then
		if [ "$bsize" -gt "$bin_limit" ]; then
			echo "over budget: $bin (linux/mipsle) is $(human "$bsize") MiB, over 5.5 MiB" >&2
			fail=1
		fi
		if [ "$xsize" != - ] && [ "$xsize" -gt "$xz_limit" ]; then
			echo "over budget: xz of $bin is $(human "$xsize") MiB, over 1.6 MiB" >&2
			fail=1
		fi
	fi
done
if [ "$fail" = 1 ] && [ "${SIZES_WARN_ONLY:-0}" = 1 ]; then
	echo "WARNING: over the flash budget (make sizes fails on this)" >&2
	exit 0
fi
exit $fail
