"""Group commit: concurrent writers' work committed together in one transaction.

Each webhook submits its rows and waits. One flush at a time takes everything that is
waiting and writes it in a single transaction (one fsync, one trip to the database), then
answers every waiter; what arrives during a flush goes in the next one. Nobody is answered
before the transaction that holds their rows has committed, and a failed flush fails
every waiter in it (each then answers from memory and /healthz reports the failure).
"""
from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, Generic, Sequence, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
MAX_BATCH = 256  # a bound on one transaction's size; more simply waits for the next flush


class GroupCommit(Generic[Item, Result]):
    def __init__(self, flush: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
                 max_batch: int = MAX_BATCH) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flusher: asyncio.Task | None = None
        self.batches = 0  # how many transactions, for the benchmark and the tests
        self.items = 0

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._run())
        return await asyncio.shield(future)  # a cancelled request must not cancel the others' flush

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let the requests already running reach submit() and join this batch
        while self._waiting:
            batch, self._waiting = self._waiting[:self._max_batch], self._waiting[self._max_batch:]
            try:
                results = await self._flush([item for item, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiter hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("flush cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            self.batches += 1
            self.items += len(batch)
            for (_, future), result in zip(batch, results):
                if not future.done():
                    future.set_result(result)

    async def drain(self) -> None:
        """Wait for the flush in progress (closing the store)."""
        if self._flusher is not None and not self._flusher.done():
            await asyncio.wait([self._flusher], timeout=30)
