#!/usr/bin/python3
"""Tunnel throughput benchmark: `make bench` (needs root; not part of make test).

Two network namespaces joined by a veth pair; iperf3 TCP from A's inner
address to B's, single stream and 4 streams, RUNS runs of SECONDS each, for
every pairing in one run, so that the ratios between rows are measured on
the same (possibly busy) machine at the same time:

  bare veth                     no tunnel, the outer addresses
  wireguard-go                  the upstream Go implementation, wg(8) config
  tinyipsec raw ESP             tinyipsec <-> tinyipsec, IKEv1, ESP AES-128-GCM
  tinyipsec UDP 4500            the same with nat_t = "force" (ESP in UDP)
  tinyipsec <-> strongSwan      charon with kernel-libipsec (userspace ESP)
  strongSwan <-> strongSwan     the same on both sides

Per row: median Mbit/s and TCP retransmits, daemon CPU seconds (both
sides, whole row), and per GB moved the daemons' CPU seconds and context
switches (both sides: the cost per byte, which a busy machine distorts
less than the rate), daemon RSS after the tunnel came up and after the row,
kernel drops (socket receive-buffer drops of UDP and raw sockets plus every
interface's rx/tx drops, both namespaces) as a share of the packets that
crossed the veth, and each row's ratio to wireguard-go.

Environment: TINYIPSEC (binary), WIREGUARD (wireguard-go binary), BENCH_SECONDS,
RUNS, ROWS (comma-separated row keys to run a subset), TINYIPSEC_ENV (extra
NAME=VALUE pairs for the tinyipsec daemons, e.g. to switch offloads off).
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TAG = "tb%d" % (os.getpid() % 100000)
NS_A, NS_B = TAG + "a", TAG + "b"
OUTER_A, OUTER_B = "192.168.77.1", "192.168.77.2"
INNER_A, INNER_B = "10.1.0.1", "10.2.0.1"
NET_A, NET_B = "10.1.0.0/24", "10.2.0.0/24"
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
RUNS = int(os.environ.get("RUNS", "3"))
TINYIPSEC = os.path.abspath(os.environ.get("TINYIPSEC", "./tinyipsec"))
WIREGUARD = os.path.abspath(os.environ.get("WIREGUARD", "build/bench/wireguard"))
PSK = "bench-psk-not-secret-0123456789"


def sh(*args, ns=None, check=True, capture=True, env=None):
    cmd = list(args)
    if ns:
        cmd = ["ip", "netns", "exec", ns] + cmd
    r = subprocess.run(cmd, stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.STDOUT if capture else None, text=True, env=env)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode, r.stdout))
    return r.stdout or ""


class Procs:
    """Processes this benchmark started, stopped by PID."""

    def __init__(self):
        self.procs = []

    def start(self, ns, args, log, env=None):
        cmd = ["ip", "netns", "exec", ns] + list(args)
        f = open(log, "w")
        e = dict(os.environ)
        if env:
            e.update(env)
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=e)
        p.log = log
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(reversed(self.procs)):
            self.stop(p)


def wait_for(what, fn, timeout=40, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s: process exited:\n%s" % (what, open(proc.log).read()[-3000:]))
        if fn():
            return
        time.sleep(0.2)
    raise RuntimeError("timeout waiting for " + what)


def topology():
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "set", "lo", "up", ns=ns)
        sh("sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", ns=ns)
    sh("ip", "link", "add", TAG + "va", "netns", NS_A, "type", "veth", "peer", "name", TAG + "vb", "netns", NS_B)
    for ns, dev, outer, inner in ((NS_A, TAG + "va", OUTER_A, INNER_A), (NS_B, TAG + "vb", OUTER_B, INNER_B)):
        sh("ip", "addr", "add", outer + "/24", "dev", dev, ns=ns)
        sh("ip", "link", "set", dev, "up", ns=ns)
        sh("ip", "addr", "add", inner + "/24", "dev", "lo", ns=ns)


def teardown():
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)


def ping(ns, src, dst):
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", "-I", src, dst],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


# --- counters ---------------------------------------------------------------

def kernel_drops(ns):
    """Drops the kernel made in ns: UDP/UDP6 receive-buffer errors, raw
    socket drops, and every interface's rx/tx dropped counters."""
    total = 0
    snmp = sh("cat", "/proc/net/snmp", ns=ns).splitlines()
    for i in range(0, len(snmp) - 1, 2):
        keys, vals = snmp[i].split(), snmp[i + 1].split()
        if keys[0] == "Udp:":
            total += int(vals[keys.index("RcvbufErrors")])
    for line in sh("cat", "/proc/net/snmp6", ns=ns).splitlines():
        f = line.split()
        if len(f) == 2 and f[0] == "Udp6RcvbufErrors":
            total += int(f[1])
    for path in ("/proc/net/raw", "/proc/net/raw6"):
        lines = sh("cat", path, ns=ns, check=False).splitlines()[1:]
        for line in lines:
            total += int(line.split()[-1])
    for link in json.loads(sh("ip", "-j", "-s", "link", "show", ns=ns)):
        st = link.get("stats64", {})
        total += st.get("rx", {}).get("dropped", 0) + st.get("tx", {}).get("dropped", 0)
    return total


def veth_packets(ns, dev):
    for link in json.loads(sh("ip", "-j", "-s", "link", "show", "dev", dev, ns=ns)):
        st = link.get("stats64", {})
        return st.get("rx", {}).get("packets", 0) + st.get("tx", {}).get("packets", 0)
    return 0


def cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def context_switches(pid):
    """Voluntary and involuntary context switches of every thread of pid."""
    total = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                for line in f:
                    if "ctxt_switches" in line:  # voluntary_ and nonvoluntary_
                        total += int(line.split()[1])
    except OSError:
        pass
    return total


def rss_mib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# --- the daemons ------------------------------------------------------------

def tinyipsec_config(d, side, natt):
    local, peer = (OUTER_A, OUTER_B) if side == "a" else (OUTER_B, OUTER_A)
    lnet, rnet = (NET_A, NET_B) if side == "a" else (NET_B, NET_A)
    ctl = os.path.join(d, "ctl-%s.sock" % side)
    conf = """[global]
log_level = "info"
tun = "ipsec0"
mtu = 1400
control_socket = "%s"

[[isakmp_policy]]
priority = 10
encryption = "aes128"
hash = "sha256"
authentication = "pre-share"
group = 14

[transform_set.TS]
esp = "aes128gcm16"
mode = "tunnel"

[acl.VPN]
rules = ["permit ip %s %s"]

[[crypto_map]]
name = "CMAP"
seq = 10
peer = "%s"
local = "%s"
match = "VPN"
transform_set = ["TS"]
psk = "%s"
initiate = "%s"
nat_t = "%s"
""" % (ctl, lnet, rnet, peer, local, PSK, "always" if side == "a" else "never", "force" if natt else "off")
    path = os.path.join(d, "tinyipsec-%s.toml" % side)
    with open(path, "w") as f:
        f.write(conf)
    os.chmod(path, 0o600)
    return path


def tinyipsec_env():
    env = {}
    for kv in os.environ.get("TINYIPSEC_ENV", "").split():
        k, _, v = kv.partition("=")
        env[k] = v
    return env


def start_tinyipsec(procs, d, ns, side, natt):
    conf = tinyipsec_config(d, side, natt)
    p = procs.start(ns, [TINYIPSEC, "run", "-c", conf], os.path.join(d, "tinyipsec-%s.log" % side), tinyipsec_env())
    p.conf = conf
    p.kind = "tinyipsec"
    wait_for("tinyipsec control socket", lambda: subprocess.run(
        ["ip", "netns", "exec", ns, TINYIPSEC, "status", "-c", conf],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0, proc=p)
    return p


def tinyipsec_status(ns, p):
    out = subprocess.run(["ip", "netns", "exec", ns, TINYIPSEC, "status", "-c", p.conf, "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    try:
        return json.loads(out)
    except ValueError:
        return {}


STRONGSWAN_CONF = """charon {
  load_modular = no
  load = random nonce openssl pem pkcs1 pkcs8 x509 pubkey aes sha1 sha2 hmac gcm gmp kernel-libipsec kernel-netlink socket-default vici
  install_routes = yes
  plugins {
    vici {
      socket = unix://%(dir)s/charon.vici
    }
  }
  filelog {
    stderr {
      default = 1
    }
  }
}
"""

SWANCTL_CONF = """connections {
  bench {
    version = 1
    local_addrs = %(local)s
    remote_addrs = %(peer)s
    proposals = aes128-sha256-modp2048
    encap = yes
    local {
      auth = psk
      id = %(local)s
    }
    remote {
      auth = psk
      id = %(peer)s
    }
    children {
      bench {
        local_ts = %(lnet)s
        remote_ts = %(rnet)s
        esp_proposals = aes128gcm16
        mode = tunnel
      }
    }
  }
}
secrets {
  ike-bench {
    secret = "%(psk)s"
  }
}
"""


def charon_binary():
    for p in ("/usr/lib/ipsec/charon", "/usr/libexec/ipsec/charon"):
        if os.path.exists(p):
            return p
    return None


def start_charon(procs, d, ns, side):
    cdir = tempfile.mkdtemp(prefix="charon-%s-" % side, dir=d)
    os.makedirs(os.path.join(cdir, "run"))
    local, peer = (OUTER_A, OUTER_B) if side == "a" else (OUTER_B, OUTER_A)
    lnet, rnet = (NET_A, NET_B) if side == "a" else (NET_B, NET_A)
    with open(os.path.join(cdir, "strongswan.conf"), "w") as f:
        f.write(STRONGSWAN_CONF % {"dir": cdir})
    with open(os.path.join(cdir, "swanctl.conf"), "w") as f:
        f.write(SWANCTL_CONF % {"local": local, "peer": peer, "lnet": lnet, "rnet": rnet, "psk": PSK})
    # A private mount namespace with its own /run: charon's pid file path
    # is compiled in.
    script = "mount --bind %s /run && exec %s" % (os.path.join(cdir, "run"), charon_binary())
    p = procs.start(ns, ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                    os.path.join(cdir, "charon.log"), {"STRONGSWAN_CONF": os.path.join(cdir, "strongswan.conf")})
    p.kind = "charon"
    vici = "unix://" + os.path.join(cdir, "charon.vici")
    # swanctl wants its options after the command.
    p.swanctl = lambda *args: ["swanctl"] + list(args) + ["--uri", vici]
    wait_for("charon vici", lambda: subprocess.run(p.swanctl("--stats"), stdout=subprocess.DEVNULL,
                                                    stderr=subprocess.DEVNULL).returncode == 0, proc=p)
    subprocess.run(p.swanctl("--load-all", "--noprompt", "--file", os.path.join(cdir, "swanctl.conf")),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p


def start_wireguard(procs, d, ns, side, keys):
    dev = TAG + "w" + side
    p = procs.start(ns, [WIREGUARD, "-f", dev], os.path.join(d, "wg-%s.log" % side))
    p.kind = "wireguard-go"
    wait_for("wireguard-go device", lambda: subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "show", dev],
                                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0, proc=p)
    other = "b" if side == "a" else "a"
    peer = OUTER_B if side == "a" else OUTER_A
    rnet = NET_B if side == "a" else NET_A
    inner = INNER_A if side == "a" else INNER_B
    keyfile = os.path.join(d, "wg-%s.key" % side)
    with open(keyfile, "w") as f:
        f.write(keys[side][0])
    os.chmod(keyfile, 0o600)
    sh("wg", "set", dev, "private-key", keyfile, "listen-port", "51820", "peer", keys[other][1],
       "allowed-ips", rnet, "endpoint", peer + ":51820", ns=ns)
    sh("ip", "link", "set", dev, "up", ns=ns)
    sh("ip", "route", "add", rnet, "dev", dev, "src", inner, ns=ns)
    return p


def wg_keys():
    keys = {}
    for side in ("a", "b"):
        priv = sh("wg", "genkey").strip()
        pub = subprocess.run(["wg", "pubkey"], input=priv, stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        keys[side] = (priv, pub)
    return keys


# --- measuring --------------------------------------------------------------

def iperf(streams, dst, src):
    out = sh("iperf3", "-c", dst, "-B", src, "-t", str(SECONDS), "-P", str(streams), "-J", ns=NS_A, check=False)
    try:
        j = json.loads(out)
        end = j["end"]
        return (end["sum_received"]["bits_per_second"] / 1e6, end["sum_sent"].get("retransmits", 0),
                end["sum_received"]["bytes"])
    except (ValueError, KeyError):
        print("iperf3 failed: " + out[-500:], file=sys.stderr)
        return 0.0, 0, 0


def measure(key, label, daemons, dst, src):
    """Runs the iperf3 series for one pairing (tunnel already up)."""
    server = PROCS.start(NS_B, ["iperf3", "-s", "-B", dst], os.path.join(WORK, "iperf-%s.log" % key))
    time.sleep(0.5)
    rows = []
    try:
        for streams in (1, 4):
            rss0 = [rss_mib(p.pid) for p in daemons]
            cpu0 = [cpu_seconds(p.pid) for p in daemons]
            cs0 = [context_switches(p.pid) for p in daemons]
            drops0 = kernel_drops(NS_A) + kernel_drops(NS_B)
            pkts0 = veth_packets(NS_A, TAG + "va")
            st0 = [tinyipsec_status(ns, p) for ns, p in zip((NS_A, NS_B), daemons) if p.kind == "tinyipsec"]
            results = [iperf(streams, dst, src) for _ in range(RUNS)]
            cpu = sum(cpu_seconds(p.pid) - c for p, c in zip(daemons, cpu0))
            cs = sum(context_switches(p.pid) - c for p, c in zip(daemons, cs0))
            moved = sum(r[2] for r in results)
            drops = kernel_drops(NS_A) + kernel_drops(NS_B) - drops0
            pkts = veth_packets(NS_A, TAG + "va") - pkts0
            st1 = [tinyipsec_status(ns, p) for ns, p in zip((NS_A, NS_B), daemons) if p.kind == "tinyipsec"]
            rows.append({
                "key": key, "label": label, "streams": streams,
                "mbps": statistics.median(r[0] for r in results),
                "retrans": int(statistics.median(r[1] for r in results)),
                "cpu": cpu, "cs": cs, "moved": moved, "rss0": rss0, "rss1": [rss_mib(p.pid) for p in daemons],
                "drops": drops, "pkts": pkts,
                "status_drops": status_kernel_drops(st1) - status_kernel_drops(st0) if st1 else None,
            })
            print_row(rows[-1])
    finally:
        PROCS.stop(server)
    return rows


def status_kernel_drops(statuses):
    total = 0
    for s in statuses:
        for v in (s.get("kernel_drops") or {}).values():
            total += v
    return total


def fmt_row(r, wg):
    ratio = ""
    if wg and r["key"].startswith("tis") and wg.get(r["streams"]):
        ratio = "%.2f" % (r["mbps"] / wg[r["streams"]])
    rss = "/".join("%.1f→%.1f" % (a, b) for a, b in zip(r["rss0"], r["rss1"])) or "-"
    share = "%.3f%%" % (100.0 * r["drops"] / r["pkts"]) if r["pkts"] else "-"
    sd = "" if r["status_drops"] is None else " (status %d)" % r["status_drops"]
    gb = r["moved"] / 1e9
    per_gb = "%.2f / %.0f" % (r["cpu"] / gb, r["cs"] / gb / 1000) if gb and r["rss0"] else "-"
    return "| %-28s | %d | %8.0f | %7d | %6.1f | %s | %-21s | %7d%s | %s | %s |" % (
        r["label"], r["streams"], r["mbps"], r["retrans"], r["cpu"], per_gb, rss, r["drops"], sd, share, ratio)


HEADER = ("| pairing | streams | Mbit/s | retrans | daemon CPU s | daemon CPU s / context switches (thousands) per GB | RSS MiB A/B (up→after) | kernel drops | drops/pkts | × wireguard-go |\n"
          "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")


def print_row(r):
    print("  " + fmt_row(r, None), flush=True)


# --- the pairings -----------------------------------------------------------

def row_bare():
    return measure("bare", "bare veth, no tunnel", [], OUTER_B, OUTER_A)


def row_wireguard():
    keys = wg_keys()
    a = start_wireguard(PROCS, WORK, NS_A, "a", keys)
    b = start_wireguard(PROCS, WORK, NS_B, "b", keys)
    try:
        wait_for("wireguard tunnel", lambda: ping(NS_A, INNER_A, INNER_B))
        return measure("wg", "wireguard-go ⟷ wireguard-go", [a, b], INNER_B, INNER_A)
    finally:
        PROCS.stop(a)
        PROCS.stop(b)


def row_tinyipsec(natt):
    a = start_tinyipsec(PROCS, WORK, NS_A, "a", natt)
    b = start_tinyipsec(PROCS, WORK, NS_B, "b", natt)
    try:
        wait_for("tinyipsec tunnel", lambda: ping(NS_A, INNER_A, INNER_B), proc=a)
        key, label = ("tis-udp", "tinyipsec ⟷ tinyipsec UDP 4500") if natt else ("tis-esp", "tinyipsec ⟷ tinyipsec raw ESP")
        return measure(key, label, [a, b], INNER_B, INNER_A)
    finally:
        PROCS.stop(a)
        PROCS.stop(b)


def row_tinyipsec_strongswan():
    b = start_charon(PROCS, WORK, NS_B, "b")
    a = start_tinyipsec(PROCS, WORK, NS_A, "a", True)
    try:
        wait_for("tinyipsec-strongSwan tunnel", lambda: ping(NS_A, INNER_A, INNER_B), proc=a)
        return measure("tis-ss", "tinyipsec ⟷ strongSwan", [a, b], INNER_B, INNER_A)
    finally:
        PROCS.stop(a)
        PROCS.stop(b)


def row_strongswan():
    b = start_charon(PROCS, WORK, NS_B, "b")
    a = start_charon(PROCS, WORK, NS_A, "a")
    try:
        subprocess.run(a.swanctl("--initiate", "--child", "bench"), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        wait_for("strongSwan tunnel", lambda: ping(NS_A, INNER_A, INNER_B), proc=a)
        return measure("ss", "strongSwan ⟷ strongSwan", [a, b], INNER_B, INNER_A)
    finally:
        PROCS.stop(a)
        PROCS.stop(b)


ROWS = [
    ("bare", row_bare),
    ("wg", row_wireguard),
    ("tis-esp", lambda: row_tinyipsec(False)),
    ("tis-udp", lambda: row_tinyipsec(True)),
    ("tis-ss", row_tinyipsec_strongswan),
    ("ss", row_strongswan),
]


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return "%s, %d CPUs, kernel %s, load average before %s" % (
        cpu, os.cpu_count(), os.uname().release, open("/proc/loadavg").read().split()[:3])


def main():
    global PROCS, WORK
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces)")
    for tool in ("ip", "iperf3", "ping"):
        if not shutil.which(tool):
            sys.exit("bench: %s missing" % tool)
    want = set(filter(None, os.environ.get("ROWS", "").split(",")))
    PROCS = Procs()
    WORK = tempfile.mkdtemp(prefix="tinyipsec-bench-")
    print("machine:", machine())
    print("iperf3 TCP, %d s × %d runs per row, median" % (SECONDS, RUNS), flush=True)
    rows = []
    try:
        topology()
        for key, fn in ROWS:
            if want and key not in want:
                continue
            if key == "wg" and not os.path.exists(WIREGUARD):
                print("skip wireguard-go: %s missing" % WIREGUARD)
                continue
            if key == "wg" and not shutil.which("wg"):
                print("skip wireguard-go: wg (wireguard-tools) missing")
                continue
            if key in ("tis-ss", "ss") and (not charon_binary() or not shutil.which("swanctl")):
                print("skip %s: strongSwan's charon/swanctl missing" % key)
                continue
            try:
                rows += fn()
            except Exception as e:  # one broken pairing must not hide the others
                print("row %s failed: %s" % (key, e), file=sys.stderr)
    finally:
        PROCS.stop_all()
        teardown()
        if os.environ.get("BENCH_KEEP"):
            print("logs kept in", WORK)
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    wg = {r["streams"]: r["mbps"] for r in rows if r["key"] == "wg"}
    print()
    print("load average after:", open("/proc/loadavg").read().split()[:3])
    print(HEADER)
    for r in rows:
        print(fmt_row(r, wg))
    ss = {r["streams"]: r["mbps"] for r in rows if r["key"] == "ss"}
    for r in rows:
        if r["key"].startswith("tis-") and r["key"] != "tis-ss" and ss.get(r["streams"]):
            print("%s, %d stream(s): %.2f × strongSwan ⟷ strongSwan" % (r["label"], r["streams"], r["mbps"] / ss[r["streams"]]))


if __name__ == "__main__":
    main()
