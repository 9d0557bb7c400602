"""The console channel: chat in a terminal, or pipe messages in one per line."""
from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from ..messages import Incoming
from ..plain import render
from ..signpost import Signpost

PROMPT = "you> "
# Typed at a terminal these are commands, not questions: never answered, never logged.
QUIT_WORDS = frozenset({"exit", "quit", "q", ":q"})
CLEAR_WORDS = frozenset({"clear", "cls"})


async def _read_line(stream: TextIO, interactive: bool) -> str | None:
    if interactive:
        try:
            return await asyncio.to_thread(input, PROMPT)
        except EOFError:
            return None
    line = await asyncio.to_thread(stream.readline)
    return line if line else None


async def run_console(bot: Signpost, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    interactive = stdin.isatty()
    if interactive:
        print("SEND Signpost: ask about support for a child with SEND in Herefordshire. "
              "Type exit (or Ctrl-D) to quit.\n", file=stdout)
    sender = bot.key("console", "local")
    while (line := await _read_line(stdin, interactive)) is not None:
        text = line.rstrip("\r\n")
        if not interactive and not text.strip():
            continue
        command = text.strip().lower()
        if command in QUIT_WORDS:
            break
        if command in CLEAR_WORDS:
            if interactive:
                print("\033[2J\033[H", end="", file=stdout, flush=True)
            continue
        reply = await bot.conversation.handle(Incoming("console", sender, text))
        print(render(reply), file=stdout)
        print("-" * 40, file=stdout, flush=True)
    return 0
