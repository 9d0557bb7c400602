"""The shape of the code: the core knows nothing of channels."""
from __future__ import annotations

import ast
from pathlib import Path

CORE = ["messages", "knowledge", "text", "matcher", "smalltalk", "replies", "conversation", "contacts",
        "crisis", "redaction", "store", "batch", "gsm7"]
ADAPTERS = ("telegram", "twilio", "starlette", "uvicorn", "bot.channels", "channels")


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(("." * node.level) + (node.module or ""))
    return names


def test_core_imports_no_channel_or_web_library() -> None:
    """No core module imports a channel adapter, Telegram, Twilio or the web server."""
    bot = Path(__file__).resolve().parent.parent / "bot"
    for name in CORE:
        for imported in imports_of(bot / f"{name}.py"):
            assert not any(part in imported for part in ADAPTERS), f"bot/{name}.py imports {imported}"
