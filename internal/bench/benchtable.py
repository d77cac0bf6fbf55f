#!/usr/bin/python3
"""Turns `go test -bench` output into Markdown tables: `make bench-tables`.

Usage: go test -run '^$' -bench X ./pkg | benchtable.py COLUMN... [-- UNIT...]

One table per top-level benchmark. The first columns are the parts of the
sub-benchmark name (split at "/", a "key=value" part shows its value),
headed by the COLUMN names; then one column per reported unit, in the
order the UNITs give (default: as the first line reports them), leaving
out those no line of the table reports. Lines
that are not benchmark results are passed through to stderr.
"""

import re
import sys

LINE = re.compile(r"^(Benchmark[^/\s]+)(/\S*?)?(-\d+)?\s+(\d+)\s+(.*)$")


def fmt(v):
    if v >= 100 or v == int(v):
        return "%.0f" % v
    return "%.2f" % v


def main(argv):
    cols, units = argv, None
    if "--" in argv:
        i = argv.index("--")
        cols, units = argv[:i], argv[i + 1:]
    tables = {}
    for line in sys.stdin:
        m = LINE.match(line.strip())
        if not m:
            sys.stderr.write(line)
            continue
        top, sub, metrics = m.group(1), (m.group(2) or "/")[1:], m.group(5).split()
        vals = {metrics[k + 1]: float(metrics[k]) for k in range(0, len(metrics) - 1, 2)}
        parts = [p.split("=", 1)[-1] for p in sub.split("/")] if sub else []
        t = tables.setdefault(top, {"units": units or list(vals), "rows": []})
        t["rows"].append((parts, vals))
    for top, t in tables.items():
        t["units"] = [u for u in t["units"] if any(u in v for _, v in t["rows"])]
        width = max(len(p) for p, _ in t["rows"])
        head = (cols + ["" for _ in range(width)])[:width] + t["units"]
        print("%s\n" % top)
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * width + "---:|" * len(t["units"]))
        for parts, vals in t["rows"]:
            cells = parts + [""] * (width - len(parts))
            cells += [fmt(vals[u]) if u in vals else "" for u in t["units"]]
            print("| " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
