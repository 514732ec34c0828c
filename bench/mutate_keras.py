#!/usr/bin/env python3
"""Mutation survey of the Keras importer through the CLI: hangs, crashes, leftovers.

Each committed Keras fixture (fixtures/keras/*.h5, *.keras, the legacy and applications sets) is
mutated N times (seeded: byte flips, byte runs set to 0x00/0xFF, truncation, a copied block), and
`zoo convert MUTANT -o OUT.zoo` is run with a wall-clock timeout. A run is
    ok         exit 0 (the mutation hit data bytes only; the model converted)
    refused    exit 65/66 with one error line (a typed error)
    hang       still running at the timeout (killed)
    crash      any other exit (a signal, exit 1, …)
and after a non-zero exit nothing may be left at OUT.zoo or as a temporary beside it.

    python3 bench/mutate_keras.py [--zoo PATH] [--runs 300] [--timeout 20] [--only NAME,..] [--keep DIR] [--jobs N]

Prints one line per fixture and a total; exits 1 if any hang, crash or leftover was found. With
--keep, every hanging or crashing mutant is copied to DIR for a regression fixture.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        i = rng.randrange(len(b))
        n = rng.randint(1, 16)
        b[i:i + n] = bytes([rng.choice((0x00, 0xFF))]) * len(b[i:i + n])
    elif kind == 2:
        b = b[:rng.randrange(1, len(b))]
    elif kind == 3:
        i, j = rng.randrange(len(b)), rng.randrange(len(b))
        n = rng.randint(8, 256)
        b[i:i + n] = b[j:j + n]
    else:
        i = rng.randrange(len(b))
        b[i] = rng.randrange(256)
    return bytes(b)


def fixtures(only):
    files = sorted(list((ROOT / "fixtures/keras").glob("*.h5")) + list((ROOT / "fixtures/keras").glob("*.keras"))
                   + list((ROOT / "fixtures/keras/legacy").glob("*.h5")))
    files = [f for f in files if not f.name.startswith(("ext_", "soft_", "virtual_", "garbage", "truncated"))]
    return [f for f in files if only is None or any(f.name.startswith(o) for o in only)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default=str(ROOT / ".build/release/zoo"))
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--only")
    ap.add_argument("--keep")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    only = args.only.split(",") if args.only else None
    totals = {"ok": 0, "refused": 0, "hang": 0, "crash": 0, "leftover": 0}

    def survey(f: Path) -> dict:
        counts = dict.fromkeys(totals, 0)
        if ".weights." in f.name and "k20" in f.name:
            return counts  # needs --arch; the full-model copy of the same layout is surveyed
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            rng = random.Random(f.name)
            data = f.read_bytes()
            for k in range(args.runs):
                mutant = tmp / f"mutant{f.suffix}"
                mutant.write_bytes(mutate(data, rng))
                out = tmp / "out.zoo"
                if out.exists():
                    out.unlink()
                try:
                    p = subprocess.run([args.zoo, "convert", str(mutant), "-o", str(out)], capture_output=True, timeout=args.timeout,
                                       text=True, errors="replace")
                    if p.returncode == 0:
                        outcome = "ok"
                    elif p.returncode in (65, 66) and len(p.stderr.strip().splitlines()) == 1:
                        outcome = "refused"
                    else:
                        outcome = "crash"
                except subprocess.TimeoutExpired:
                    outcome = "hang"
                    subprocess.run(["pkill", "-9", "-f", str(mutant)], capture_output=True)
                counts[outcome] += 1
                left = [q for q in tmp.iterdir() if q.name.startswith(".out.zoo.tmp")]
                if outcome != "ok" and (out.exists() or left):
                    counts["leftover"] += 1
                for q in left:
                    q.unlink()
                if outcome in ("hang", "crash") and args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(mutant, Path(args.keep) / f"{f.stem}.{outcome}{k}{f.suffix}")
        print(f"{f.name}: " + ", ".join(f"{n} {counts[n]}" for n in totals), flush=True)
        return counts

    # One worker per core: each run is a separate zoo process (and its HDF5 child).
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for counts in pool.map(survey, fixtures(only)):
            for n in totals:
                totals[n] += counts[n]
    print("total: " + ", ".join(f"{n} {totals[n]}" for n in totals))
    sys.exit(1 if totals["hang"] or totals["crash"] or totals["leftover"] else 0)


if __name__ == "__main__":
    main()
