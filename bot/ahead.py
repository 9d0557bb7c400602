"""Results worked out ahead of time on another thread, kept for the last few texts.

A reply reads a message on a background thread (the model and numpy's products run without
Python's lock) while the crisis rules and the word scores, which hold it, run on the caller's.
`functools.lru_cache` alone cannot do that: a caller asking for a text still being worked out
would work it out a second time. Here it waits for the work already started instead.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import Executor, Future
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
# Set on a thread while it works a text out ahead: such work never waits for work queued behind it
# on the same executor (with one thread, that would wait for ever); it works that text out itself.
_working_ahead = threading.local()


class Ahead(Generic[T]):
    """`compute(text)`, started early with start() or worked out on demand by get(), and kept for
    the `size` texts used last. Thread-safe."""

    def __init__(self, compute: Callable[[str], T], size: int) -> None:
        self._compute = compute
        self._size = size
        self._done: OrderedDict[str, T] = OrderedDict()
        self._pending: dict[str, Future[T]] = {}
        self._lock = threading.Lock()

    def start(self, text: str, executor: Executor) -> None:
        """Work a text out on `executor` and return at once; nothing if it is known or on its way."""
        with self._lock:
            if text in self._done or text in self._pending:
                return
            self._pending[text] = executor.submit(self._run_ahead, text)

    def get(self, text: str) -> T:
        """The result for a text: kept, being worked out (then waited for) or worked out now."""
        with self._lock:
            if text in self._done:
                self._done.move_to_end(text)
                return self._done[text]
            pending = self._pending.get(text)
        if pending is not None and (pending.done() or not getattr(_working_ahead, "busy", False)):
            return pending.result()
        return self._run(text)

    def peek(self, text: str) -> T | None:
        """The result if it is already kept, without waiting or working anything out."""
        with self._lock:
            return self._done.get(text)

    def pending(self) -> int:
        """How many texts are being worked out on another thread."""
        with self._lock:
            return len(self._pending)

    def clear(self) -> None:
        """Forget every kept result (work under way still finishes, and is kept)."""
        with self._lock:
            self._done.clear()

    def _run_ahead(self, text: str) -> T:
        _working_ahead.busy = True
        try:
            return self._run(text)
        finally:
            _working_ahead.busy = False

    def _run(self, text: str) -> T:
        try:
            value = self._compute(text)
            with self._lock:
                remember(self._done, text, value, self._size)
            return value
        finally:
            with self._lock:
                self._pending.pop(text, None)


def remember(cache: OrderedDict, key: str, value: object, size: int) -> None:
    """Keep a value in a least-recently-used cache of this size (the caller holds its lock)."""
    cache[key] = value
    if len(cache) > size:
        cache.popitem(last=False)
