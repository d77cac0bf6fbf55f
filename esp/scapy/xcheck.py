#!/usr/bin/python3
"""Cross-check ESP/AH packets with scapy's SecurityAssociation.

Reads a JSON list of cases on stdin and writes a JSON list of results (same
order) on stdout. A case with "wire" is a packet built by the Go code:
scapy decrypts/verifies it and compares the result with "inner". A case
without "wire" asks scapy to protect "inner"; the result carries its "wire"
for the Go code to decapsulate. One process handles a whole test run.
"""
import contextlib
import json
import sys
import traceback
import warnings

warnings.filterwarnings("ignore")

from scapy.all import IP, IPv6, UDP, raw  # noqa: E402
from scapy.layers.ipsec import AH, ESP, SecurityAssociation  # noqa: E402
from scapy.packet import bind_layers, split_layers  # noqa: E402

CIPHERS = {
    "aes128gcm16": "AES-GCM",
    "aes256gcm16": "AES-GCM",
    "chacha20poly1305": "CHACHA20-POLY1305",
    "aes128": "AES-CBC",
    "aes192": "AES-CBC",
    "aes256": "AES-CBC",
    "3des": "3DES",
    "null": "NULL",
}
INTEG = {
    "sha1": "HMAC-SHA1-96",
    "sha256": "SHA2-256-128",
    "sha384": "SHA2-384-192",
    "sha512": "SHA2-512-256",
    "md5": "HMAC-MD5-96",
}


def ip_class(addr):
    return IPv6 if ":" in addr else IP


def make_sas(c):
    """Return (esp_sa, ah_sa) for a case; either may be None."""
    tunnel = None
    if c["mode"] == "tunnel":
        tunnel = ip_class(c["src"])(src=c["src"], dst=c["dst"])
    esn = dict(esn_en=c["esn"], esn=c["seq"] >> 32)
    seq = c["seq"] & 0xFFFFFFFF
    esp_sa = ah_sa = None
    if c["proto"] in ("esp", "ah+esp"):
        natt = None
        if c.get("sport"):
            natt = UDP(sport=c["sport"], dport=c["dport"])
        esp_sa = SecurityAssociation(
            ESP, spi=c["spi"], seq_num=seq,
            crypt_algo=CIPHERS[c["cipher"]],
            crypt_key=bytes.fromhex(c["enckey"]) or None,
            auth_algo=INTEG.get(c["integ"]),
            auth_key=bytes.fromhex(c["authkey"]) or None,
            tunnel_header=tunnel, nat_t_header=natt, **esn)
        tunnel = None  # in a bundle, AH is added to the ESP packet as in transport mode
    if c["proto"] in ("ah", "ah+esp"):
        spi = c["ahspi"] if c["proto"] == "ah+esp" else c["spi"]
        ah_sa = SecurityAssociation(
            AH, spi=spi, seq_num=seq, auth_algo=INTEG[c["ahinteg"]],
            auth_key=bytes.fromhex(c["ahkey"]), tunnel_header=tunnel, **esn)
    return esp_sa, ah_sa


def parse(b):
    return (IPv6 if b[0] >> 4 == 6 else IP)(b)


class esp_as_raw:
    """scapy's AH signing takes its ESP branch whenever the packet contains
    an ESP layer, so while AH is added to an ESP packet (a bundle) ESP is
    dissected as raw bytes."""

    def __enter__(self):
        split_layers(IP, ESP, proto=50)
        split_layers(IPv6, ESP, nh=50)

    def __exit__(self, *a):
        bind_layers(IP, ESP, proto=50)
        bind_layers(IPv6, ESP, nh=50)


def apply(c, field, order, op):
    """Runs op ("encrypt" or "decrypt") of the case's SAs, named in the order
    given ("esp", "ah"), on the packet in c[field]; the bytes are dissected
    again before each step, as a receiver would see them."""
    sas = dict(zip(("esp", "ah"), make_sas(c)))
    pkt = parse(bytes.fromhex(c[field]))
    for name in order:
        sa = sas[name]
        if sa is None:
            continue
        signing_ah = name == "ah" and op == "encrypt"
        with esp_as_raw() if signing_ah else contextlib.nullcontext():
            pkt = getattr(sa, op)(parse(raw(pkt)))
    return raw(pkt)


def protect(c):
    return apply(c, "inner", ("esp", "ah"), "encrypt")


def unprotect(c):
    return apply(c, "wire", ("ah", "esp"), "decrypt")


def main():
    cases = json.load(sys.stdin)
    out = []
    for c in cases:
        r = {"id": c["id"], "ok": False}
        try:
            if "wire" in c:
                got = unprotect(c)
                if got.hex() == c["inner"]:
                    r["ok"] = True
                else:
                    r["err"] = "decrypted packet differs: " + got.hex()
            else:
                r["wire"] = protect(c).hex()
                r["ok"] = True
        except Exception:
            r["err"] = traceback.format_exc(limit=3)
        out.append(r)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
