"""Sentence vectors of logged questions, kept in the log so each question is embedded once.

The sentence model costs about 5-15 ms a text: 10,000 questions would take over a minute
every time the page opened. Vectors live in `question_vectors`, keyed by the message (so
erasing a message, by FORGET or the purge, erases its vector too) and by the model's
checksum (so a rebuilt model never reads old vectors). Stored as float16: 768 bytes each.

The kept vectors are read before grouping and the new ones written after it, both through
the store (bot/store.py), so the grouping itself (in a worker thread) never touches the log.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..semantic import DIMENSIONS, Encoder
from ..store import Store
from .reports import LoggedQuestion

BATCH = 500  # rows per SELECT ... IN (...), well under either database's limit on parameters
# Only for a message still in this council's log: one erased meanwhile gets no vector (and no foreign-key error).
KEEP = ("INSERT INTO question_vectors (message_id, model, vector) SELECT id, ?, ? FROM messages"
        " WHERE id = ? AND tenant = ? ON CONFLICT (message_id) DO UPDATE SET model = excluded.model,"
        " vector = excluded.vector")


def model_tag(encoder: Encoder) -> str:
    return str(encoder.info.get("sha256", {}).get("minilm-int8.onnx", "minilm"))[:16]


@dataclass
class QuestionVectors:
    """The grouping's `embed`: kept vectors where the log has them, the rest embedded on call and noted to keep."""

    encoder: Encoder
    tag: str
    kept: dict[int, np.ndarray]
    fresh: list[tuple[int, bytes]] = field(default_factory=list)

    def __call__(self, questions: Sequence[LoggedQuestion]) -> np.ndarray:
        """One unit vector per question."""
        missing = [q for q in questions if q.id not in self.kept]
        if missing:
            new = self.encoder.embed([q.text for q in missing]).astype(np.float16)  # as kept: the next run groups alike
            self.kept.update({q.id: vector.astype(np.float32) for q, vector in zip(missing, new)})
            self.fresh.extend((q.id, new[i].tobytes()) for i, q in enumerate(missing))
        if not questions:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        out = np.stack([self.kept[q.id] for q in questions])
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    async def keep(self, log: Store) -> None:
        """Write the vectors embedded since the last keep."""
        rows = [(self.tag, blob, message_id, log.tenant) for message_id, blob in self.fresh]
        self.fresh = []
        if rows:
            async with log.transaction() as tx:
                await tx.executemany(KEEP, rows)


async def kept_vectors(log: Store, encoder: Encoder, questions: Sequence[LoggedQuestion]) -> QuestionVectors:
    """The vectors the log already holds for these questions, under this model."""
    tag = model_tag(encoder)
    ids = [q.id for q in questions]
    kept: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        rows = await log.read(f"SELECT message_id, vector FROM question_vectors WHERE model = ? AND message_id IN "
                              f"({','.join('?' * len(chunk))})", tag, *chunk)  # noqa: S608 (placeholders only)
        kept.update({int(i): np.frombuffer(blob, dtype=np.float16).astype(np.float32) for i, blob in rows})
    return QuestionVectors(encoder, tag, kept)
