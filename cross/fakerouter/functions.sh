# Test stand-in for OpenWrt's /lib/functions.sh: the UCI subset an init
# script uses. UCI files are shell syntax ("config TYPE NAME", "option K V",
# "list K V"), so config_load sources the file with these three defined.

config() {
	UCIV_N=$((UCIV_N + 1))
	UCIV_CUR=${2:-cfg$UCIV_N}
	UCIV_SECTIONS="$UCIV_SECTIONS $UCIV_CUR"
	eval "UCIV_${UCIV_CUR}__type=\$1"
}

option() {
	eval "UCIV_${UCIV_CUR}_$1=\$2"
}

list() {
	eval "UCIV_${UCIV_CUR}_$1=\"\${UCIV_${UCIV_CUR}_$1:+\$UCIV_${UCIV_CUR}_$1 }\$2\""
}

config_load() {
	# forget the previous load, as uci_load does: lists must not accumulate
	local v
	for v in $(set | sed -n 's/^\(UCIV_[A-Za-z0-9_]*\)=.*/\1/p'); do
		unset "$v"
	done
	UCIV_N=0
	UCIV_CUR=
	UCIV_SECTIONS=
	[ -f "/etc/config/$1" ] && . "/etc/config/$1"
	return 0
}

config_get() {
	eval "$1=\${UCIV_$2_$3:-\$4}"
}

config_get_bool() {
	local v
	eval "v=\${UCIV_$2_$3:-\$4}"
	case "$v" in 1 | on | true | yes | enabled) eval "$1=1" ;; *) eval "$1=0" ;; esac
}

config_foreach() {
	local fn=$1 type=$2 s t
	shift 2
	for s in $UCIV_SECTIONS; do
		eval "t=\$UCIV_${s}__type"
		[ -z "$type" ] || [ "$t" = "$type" ] && "$fn" "$s" "$@"
	done
	return 0
}
