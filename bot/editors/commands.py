"""`python main.py editors unanswered|feedback|stats|suggest|password-hash`.

Each report prints a readable table by default, JSON with --json, or writes CSV with
--csv FILE. `suggest` writes a YAML file for an editor to review: it never touches the
knowledge files, because only an editor decides what the bot says.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import sys
from pathlib import Path
from typing import Callable, TextIO

import yaml

from ..config import Settings
from ..knowledge import BUNDLED_DIR
from ..matcher import Matcher
from ..store import Store
from ..text import STOPWORDS, fold
from . import triage_cli
from .auth import hash_password
from .council_log import council, opened_log
from .grouping import Group
from .spreadsheet import safe_row
from .reports import EntryFeedback, ReportError, WeekStats, feedback_report, parse_since, weekly_stats
from .triage import TriageError
from .triage_cli import Command

DEFAULT_SUGGESTIONS = Path("suggestions.yaml")


def run(args: argparse.Namespace, settings: Settings) -> int:
    commands: dict[str, Command] = {
        "unanswered": unanswered, "feedback": feedback, "stats": stats, "suggest": suggest, **triage_cli.COMMANDS,
    }
    if args.report not in triage_cli.COMMANDS and getattr(args, "ids", None):
        print(f"editors {args.report} takes no ids (got {' '.join(args.ids)})", file=sys.stderr)
        return 2
    try:
        if args.report == "password-hash":
            return password_hash(args, settings)
        settings, tenant = council(settings, getattr(args, "tenant", None))
        return asyncio.run(_with_log(commands[args.report], args, settings, tenant))
    except (ReportError, TriageError) as exc:
        print(exc, file=sys.stderr)
        return 1


async def _with_log(command: Command, args: argparse.Namespace, settings: Settings, tenant: str) -> int:
    async with opened_log(settings, tenant) as log:
        return await command(args, settings, log)


# ------------------------------------------------------------------ building the reports

def _matcher(settings: Settings) -> Matcher:
    from ..signpost import build_replies  # loads and validates the knowledge base

    return build_replies(settings.knowledge_dir).matcher


async def unanswered_groups(settings: Settings, log: Store, since: str, matcher: Matcher | None = None,
                            caught: bool = False) -> list[Group]:
    """The questions waiting for an editor and the gaps kept for a new answer (and, with `caught`,
    what out-of-scope entries caught), grouped; triaged questions and noise are left out."""
    sections = ("unanswered", "gaps", "caught") if caught else ("unanswered", "gaps")
    found = await triage_cli.desk(settings, log, matcher).groups(since, sections)
    return [group for section in sections for group in found[section]]


async def _feedback(settings: Settings, log: Store, since: str) -> list[EntryFeedback]:
    rows = await feedback_report(log, parse_since(since))
    knowledge = _matcher(settings).knowledge
    for row in rows:
        entry = knowledge.entry(row.topic)
        row.title = entry.title if entry else None
    return rows


async def _stats(log: Store, since: str) -> list[WeekStats]:
    return await weekly_stats(log, parse_since(since))


# ------------------------------------------------------------------ output

def _emit(args: argparse.Namespace, records: list[dict], header: list[str], row: Callable[[dict], list],
          table: Callable[[list[dict], TextIO], None]) -> int:
    if args.json:
        json.dump(records, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    elif args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(safe_row(row(record)) for record in records)  # no formulas from texts
        print(f"wrote {len(records)} rows to {args.csv}", file=sys.stderr)
    else:
        table(records, sys.stdout)
    return 0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


UNANSWERED_CSV = ["id", "section", "count", "first_seen", "last_seen", "channels", "nearest_topic", "nearest_score", "examples"]


async def unanswered(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    groups = [g.as_dict() for g in await unanswered_groups(settings, log, args.since,
                                                           caught=args.include_out_of_scope)]
    return _emit(args, groups, UNANSWERED_CSV, lambda g: [
        g["id"], g["section"], g["count"], g["first_seen"], g["last_seen"], ";".join(g["channels"]), g["nearest_topic"] or "",
        g["nearest_score"], " | ".join(g["examples"])], _unanswered_table)


def _unanswered_table(groups: list[dict], out: TextIO) -> None:
    if not groups:
        out.write("No unanswered questions in this period.\n")
        return
    out.write(f"{'group':<8} {'count':>5}  {'last seen':<10}  {'nearest entry (score)':<34}  examples\n")
    for g in groups:
        nearest = f"{g['nearest_topic']} ({g['nearest_score']:.2f})" if g["nearest_topic"] else "-"
        mark = {"gaps": " [gap]", "caught": f" [caught by {g['caught_by'] or 'an out-of-scope entry'}]"}.get(
            g["section"], "")
        out.write(f"{g['id']:<8} {g['count']:>5}  {g['last_seen'][:10]:<10}  {_clip(nearest, 34):<34}  "
                  f"{_clip(g['examples'][0], 60)}{mark}\n")
        for example in g["examples"][1:3]:
            out.write(f"{'':<8} {'':>5}  {'':<10}  {'':<34}  {_clip(example, 60)}\n")
    out.write("\nTriage a group: editors add-phrasing GROUP ENTRY | out-of-scope GROUP [ENTRY] | dismiss GROUP"
              " | needs-answer GROUP; editors undo ACTION\n")


FEEDBACK_CSV = ["topic", "title", "helpful", "not_helpful", "not_helpful_rate", "no_questions", "missing"]


async def feedback(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    rows = [r.as_dict() for r in await _feedback(settings, log, args.since)]
    return _emit(args, rows, FEEDBACK_CSV, lambda r: [
        r["topic"], r["title"] or "", r["helpful"], r["not_helpful"], r["not_helpful_rate"],
        " | ".join(r["no_questions"]), " | ".join(r["missing"])], _feedback_table)


def _feedback_table(rows: list[dict], out: TextIO) -> None:
    if not rows:
        out.write("No \"did this help?\" answers in this period.\n")
        return
    out.write(f"{'no':>4} {'yes':>4}  entry\n")
    for r in rows:
        out.write(f"{r['not_helpful']:>4} {r['helpful']:>4}  {r['topic']}  {r['title'] or ''}\n")
        for question in r["no_questions"]:
            out.write(f"{'':>11}\"no\" after: {_clip(question, 70)}\n")
        for said in r["missing"]:
            out.write(f"{'':>11}missing: {_clip(said, 70)}\n")


STATS_OUTCOMES = ("answer", "clarify", "unanswered", "smalltalk", "crisis")
STATS_CSV = ["week", "messages", *STATS_OUTCOMES, "questions", "answer_rate", "channels", "top_topics"]


async def stats(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    weeks = [w.as_dict() for w in await _stats(log, args.since)]
    return _emit(args, weeks, STATS_CSV, lambda w: [
        w["week"], w["messages"], *(w["outcomes"].get(o, 0) for o in STATS_OUTCOMES), w["questions"],
        "" if w["answer_rate"] is None else w["answer_rate"],
        ";".join(f"{k}={v}" for k, v in w["channels"].items()),
        ";".join(f"{k}={v}" for k, v in list(w["topics"].items())[:5])], _stats_table)


def _stats_table(weeks: list[dict], out: TextIO) -> None:
    if not weeks:
        out.write("No messages in this period.\n")
        return
    names = "".join(f"{o:>11}" for o in STATS_OUTCOMES)
    out.write(f"{'week':<9}{'messages':>9}{names}{'answer rate':>12}  channels\n")
    for w in weeks:
        counts = "".join(f"{w['outcomes'].get(o, 0):>11}" for o in STATS_OUTCOMES)
        rate = "-" if w["answer_rate"] is None else f"{w['answer_rate']:.0%}"
        channels = ", ".join(f"{k} {v}" for k, v in w["channels"].items())
        out.write(f"{w['week']:<9}{w['messages']:>9}{counts}{rate:>12}  {channels}\n")
    crisis = sum(w["crisis"] for w in weeks)
    out.write(f"\n{sum(w['messages'] for w in weeks)} messages, {crisis} crisis replies\n")


# ------------------------------------------------------------------ suggest

def suggestions(groups: list[Group], clarify_threshold: float) -> dict:
    """Close groups become proposed phrasings of their nearest entry; the rest, proposed new entries."""
    phrasings: dict[str, dict] = {}
    new_entries = []
    for group in groups:
        if group.nearest_topic and group.nearest_score >= clarify_threshold:
            item = phrasings.setdefault(group.nearest_topic, {
                "entry": group.nearest_topic, "title": group.nearest_title, "asked": 0, "add_questions": []})
            item["asked"] += group.count
            item["add_questions"] += [q for q in group.examples if q not in item["add_questions"]]
        else:
            new_entries.append({"id": draft_id(group.examples[0]), "title": "", "asked": group.count,
                                "questions": group.examples, "answer": "",
                                "nearest_topic": group.nearest_topic, "nearest_score": group.nearest_score})
    ordered = sorted(phrasings.values(), key=lambda item: -item["asked"])
    return {"phrasings": ordered, "new_entries": new_entries}


def draft_id(question: str) -> str:
    """A starting id from the question's meaningful words ("new-blue-badge-car"), for the editor to change."""
    words = [w for w in fold(question).split() if w not in STOPWORDS][:4]
    return "-".join(["new", *words])[:60]


SUGGEST_HEADER = """\
# Suggestions from the unanswered questions ({period}). Nothing here is live.
# Review each one: copy good phrasings into the entry's `questions` in knowledge/,
# and write new entries (id, title, questions, answer, sms, sources) for real gaps.
# Then run `python main.py kb check` and `python main.py kb reload`.
"""


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


async def suggest(args: argparse.Namespace, settings: Settings, log: Store) -> int:
    out = Path(args.out) if args.out else DEFAULT_SUGGESTIONS
    for knowledge_dir in {BUNDLED_DIR, settings.knowledge_dir or BUNDLED_DIR}:
        if _inside(out, knowledge_dir):
            raise ReportError(f"refusing to write into {knowledge_dir}: suggestions are for an editor to review")
    matcher = _matcher(settings)
    proposal = suggestions(await unanswered_groups(settings, log, args.since, matcher), matcher.thresholds.clarify)
    text = SUGGEST_HEADER.format(period=f"since {args.since}")
    text += yaml.safe_dump(proposal, sort_keys=False, allow_unicode=True, width=100)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {len(proposal['phrasings'])} entries with new phrasings and "
          f"{len(proposal['new_entries'])} proposed new entries to {out}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------ password-hash

def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Editors' password: ")
    if first != getpass.getpass("Again: "):
        raise ReportError("the two passwords differ")
    return first


def password_hash(args: argparse.Namespace, settings: Settings) -> int:
    password = _read_password()
    if len(password) < 12:
        raise ReportError("use a password of at least 12 characters (a few random words is good)")
    print(hash_password(password))
    print("Set it as SIGNPOST_EDITOR_PASSWORD_HASH (quote it in shell scripts).", file=sys.stderr)
    return 0
