"""`main.py answer --jsonl`: answer many questions, one JSON line each, logging nothing."""
from __future__ import annotations

import json
from typing import Iterable, TextIO

from .plain import render
from .replies import Replies


def question_of(line: str) -> str:
    """A line is a JSON object with "q", or plain text."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            value = json.loads(stripped)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: "{[[[[..." nested past the stack
            return stripped
        if isinstance(value, dict):
            return str(value.get("q", ""))
    return line.rstrip("\r\n")


def answer_lines(replies: Replies, lines: Iterable[str], out: TextIO) -> int:
    count = 0
    for line in lines:
        if not line.strip():
            continue
        question = question_of(line)
        reply = replies.respond(question)
        row = {"q": question, "outcome": reply.outcome, "topic": reply.topic,
               "options": list(reply.options), "score": round(reply.score, 4),
               "safety": reply.safety, "category": reply.category, "reply": render(reply)}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    out.flush()
    return count
