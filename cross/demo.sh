#!/bin/sh
# The main job in one command (`make demo`): two tinyipsec routers in two
# network namespaces, joined by a veth pair, bring up an IKEv1 tunnel
# between their LANs and carry a ping through it.
#
#   namespace A                                   namespace B
#   LAN 10.1.0.1/24 (lo)                          LAN 10.2.0.1/24 (lo)
#   tinyipsec, initiate = "always"                tinyipsec, initiate = "never"
#   veth 192.168.77.1/24  <--- ESP + IKE --->     veth 192.168.77.2/24
#
# Both configurations are made from the shipped example (init/tinyipsec.toml)
# by changing only what a second site must change: peer address, mirrored
# crypto ACL, a shared random pre-shared key, TUN name and control socket.
# Every address lives inside the two namespaces; the host's own network is
# not touched. Everything is removed on exit, also on failure or Ctrl-C.
#
# Run as root from the source tree (after `sh cross/debian-deps.sh`).
# TINYIPSEC_BIN selects an already built binary instead of `make tinyipsec`;
# DEMO_LOGS=1 also prints both daemons' logs when everything worked.
# Exit status 0 only when the tunnel came up and the ping got every reply.
set -u

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
EXAMPLE=$ROOT/init/tinyipsec.toml

NS_A=tis-demo-a-$$
NS_B=tis-demo-b-$$
OUTER_A=192.168.77.1
OUTER_B=192.168.77.2
INNER_A=10.1.0.1
INNER_B=10.2.0.1
# How long IKE may take (Main Mode + Quick Mode usually need well under 1 s).
DEADLINE_S=${DEMO_DEADLINE_S:-30}

say() { printf '==> %s\n' "$*"; }
fail() {
	printf '\nDEMO FAILED: %s\n' "$*" >&2
	show_logs
	exit 1
}

WORK=
PID_A=
PID_B=
CREATED_A=
CREATED_B=

show_logs() {
	for side in A B; do
		if [ -n "$WORK" ] && [ -s "$WORK/$side.log" ]; then
			printf '\n---- tinyipsec log, namespace %s ----\n' "$side" >&2
			cat "$WORK/$side.log" >&2
		fi
	done
}

# stop PID: SIGTERM (the daemon sends its IKE Delete notifications and
# removes its TUN, routes and rules), SIGKILL if it is still there after 5 s.
stop() {
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	i=0
	while kill -0 "$1" 2>/dev/null && [ "$i" -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

cleanup() {
	status=$?
	trap - EXIT INT TERM HUP
	[ "$status" -gt 128 ] && say "interrupted; cleaning up"
	stop "$PID_A"
	stop "$PID_B"
	for ns in ${CREATED_A:+"$NS_A"} ${CREATED_B:+"$NS_B"}; do
		# Anything else still running in the namespace would keep it busy.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns delete "$ns" 2>/dev/null
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
	if [ "$status" -eq 0 ]; then
		say "cleaned up (namespaces $NS_A and $NS_B deleted)"
	fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- preconditions -----------------------------------------------------------
[ "$(id -u)" -eq 0 ] || { echo "demo: must run as root (network namespaces, TUN devices)" >&2; exit 1; }
for tool in ip ping od; do
	command -v "$tool" >/dev/null 2>&1 || { echo "demo: $tool not found; run: sh cross/debian-deps.sh" >&2; exit 1; }
done
[ -r "$EXAMPLE" ] || { echo "demo: $EXAMPLE not found" >&2; exit 1; }

# --- the binary --------------------------------------------------------------
if [ -n "${TINYIPSEC_BIN:-}" ]; then
	BIN=$TINYIPSEC_BIN
	say "using $BIN"
else
	say "building ./tinyipsec"
	if command -v make >/dev/null 2>&1; then
		make -s tinyipsec || { echo "demo: build failed" >&2; exit 1; }
	else
		CGO_ENABLED=0 go build -trimpath -o tinyipsec . || { echo "demo: build failed" >&2; exit 1; }
	fi
	BIN=$ROOT/tinyipsec
fi
[ -x "$BIN" ] || { echo "demo: $BIN is not executable" >&2; exit 1; }
"$BIN" version

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tinyipsec-demo.XXXXXX") || exit 1
chmod 700 "$WORK"

# --- configurations ----------------------------------------------------------
# A fresh random key for this run, shared by both sides.
PSK=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')

# derive SIDE PEER LOCAL_NET REMOTE_NET INITIATE: the example with this
# site's values. Each substitution must hit exactly the line it means to, so
# a changed example fails here instead of giving a silently different demo.
derive() {
	side=$1 peer=$2 lnet=$3 rnet=$4 initiate=$5
	out=$WORK/$side.toml
	lower=$(printf %s "$side" | tr AB ab)
	sed -e "s|^tun = \"ipsec0\"|tun = \"ipsec-$lower\"|" \
		-e "s|^control_socket = \".*\"|control_socket = \"$WORK/$side.sock\"|" \
		-e "s|^peer = \"192\.0\.2\.2\" |peer = \"$peer\" |" \
		-e "s|^psk = \".*\"|psk = \"$PSK\"|" \
		-e "s|^  \"permit ip 10\.1\.0\.0 0\.0\.0\.255 10\.2\.0\.0 0\.0\.0\.255\",|  \"permit ip $lnet 0.0.0.255 $rnet 0.0.0.255\",|" \
		-e "s|^initiate = \"on-traffic\" |initiate = \"$initiate\" |" \
		"$EXAMPLE" >"$out" || exit 1
	chmod 600 "$out"
	for want in "tun = \"ipsec-$lower\"" "control_socket = \"$WORK/$side.sock\"" \
		"peer = \"$peer\"" "psk = \"$PSK\"" "\"permit ip $lnet 0.0.0.255 $rnet 0.0.0.255\"" \
		"initiate = \"$initiate\""; do
		grep -qF "$want" "$out" || fail "init/tinyipsec.toml changed: could not set $want in the $side configuration"
	done
	if ! "$BIN" check -c "$out" >"$WORK/check.out" 2>&1; then
		cat "$WORK/check.out" >&2
		fail "the derived $side configuration is invalid"
	fi
}
say "writing configurations from init/tinyipsec.toml (fresh random pre-shared key)"
derive A "$OUTER_B" 10.1.0.0 10.2.0.0 always
derive B "$OUTER_A" 10.2.0.0 10.1.0.0 never
printf '    A: peer %s, ACL permit ip 10.1.0.0/24 -> 10.2.0.0/24, initiate = always, tun ipsec-a\n' "$OUTER_B"
printf '    B: peer %s, ACL permit ip 10.2.0.0/24 -> 10.1.0.0/24, initiate = never,  tun ipsec-b\n' "$OUTER_A"

# --- namespaces --------------------------------------------------------------
say "creating namespaces $NS_A and $NS_B joined by a veth pair"
ip netns add "$NS_A" || fail "ip netns add $NS_A"
CREATED_A=1
ip netns add "$NS_B" || fail "ip netns add $NS_B"
CREATED_B=1
# Both ends are created directly inside the namespaces: no interface ever
# appears in the host's namespace.
ip -n "$NS_A" link add wan0 type veth peer name wan0 netns "$NS_B" || fail "creating the veth pair"
for x in "A $NS_A $OUTER_A $INNER_A" "B $NS_B $OUTER_B $INNER_B"; do
	set -- $x
	ip -n "$2" link set lo up &&
		ip -n "$2" addr add "$4/24" dev lo &&
		ip -n "$2" addr add "$3/24" dev wan0 &&
		ip -n "$2" link set wan0 up || fail "addressing namespace $1"
	printf '    %s: wan0 %s/24, LAN %s/24 on lo\n' "$1" "$3" "$4"
done

# --- daemons -----------------------------------------------------------------
say "starting tinyipsec in both namespaces (B responds, A initiates)"
ip netns exec "$NS_B" "$BIN" run -c "$WORK/B.toml" >"$WORK/B.log" 2>&1 &
PID_B=$!
# A's first Main Mode packet must find B listening, or it is only
# retransmitted seconds later: B answers on its control socket once its
# data plane and IKE sockets are up.
i=0
until ip netns exec "$NS_B" "$BIN" status -c "$WORK/B.toml" >/dev/null 2>&1; do
	kill -0 "$PID_B" 2>/dev/null || fail "tinyipsec in namespace B exited"
	[ "$i" -lt 100 ] || fail "tinyipsec in namespace B did not open its control socket within 10 s"
	i=$((i + 1))
	sleep 0.1
done
ip netns exec "$NS_A" "$BIN" run -c "$WORK/A.toml" >"$WORK/A.log" 2>&1 &
PID_A=$!

# established SIDE: the daemon's IKE SA is MM_ACTIVE and it has an IPsec SA.
established() {
	ip netns exec "$2" "$BIN" status --json -c "$WORK/$1.toml" >"$WORK/$1.json" 2>/dev/null || return 1
	grep -q '"state": "MM_ACTIVE"' "$WORK/$1.json" && grep -q '"spi_in"' "$WORK/$1.json"
}

# Milliseconds since the daemons started (GNU date has %N; elsewhere whole seconds).
now_ms() {
	t=$(date +%s%N)
	case $t in *N) echo $(($(date +%s) * 1000)) ;; *) echo $((t / 1000000)) ;; esac
}
elapsed_ms() { echo $(($(now_ms) - start)); }

say "waiting for IKE (Main Mode, then Quick Mode), at most ${DEADLINE_S} s"
start=$(now_ms)
while :; do
	kill -0 "$PID_A" 2>/dev/null || fail "tinyipsec in namespace A exited"
	kill -0 "$PID_B" 2>/dev/null || fail "tinyipsec in namespace B exited"
	if established A "$NS_A" && established B "$NS_B"; then
		break
	fi
	[ "$(elapsed_ms)" -lt $((DEADLINE_S * 1000)) ] || {
		for x in "A $NS_A" "B $NS_B"; do
			set -- $x
			printf '\n---- tinyipsec status, namespace %s ----\n' "$1" >&2
			ip netns exec "$2" "$BIN" status -c "$WORK/$1.toml" >&2 2>&1
		done
		fail "the tunnel did not come up within ${DEADLINE_S} s"
	}
	sleep 0.1
done
say "tunnel up after $(elapsed_ms) ms: IKE SA MM_ACTIVE and IPsec SAs on both sides"

# --- traffic -----------------------------------------------------------------
say "ping from A's LAN ($INNER_A) to B's LAN ($INNER_B) through the tunnel"
echo "    # ip netns exec A ping -c 3 -i 0.2 -W 2 -I $INNER_A $INNER_B"
if ! ip netns exec "$NS_A" ping -c 3 -i 0.2 -W 2 -I "$INNER_A" "$INNER_B" >"$WORK/ping.out" 2>&1; then
	cat "$WORK/ping.out"
	fail "ping through the tunnel failed"
fi
cat "$WORK/ping.out"
grep -q ' 0% packet loss' "$WORK/ping.out" || fail "ping lost packets"

# --- status ------------------------------------------------------------------
for x in "A $NS_A" "B $NS_B"; do
	set -- $x
	echo
	say "tinyipsec status, namespace $1"
	ip netns exec "$2" "$BIN" status -c "$WORK/$1.toml" || fail "tinyipsec status in namespace $1"
done

[ "${DEMO_LOGS:-}" = 1 ] && show_logs 2>&1
echo
say "DEMO OK: IKEv1 tunnel up, ping 10.1.0.1 -> 10.2.0.1 through ESP with 0% loss"
exit 0
