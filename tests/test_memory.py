"""Freed memory handed back after loading (bot/memory.py)."""
from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

from bot.memory import _libc, release_freed_memory


def _rss_kb() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_freed_small_blocks_go_back_to_the_system() -> None:
    assert _libc() is not None
    # Like a matcher's build: many small blocks, most dropped, a few kept among them.
    blocks = [np.ones(512, dtype=np.float32) for _ in range(60_000)]  # 2 KB each, from glibc's heap
    kept = blocks[::200]
    del blocks
    before = _rss_kb()
    release_freed_memory()
    after = _rss_kb()
    assert len(kept) == 300
    assert after < before - 20_000, (before, after)  # most of the 120 MB dropped was still counted


def test_it_is_safe_to_call_again() -> None:
    release_freed_memory()
    release_freed_memory()


def test_the_bot_never_imports_scikit_learn() -> None:
    """Importing any of sklearn loads scipy.stats and the whole package: 64 MB of the 400 MB budget. The bot
    reads its n-grams with its own analyzers (bot/ngrams.py); only training (bot/meaning.py, on a first start)
    and an editor grouping questions (bot/editors/grouping.py) may import it. Checked in a fresh interpreter,
    since the tests themselves use sklearn."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    # Every module of the bot, the editors' page and the channels: what a server imports as it starts.
    modules = sorted(".".join(p.relative_to(root).with_suffix("").parts) for p in (root / "bot").rglob("*.py")
                     if p.stem != "__init__")
    script = f"import sys, {', '.join(modules)}; print(sorted(m for m in sys.modules if m.startswith('sklearn')))"
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
