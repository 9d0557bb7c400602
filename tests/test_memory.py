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
