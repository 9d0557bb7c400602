"""Derived files the bot can always rebuild: where they live, and how they are read and written.

What is cached is computed from the knowledge base and the bundled models only (phrasing
vectors, the matcher's trained weights), never from a conversation, so a lost or stale
file costs start-up time and nothing else. Each file is named after a checksum of what it
was computed from, so a changed input never reads an old file.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """SIGNPOST_CACHE_DIR (default `data`); empty means no cache at all."""
    value = os.environ.get("SIGNPOST_CACHE_DIR", "data")
    return Path(value) if value else None


def read_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """The arrays saved in a file; None if it is missing or unreadable (then the caller recomputes)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError, EOFError):
        return None


def write_arrays(path: Path, **arrays: np.ndarray) -> None:
    """Atomically (a reader never sees half a file); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(temp, path)
    except OSError as exc:
        log.warning("could not write the cache file %s: %s", path, exc)


def keep_newest(folder: Path, pattern: str, count: int) -> None:
    """Delete all but the newest `count` files matching the pattern: old knowledge bases' files."""
    try:
        found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[count:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not tidy the cache folder %s: %s", folder, exc)


def remembered(prefix: str, checksum: str, names: set[str],
               compute: Callable[[], dict[str, np.ndarray] | None]) -> dict[str, np.ndarray] | None:
    """Arrays computed from inputs with this checksum: read back when a file holds them, else computed
    and saved as `{prefix}-{checksum}.npz` (the newest 8 of a prefix kept: other knowledge bases',
    tests', an edit ago). `compute` may return None: nothing to keep."""
    folder = cache_dir()
    if folder is None:
        return compute()
    path = folder / f"{prefix}-{checksum[:24]}.npz"
    saved = read_arrays(path)
    if saved is not None and names <= saved.keys():
        return saved
    arrays = compute()
    if arrays is not None:
        write_arrays(path, **arrays)
        keep_newest(folder, f"{prefix}-*.npz", 8)
    return arrays


def packed_texts(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Texts as one UTF-8 buffer and where each ends. numpy's own string arrays are as wide as the
    longest text, in UCS-4: 8,300 phrasings, some of them long stories, made a 50 MB array at start-up
    (the encoder's cache), and the matcher's 88,686 feature names 12 MB."""
    encoded = [text.encode("utf-8") for text in texts]
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), np.cumsum([len(b) for b in encoded], dtype=np.int64)


def unpacked_texts(buffer: np.ndarray, ends: np.ndarray) -> list[str]:
    """The texts packed_texts packed."""
    raw = buffer.tobytes()
    starts = np.r_[0, ends[:-1]].tolist()
    return [raw[start:end].decode("utf-8") for start, end in zip(starts, ends.tolist())]
