#!/usr/bin/env python3
"""Mutation survey through the CLI (issue #18): crashes, hangs, leftovers and unbounded errors.

Every committed source file of a format is mutated (seeded: bit flips, byte runs set to
0x00/0xFF, random bytes, truncation, a block copied within the file, a block spliced in from
another file of the same format, bytes inserted or deleted) and each mutant goes through
`zoo convert MUTANT -o OUT.zoo` with a wall-clock timeout, in its own TMPDIR. Formats:

    hdf5        Keras .h5 files: full models (Keras 2, 3, tf.keras, the 2.0-era layouts,
                Applications) and weights-only files with their architecture JSON
    keras       Keras 3 .keras zip archives
    onnx        ONNX models under 512 KiB
    embeddings  word2vec text/binary, GloVe, their gzip and zip forms

A run is
    ok         exit 0 (the mutation hit data bytes only; the model converted)
    refused    exit 64-68 with one line on stderr starting "zoo: error:", at most 1,000 characters
    long       a refusal whose message is longer than that, or several lines (item 6 of #18)
    hang       still running at the timeout (killed)
    crash      any other exit (a signal, exit 1, a Swift trap, ...)
and after a non-zero exit nothing may be left: no OUT.zoo, no `.OUT.zoo.tmp-*` beside it, nothing
in the run's TMPDIR (where the HDF5 worker extracts a .keras archive's weights).

    python3 bench/mutate_cli.py [--zoo PATH] [--runs 3000] [--formats hdf5,keras,onnx,embeddings]
                                [--timeout 40] [--keep DIR] [--jobs N] [--seed S]

--runs is per format, spread evenly over that format's files. Prints one line per format and a
total; exits 1 if any hang, crash, long message or leftover was found. With --keep, each such
mutant is copied to DIR for a regression fixture.
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
OUTCOMES = ("ok", "refused", "long", "hang", "crash", "leftover")


def mutate(data: bytes, donors, rng: random.Random) -> bytes:
    b = bytearray(data)
    kind = rng.randrange(8)
    if kind == 0:  # bit flips
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == 1:  # a run of 0x00 or 0xFF (lengths, offsets, counts to extremes)
        i = rng.randrange(len(b))
        n = rng.randint(1, 16)
        b[i:i + n] = bytes([rng.choice((0x00, 0xFF))]) * len(b[i:i + n])
    elif kind == 2:  # truncation
        b = b[:rng.randrange(1, len(b))]
    elif kind == 3:  # a block copied within the file
        i, j = rng.randrange(len(b)), rng.randrange(len(b))
        n = rng.randint(8, 256)
        b[i:i + n] = b[j:j + n]
    elif kind == 4:  # a block spliced in from another file of the format
        other = rng.choice(donors)
        j = rng.randrange(len(other))
        n = rng.randint(8, 4096)
        i = rng.randrange(len(b))
        b[i:i + n] = other[j:j + n]
    elif kind == 5:  # bytes inserted
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    elif kind == 6:  # bytes deleted
        i = rng.randrange(len(b))
        del b[i:i + rng.randint(1, 64)]
    else:  # random bytes
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    return bytes(b) if b else b"\0"


def keras_arch(f: Path):
    """The architecture JSON a weights-only file converts with, or None for a full model."""
    name = f.name
    if ".weights." not in name:
        return None
    stem = name.split(".")[0]
    for cand in ((f"{stem}.k2.json",) if ".k2" in name else ()) + (f"{stem}.config.json", f"{stem}.k2.json"):
        if (f.parent / cand).exists():
            return f.parent / cand
    return False  # no architecture to pair it with: not surveyed


def sources(fmt: str):
    """(file, extra convert arguments) for every committed source of the format."""
    if fmt == "hdf5":
        files = sorted(list((ROOT / "fixtures/keras").glob("*.h5")) + list((ROOT / "fixtures/keras/legacy").glob("*.h5"))
                       + list((ROOT / "fixtures/keras/applications").glob("*.h5")))
        files = [f for f in files if not f.name.startswith(("ext_", "soft_", "virtual_", "garbage", "truncated"))]
        out = []
        for f in files:
            arch = keras_arch(f)
            if arch is False:
                continue
            out.append((f, ["--arch", str(arch)] if arch else []))
        return out
    if fmt == "keras":
        return [(f, []) for f in sorted((ROOT / "fixtures/keras").glob("*.keras"))]
    if fmt == "onnx":
        return [(f, []) for f in sorted((ROOT / "fixtures/onnx").rglob("*.onnx")) if f.stat().st_size < 512 << 10]
    if fmt == "embeddings":
        e = ROOT / "fixtures/embeddings"
        return [(f, []) for f in sorted(e.iterdir()) if f.suffix in (".txt", ".bin", ".gz", ".zip", ".vec")
                and not f.name.startswith("bad_")]
    raise SystemExit(f"unknown format {fmt}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", default=str(ROOT / ".build/release/zoo"))
    ap.add_argument("--runs", type=int, default=3000, help="runs per format")
    ap.add_argument("--formats", default="hdf5,keras,onnx,embeddings")
    ap.add_argument("--timeout", type=float, default=40)
    ap.add_argument("--keep")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", default="zoo-18")
    args = ap.parse_args()

    def one(job):
        fmt, f, extra, k, donors = job
        rng = random.Random(f"{args.seed}:{f.name}:{k}")
        with tempfile.TemporaryDirectory(prefix="zoo-mutate-") as tmp:
            tmp = Path(tmp)
            work, scratch = tmp / "work", tmp / "tmp"
            work.mkdir(), scratch.mkdir()
            suffix = "".join(f.suffixes[-2:]) if f.name.endswith((".txt.gz", ".bin.gz", ".vec.gz")) else f.suffix
            mutant = work / f"mutant{suffix}"
            mutant.write_bytes(mutate(f.read_bytes(), donors, rng))
            out = work / "out.zoo"
            env = dict(os.environ, TMPDIR=str(scratch), ZOO_HOME=str(tmp / "home"))
            try:
                p = subprocess.run([args.zoo, "convert", str(mutant), "-o", str(out)] + extra, capture_output=True,
                                   timeout=args.timeout, text=True, errors="replace", env=env)
                err = p.stderr.strip()
                if p.returncode == 0:
                    outcome = "ok"
                elif 64 <= p.returncode <= 68 and err.startswith("zoo: error:"):
                    outcome = "refused" if len(err.splitlines()) == 1 and len(err) <= 1000 else "long"
                else:
                    outcome = "crash"
            except subprocess.TimeoutExpired:
                outcome = "hang"
                subprocess.run(["pkill", "-9", "-f", str(mutant)], capture_output=True)
                err = ""
            left = [q.name for q in work.iterdir() if q.name.startswith(".out.zoo.tmp")] + [q.name for q in scratch.iterdir()]
            leftover = outcome != "ok" and (out.exists() or bool(left))
            if outcome in ("hang", "crash", "long") or leftover:
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(mutant, Path(args.keep) / f"{fmt}.{f.stem}.{outcome}{k}{suffix}")
                print(f"  {fmt} {f.name} #{k}: {outcome}{' + leftover ' + str(left) if leftover else ''}: {err[:300]!r}", flush=True)
            return fmt, outcome, leftover

    totals = {n: 0 for n in OUTCOMES}
    for fmt in args.formats.split(","):
        files = sources(fmt)
        donors = [f.read_bytes() for f, _ in files]
        jobs = [(fmt, files[i % len(files)][0], files[i % len(files)][1], i, donors) for i in range(args.runs)]
        counts = {n: 0 for n in OUTCOMES}
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for _, outcome, leftover in pool.map(one, jobs):
                counts[outcome] += 1
                counts["leftover"] += leftover
        for n in OUTCOMES:
            totals[n] += counts[n]
        print(f"{fmt}: {args.runs} runs over {len(files)} files: " + ", ".join(f"{n} {counts[n]}" for n in OUTCOMES), flush=True)
    print("total: " + ", ".join(f"{n} {totals[n]}" for n in OUTCOMES))
    sys.exit(1 if any(totals[n] for n in ("long", "hang", "crash", "leftover")) else 0)


if __name__ == "__main__":
    main()
