"""Reads `zoo parity --json` output saved by bench/runtime.sh."""
import json


def reports(v):
    """The parity reports (one per output), wherever the JSON nests them."""
    if isinstance(v, dict):
        if "maxAbsError" in v:
            yield v
        for w in v.values():
            yield from reports(w)
    elif isinstance(v, list):
        for w in v:
            yield from reports(w)


def summary(res, m):
    """(max abs error, passed) for model m in results dir res, or None if zoo parity produced no report."""
    try:
        rs = list(reports(json.load(open(f"{res}/{m}.parity.json"))))
    except (OSError, ValueError):
        rs = []
    if not rs:
        return None
    rc = open(f"{res}/{m}.parity.rc").read().strip()
    return max(r["maxAbsError"] for r in rs), rc == "0" and all(r.get("passed") for r in rs)
