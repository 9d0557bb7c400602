"""Sentence vectors of logged questions, kept in the log so each question is embedded once.

The sentence model costs about 5-15 ms a text: 10,000 questions would take over a minute
every time the page opened. Vectors live in `question_vectors`, keyed by the message (so
erasing a message, by FORGET or the purge, erases its vector too) and by the model's
checksum (so a rebuilt model never reads old vectors). Stored as float16: 768 bytes each.
"""
from __future__ import annotations

import sqlite3
from typing import Sequence

import numpy as np

from ..semantic import DIMENSIONS, Encoder
from .reports import LoggedQuestion, has_table

BATCH = 500  # rows per SELECT ... IN (...), under SQLite's variable limit


def model_tag(encoder: Encoder) -> str:
    return str(encoder.info.get("sha256", {}).get("minilm-int8.onnx", "minilm"))[:16]


def _cached(db: sqlite3.Connection, ids: list[int], tag: str) -> dict[int, np.ndarray]:
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = db.execute(f"SELECT message_id, vector FROM question_vectors WHERE model = ? AND message_id IN "
                          f"({','.join('?' * len(chunk))})", (tag, *chunk))  # noqa: S608 (placeholders only)
        for message_id, blob in rows:
            found[message_id] = np.frombuffer(blob, dtype=np.float16).astype(np.float32)
    return found


def question_vectors(db: sqlite3.Connection, encoder: Encoder, questions: Sequence[LoggedQuestion]) -> np.ndarray:
    """One unit vector per question: from the log where kept, else embedded now and kept.

    `db` must be writable; a read-only one gets vectors without keeping them."""
    tag = model_tag(encoder)
    ids = [q.id for q in questions]
    kept = _cached(db, ids, tag) if has_table(db, "question_vectors") else {}
    missing = [q for q in questions if q.id not in kept]
    if missing:
        fresh = encoder.embed([q.text for q in missing]).astype(np.float16)  # as kept: the next run groups alike
        kept.update({q.id: vector.astype(np.float32) for q, vector in zip(missing, fresh)})
        _keep(db, [(q.id, tag, fresh[i].tobytes()) for i, q in enumerate(missing)])
    if not questions:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    out = np.stack([kept[i] for i in ids])
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _keep(db: sqlite3.Connection, rows: list[tuple[int, str, bytes]]) -> None:
    try:
        with db:
            db.executemany("INSERT OR REPLACE INTO question_vectors (message_id, model, vector) VALUES (?, ?, ?)",
                           rows)
    except sqlite3.DatabaseError:  # read-only, an old log without the table, a message just erased
        pass
