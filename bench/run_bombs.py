#!/usr/bin/env python3
"""Runs the bombs of bench/make_bombs.py (see bench/bombs.sh): python3 bench/run_bombs.py ZOO DIR.
Prints a markdown table; exits 1 if a bomb was not handled as expected (wrong outcome, a crash,
more than one error line, files left behind)."""
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

zoo, files = sys.argv[1], Path(sys.argv[2])
bombs = json.loads((files / "bombs.json").read_text())
print("| bomb | file size | outcome | exit | peak RSS | wall | left on disk | message |")
print("|---|---|---|---|---|---|---|---|")
bad = 0
for b in bombs:
    with tempfile.TemporaryDirectory(prefix="zoo-bomb-") as tmp:
        tmp = Path(tmp)
        work, scratch = tmp / "work", tmp / "tmp"
        work.mkdir(), scratch.mkdir()
        out = work / "out.zoo"
        args = [a.replace("{file}", str(files / b["file"])).replace("{out}", str(out)) for a in b["args"]]
        env = {"PATH": "/usr/bin:/bin", "TMPDIR": str(scratch), "ZOO_HOME": str(tmp / "home"), "HOME": str(tmp)}
        try:
            p = subprocess.run(["/usr/bin/time", "-v", zoo] + args, capture_output=True, text=True, errors="replace",
                               timeout=600, env=env)
            status = p.returncode
        except subprocess.TimeoutExpired:
            print(f"| {b['name']} | | **hang** | | | | | |")
            bad += 1
            continue
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
        wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", p.stderr).group(1)
        mm, ss = wall.rsplit(":", 1)
        seconds = float(ss) + 60 * float(mm.split(":")[-1]) + (3600 * float(mm.split(":")[0]) if mm.count(":") else 0)
        errors = [l for l in p.stderr.splitlines() if l.startswith("zoo: error:")]
        others = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith(("zoo:", "\t", "Command exited"))]
        # zoo writes the output beside itself (out.zoo, .out.zoo.tmp-*); a worker extracts into TMPDIR.
        left = sorted(q.name for q in work.iterdir() if not (status == 0 and q.name.startswith("out.zoo")))
        left += sorted(f"$TMPDIR/{q.name}" for q in scratch.iterdir())
        outcome = "ok" if status == 0 else "refused" if 64 <= status <= 68 and len(errors) == 1 and not others else "crash"
        good = outcome == b["expect"] and not left
        bad += not good
        msg = errors[0][len("zoo: error: "):] if errors else (others[0] if others else "")
        msg = msg.replace(str(files) + "/", "").replace("|", "\\|")
        if len(msg) > 180:
            msg = msg[:180] + "…"
        size = (files / b["file"]).stat().st_size
        print(f"| {b['name']}: {b['what']} | {size:,} B | {outcome}{'' if good else ' **(expected ' + b['expect'] + ')**'} | {status} | "
              f"{rss / 1024:.0f} MiB | {seconds:.2f} s | {', '.join(left) if left else 'nothing'} | {msg} |", flush=True)
sys.exit(1 if bad else 0)
