"""The command line: `python main.py [command]`. Each command is a thin shell over bot/."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from .config import ConfigError, Settings
from .files import private_umask
from .knowledge import BUNDLED_DIR, KnowledgeError

DEFAULT_TOPICS = Path(__file__).resolve().parent.parent.parent / "shared" / "topics.yaml"


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes = {}
    if getattr(args, "db", None):
        from .store import is_postgres_url, sqlite_path

        if is_postgres_url(args.db):
            changes["db_url"] = args.db
        else:
            changes["db_path"], changes["db_url"] = sqlite_path(args.db), None
    if getattr(args, "kb", None):
        changes["knowledge_dir"] = Path(args.kb)
    return dataclasses.replace(settings, **changes)


# ------------------------------------------------------------------ commands

def cmd_chat(args: argparse.Namespace) -> int:
    from .channels.console import run_console
    from .signpost import open_signpost

    async def main() -> int:
        bot = await open_signpost(_settings(args))
        try:
            return await run_console(bot)
        finally:
            await bot.close()

    return asyncio.run(main())


def cmd_ask(args: argparse.Namespace) -> int:
    """One question, answered and logged as the console chat logs it: an unanswered one reaches the
    editors, as the reply says it does."""
    from .channels.console import render
    from .messages import Incoming
    from .signpost import open_signpost

    async def main() -> int:
        bot = await open_signpost(_settings(args))
        try:
            incoming = Incoming("console", bot.key("console", "local"), " ".join(args.question))
            print(render(await bot.conversation.handle(incoming)))
        finally:
            await bot.close()
        return 0

    return asyncio.run(main())


def cmd_answer(args: argparse.Namespace) -> int:
    from .batch import answer_lines
    from .signpost import build_replies

    replies = build_replies(Path(args.kb) if args.kb else None)
    answer_lines(replies, sys.stdin, sys.stdout)
    return 0


def cmd_kb_check(args: argparse.Namespace) -> int:
    from .checks import check_knowledge

    topics = Path(args.topics) if args.topics else (DEFAULT_TOPICS if not args.kb else None)
    report = check_knowledge(Path(args.kb) if args.kb else BUNDLED_DIR, topics)
    for line in report.errors:
        print(f"ERROR   {line}")
    for line in report.warnings:
        print(f"warning {line}")
    if args.verbose:
        for entry_id, ease in sorted(report.readability.items(), key=lambda item: item[1]):
            print(f"reading ease {ease:5.1f}  {entry_id}")
    if report.unchecked:
        print(f"\nTo check before launch ({len(report.unchecked)}):")
        for line in report.unchecked:
            print(f"  - {line}")
    print(f"\n{len(report.errors)} errors, {len(report.warnings)} warnings")
    return 0 if report.ok else 1


def cmd_kb_reload(args: argparse.Namespace) -> int:
    from .reload import request_reload

    return request_reload(_settings(args))


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    from .startup import startup_line

    settings = _settings(args)
    host, port = args.host or settings.host, settings.port if args.port is None else args.port
    settings.check()  # a configuration that cannot start says so before the line says what runs
    print(startup_line(settings, f"server on http://{host}:{port}"), file=sys.stderr, flush=True)
    return serve(settings, host=host, port=port)


def cmd_purge(args: argparse.Namespace) -> int:
    from .startup import without_credentials
    from .store import open_store

    settings = _settings(args)
    days = args.days if args.days is not None else settings.retention_days

    async def main() -> int:
        store = await open_store(settings.database)
        try:
            removed = await store.purge(days)
        finally:
            await store.close()
        print(f"removed {removed} rows older than {days} days from {without_credentials(settings.database)}")
        return 0

    return asyncio.run(main())


def cmd_editors(args: argparse.Namespace) -> int:
    from .editors import commands

    return commands.run(args, _settings(args))


def cmd_default(args: argparse.Namespace) -> int:
    """Run whatever is configured: the server, Telegram polling, or the console chat."""
    settings = _settings(args)
    if settings.twilio_auth_token or (settings.public_base_url and settings.telegram_token):
        return cmd_serve(argparse.Namespace(**vars(args), host=None, port=None))  # SIGNPOST_HOST, default 127.0.0.1
    if settings.telegram_token:
        from .channels.telegram import run_polling

        return run_polling(settings)
    return cmd_chat(args)


# ------------------------------------------------------------------ parser

def _common(parser: argparse.ArgumentParser, db: bool = True, kb: bool = True, top: bool = False) -> None:
    # On a sub-command the default is "not given", so `main.py --kb DIR answer` keeps the DIR.
    default = None if top else argparse.SUPPRESS
    if db:
        parser.add_argument("--db", metavar="PATH", default=default,
                            help="SQLite log file (default: $SIGNPOST_DB or data/signpost.sqlite3)")
    if kb:
        parser.add_argument("--kb", metavar="DIR", default=default,
                            help="knowledge directory to load instead of the bundled one")


def _add(sub: argparse._SubParsersAction, name: str, func: Callable, help: str, **kw) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help, **kw)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description="SEND Signpost: SEND support answers for families.")
    _common(parser, top=True)
    parser.set_defaults(func=cmd_default)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    _common(_add(sub, "chat", cmd_chat, "chat in the terminal (or pipe one message per line)"))
    ask = _add(sub, "ask", cmd_ask, "answer one question, log it as the chat does, and exit")
    ask.add_argument("question", nargs="+")
    _common(ask)
    answer = _add(sub, "answer", cmd_answer, "answer questions from stdin as JSON lines; logs nothing")
    answer.add_argument("--jsonl", action="store_true", required=True, help="one JSON object per line in and out")
    _common(answer, db=False)

    kb = _add(sub, "kb", lambda a: kb.print_help() or 2, "check or reload the knowledge base")
    kb_sub = kb.add_subparsers(title="kb commands", metavar="COMMAND")
    check = _add(kb_sub, "check", cmd_kb_check, "validate the knowledge files and list editors' warnings")
    check.add_argument("--topics", metavar="FILE", help="required topics (default: ../shared/topics.yaml)")
    check.add_argument("-v", "--verbose", action="store_true", help="also print each answer's reading ease")
    _common(check, db=False)
    _common(_add(kb_sub, "reload", cmd_kb_reload, "tell the running server to re-read the knowledge files"))

    serve = _add(sub, "serve", cmd_serve, "run the web server: Telegram and Twilio webhooks, health check, editors' page")
    serve.add_argument("--host", help="address to listen on (default: $SIGNPOST_HOST or 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, help="port (default: $SIGNPOST_PORT or 8000)")
    _common(serve)

    purge = _add(sub, "purge", cmd_purge, "delete log rows older than the retention period")
    purge.add_argument("--days", type=int, help="retention in days (default: $SIGNPOST_RETENTION_DAYS or 90)")
    _common(purge, kb=False)

    editors = _add(sub, "editors", cmd_editors, "editors' reports (unanswered, feedback, stats, suggest) "
                   "and triage (add-phrasing, out-of-scope, not-send, dismiss, needs-answer, undo, actions)")
    editors.add_argument("report", choices=["unanswered", "feedback", "stats", "suggest", "password-hash",
                                            "add-phrasing", "out-of-scope", "not-send", "dismiss", "needs-answer",
                                            "undo", "actions"])
    editors.add_argument("ids", nargs="*", metavar="ID",
                         help="triage: GROUP_ID [ENTRY_ID] (add-phrasing GROUP ENTRY, out-of-scope GROUP [ENTRY]); "
                              "undo ACTION_ID")
    editors.add_argument("--include-out-of-scope", action="store_true",
                         help="unanswered: also what out-of-scope entries caught, and the gaps kept for a new answer")
    editors.add_argument("--by", metavar="NAME", help="triage: who is acting, for the record (default: your user name)")
    editors.add_argument("--since", default="30d", help="how far back: 7d, 4w, or a date YYYY-MM-DD (default 30d)")
    editors.add_argument("--csv", metavar="FILE", help="write the report as CSV")
    editors.add_argument("--json", action="store_true", help="print the report as JSON")
    editors.add_argument("--out", metavar="FILE", help="suggest: where to write the YAML (default suggestions.yaml)")
    editors.add_argument("--tenant", metavar="ID", help="with SIGNPOST_TENANTS: the council whose log and knowledge")
    _common(editors)
    return parser


def _tolerant_streams() -> None:
    """Bytes that are not UTF-8 on stdin (or in a reply) become U+FFFD, not a UnicodeError traceback."""
    for stream in (sys.stdin, sys.stdout):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _tolerant_streams()
    private_umask()  # the log, reports and exports hold families' questions: for this user only
    quiet = args.func in (cmd_chat, cmd_ask, cmd_answer, cmd_kb_check, cmd_editors) or args.func is cmd_default
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KnowledgeError as exc:
        print("The knowledge files have problems; the bot will not start until they are fixed:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("The configuration is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
