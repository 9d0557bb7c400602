"""Work started ahead on another thread (bot/ahead.py): done once, waited for, never deadlocked."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.ahead import Ahead


def test_a_text_started_ahead_is_worked_out_once_and_waited_for() -> None:
    release = threading.Event()
    calls: list[str] = []

    def slow_upper(text: str) -> str:
        calls.append(text)
        release.wait(5)
        return text.upper()

    ahead = Ahead(slow_upper, size=2)
    with ThreadPoolExecutor(1) as executor:
        ahead.start("ehcp", executor)
        ahead.start("ehcp", executor)  # joins the first
        assert ahead.pending() == 1 and ahead.peek("ehcp") is None
        threading.Timer(0.05, release.set).start()
        assert ahead.get("ehcp") == "EHCP"  # waits for the work under way, not a second run
    assert calls == ["ehcp"] and ahead.pending() == 0 and ahead.peek("ehcp") == "EHCP"


def test_only_the_last_texts_are_kept() -> None:
    calls: list[str] = []
    ahead = Ahead(lambda text: calls.append(text) or len(text), size=2)
    for text in ("a", "bb", "a", "ccc", "a", "bb"):
        ahead.get(text)
    assert calls == ["a", "bb", "ccc", "bb"]  # "bb" was the least recently used when "ccc" came


def test_work_ahead_never_waits_for_work_queued_behind_it() -> None:
    """On a one-thread executor, a job that needs a text whose own job is queued after it would wait
    for ever; it works that text out itself instead."""
    readings = Ahead(lambda text: f"read {text}", size=4)
    scores = Ahead(lambda text: f"scored {readings.get(text)}", size=4)
    executor = ThreadPoolExecutor(1)
    blocker = threading.Event()
    executor.submit(blocker.wait, 5)  # holds the thread while both jobs are queued
    scores.start("story", executor)  # queued first, needs the reading...
    readings.start("story", executor)  # ...queued after it
    blocker.set()
    got: list[str] = []
    waiter = threading.Thread(target=lambda: got.append(scores.get("story")), daemon=True)
    waiter.start()
    waiter.join(5)
    executor.shutdown(wait=False)  # a deadlocked thread must not hang the test run too
    assert got == ["scored read story"]


def test_a_failure_ahead_reaches_the_caller_and_leaves_nothing_pending() -> None:
    def broken(text: str) -> str:
        raise ValueError(text)

    ahead = Ahead(broken, size=2)
    with ThreadPoolExecutor(1) as executor:
        ahead.start("oops", executor)
        try:
            ahead.get("oops")
        except ValueError as error:
            assert str(error) == "oops"
        else:
            raise AssertionError("the failure was swallowed")
    assert ahead.pending() == 0 and ahead.peek("oops") is None
