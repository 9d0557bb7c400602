"""knowledge/learned.yaml: the phrasings editors added from the unanswered list.

The loader reads it like any knowledge file (`phrasings: {entry-id: [question, ...]}`)
and adds the questions to their entries. A change is written only if the knowledge
directory with it passes `kb check`'s error checks (bot/checks.py, the same code), and
then atomically (a temporary file and os.replace), so the running bot and the next
start never see a half-written or invalid file. One change at a time (a lock file).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import yaml

from ..checks import check_knowledge
from ..knowledge import LEARNED_FILE, KnowledgeError, read_yaml

Phrasings = dict[str, list[str]]
HEADER = """\
# Phrasings added by editors from the unanswered questions (the editors' page, or
# `python main.py editors add-phrasing`). Each question is one more way of asking the
# entry with that id. The texts were redacted before they were stored. Reviewed like any
# knowledge file: you may edit or delete lines here, then run `kb check` and `kb reload`.
"""


@dataclass
class Change:
    written: bool
    problems: list[str] = field(default_factory=list)  # kb check's errors: why nothing was written
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def learned_path(knowledge_dir: Path) -> Path:
    return knowledge_dir / LEARNED_FILE


def read_phrasings(knowledge_dir: Path) -> Phrasings:
    """The file's phrasings by entry; empty when there is no file yet."""
    path = learned_path(knowledge_dir)
    if not path.exists():
        return {}
    data = read_yaml(path) or {}
    raw = data.get("phrasings") if isinstance(data, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k): [str(q) for q in v] for k, v in raw.items() if k != "__line__" and isinstance(v, list)}


def render(phrasings: Phrasings) -> str:
    kept = {entry: questions for entry, questions in sorted(phrasings.items()) if questions}
    return HEADER + yaml.safe_dump({"phrasings": kept}, sort_keys=False, allow_unicode=True, width=100)


@contextmanager
def _one_at_a_time(knowledge_dir: Path) -> Iterator[None]:
    # Beside the system's temporary files, not in the knowledge folder, which editors keep under version control.
    name = hashlib.sha256(str(knowledge_dir.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"signpost-learned-{name}.lock", "a", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def problems_with(knowledge_dir: Path, text: str, topics: Path | None) -> list[str]:
    """kb check's errors for the knowledge directory with `text` as learned.yaml, checked in a copy."""
    with tempfile.TemporaryDirectory(prefix="signpost-check-") as scratch:
        copy = Path(scratch) / "knowledge"
        shutil.copytree(knowledge_dir, copy, ignore=shutil.ignore_patterns(".*", LEARNED_FILE, "*.md"))
        (copy / LEARNED_FILE).write_text(text, encoding="utf-8")
        report = check_knowledge(copy, topics, questions=False)
        return [line.replace(str(copy), str(knowledge_dir)) for line in report.errors]


def _write_atomically(path: Path, text: str) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".learned-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def change(knowledge_dir: Path, update: Callable[[Phrasings], Phrasings], topics: Path | None = None) -> Change:
    """Apply `update` to the file's phrasings; write only if kb check finds no errors."""
    with _one_at_a_time(knowledge_dir):
        try:
            before = read_phrasings(knowledge_dir)
        except KnowledgeError as exc:
            return Change(False, exc.problems)
        after = update({k: list(v) for k, v in before.items()})
        old = {(k, q) for k, qs in before.items() for q in qs}
        new = {(k, q) for k, qs in after.items() for q in qs}
        result = Change(False, added=[q for k, q in sorted(new - old)], removed=[q for k, q in sorted(old - new)])
        if old == new:
            return result
        text = render(after)
        result.problems = problems_with(knowledge_dir, text, topics)
        if not result.problems:
            _write_atomically(learned_path(knowledge_dir), text)
            result.written = True
        return result


def adding(entry_id: str, questions: list[str]) -> Callable[[Phrasings], Phrasings]:
    def update(phrasings: Phrasings) -> Phrasings:
        kept = phrasings.setdefault(entry_id, [])
        kept.extend(q for q in dict.fromkeys(questions) if q not in kept)
        return phrasings
    return update


def removing(entry_id: str, questions: list[str]) -> Callable[[Phrasings], Phrasings]:
    def update(phrasings: Phrasings) -> Phrasings:
        phrasings[entry_id] = [q for q in phrasings.get(entry_id, []) if q not in questions]
        return phrasings
    return update
