"""The whole reply per message (safety check, small talk, matcher with the embedding model, reply),
on every message of the dev set and the blind sets, plus long messages up to 1,600 characters.

    .venv/bin/python benchmarks/latency.py

Prints the time to build the bot from nothing (a first start: every phrasing embedded and the
matcher's models trained, in a child process, with its peak RSS) and again with those cached (what a
restart does), p50/p99/max milliseconds per message by length, and the peak RSS (VmHWM) of the
process that answered: a restarted server's.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def messages() -> list[str]:
    sets = ROOT / "benchmarks" / "sets"
    paths = [ROOT.parent / "shared" / "eval" / "dev.jsonl",
             *(sets / f"{kind}-blind-{n}.jsonl" for kind in ("questions", "crisis") for n in (1, 2))]
    found = [json.loads(line)["q"] for p in paths if p.exists() for line in p.open(encoding="utf-8") if line.strip()]
    rng = random.Random(1)
    long = []
    for _ in range(200):  # stories of 1,000-1,600 characters made of real messages
        text = ""
        while len(text) < rng.randint(1000, 1600):
            text += " " + rng.choice(found)
        long.append(text[:1600])
    return found + long


def first_start() -> tuple[float, float]:
    """Seconds and peak MB of building the bot from nothing, in a child process (the cache it fills is
    this process's)."""
    script = ("import sys, time; sys.path.insert(0, sys.argv[1]); start = time.perf_counter(); "
              "from bot.signpost import build_replies; build_replies(); seconds = time.perf_counter() - start; "
              "from benchmarks.latency import peak_rss_mb; print(seconds, peak_rss_mb())")
    done = subprocess.run([sys.executable, "-c", script, str(ROOT)], capture_output=True, text=True, check=True)
    seconds, peak = done.stdout.split()[-2:]
    return float(seconds), float(peak)


def main() -> int:
    # --restart-only: the timings alone, with SIGNPOST_CACHE_DIR's cache if set (a quicker run
    # while working on speed; the first start's figures need the full run).
    restart_only = "--restart-only" in sys.argv[1:]
    if not (restart_only and os.environ.get("SIGNPOST_CACHE_DIR")):
        os.environ["SIGNPOST_CACHE_DIR"] = tempfile.mkdtemp()
    cold, cold_peak = first_start() if not restart_only else (float("nan"), float("nan"))
    start = time.perf_counter()
    from bot.signpost import build_replies
    replies = build_replies()
    warm = time.perf_counter() - start
    texts = messages()
    timings: list[tuple[int, float]] = []
    for text in texts:
        begin = time.perf_counter()
        replies.respond(text)
        timings.append((len(text), (time.perf_counter() - begin) * 1000))
    print(f"build: {cold:.1f} s from nothing (imports, models, embedding every phrasing; peak RSS "
          f"{cold_peak:.0f} MB), {warm:.1f} s with the cache it left (a restart)")
    for label, low, high in (("all", 0, 10**9), ("< 200 chars", 0, 200), ("200-999", 200, 1000),
                             ("1,000-1,600", 1000, 1601)):
        ms = sorted(t for n, t in timings if low <= n < high)
        if ms:
            print(f"{label:>12}: {len(ms):5} messages  p50 {statistics.median(ms):6.1f} ms  "
                  f"p99 {ms[int(0.99 * (len(ms) - 1))]:6.1f} ms  max {ms[-1]:6.1f} ms")
    print(f"peak RSS of the restarted bot after every message: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
