"""Load and validate a knowledge directory.

A knowledge directory holds YAML files. Each file is either a list of entries, or a
mapping with any of the keys `entries`, `services`, `lexicon`, `groups`, `areas`.
Files are read from the directory itself and from its `entries/` folder; `safety/`
belongs to the bot (the crisis rules) and is not part of a knowledge base.

Every problem is collected and reported together, each naming the file, the line and
the entry id, so an editor can fix a whole file in one pass.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import process

BUNDLED_DIR = Path(__file__).resolve().parent.parent / "knowledge"
MAX_FILE_BYTES = 2_000_000  # a hand-edited file is far smaller; refuse anything absurd quickly
MAX_DEPTH = 40  # an entry nests three or four levels; "[[[[..." 100,000 deep would exhaust the stack
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ENTRY_KEYS = {
    "id", "title", "questions", "answer", "sms", "sources", "related", "services",
    "reviewed", "needs_check", "kind",
}
ENTRY_KINDS = ("answer", "out-of-scope")
SERVICE_KEYS = {"id", "name", "about", "phone", "email", "web", "text", "hours", "source", "checked", "note"}
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FILE_KEYS = {"entries", "services", "lexicon", "groups", "areas", "phrasings"}
LEARNED_FILE = "learned.yaml"  # phrasings editors added from the unanswered list (bot/editors/learned.py)


class KnowledgeError(Exception):
    """The knowledge files are not valid; `problems` lists each one for the editor."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    questions: tuple[str, ...]
    answer: str
    sms: str | None = None
    sources: tuple[str, ...] = ()
    related: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    reviewed: dt.date | None = None
    needs_check: tuple[str, ...] = ()
    kind: str = "answer"  # "out-of-scope": matching it means "do not answer", with its text as the reply
    added_questions: int = 0  # how many of `questions` (at the end) came from `phrasings:` files
    file: str = ""
    line: int = 0

    @property
    def answers(self) -> bool:
        return self.kind == "answer"


@dataclass(frozen=True)
class OpeningHours:
    days: tuple[int, ...]  # 0 = Monday, as datetime.weekday()
    opens: dt.time
    closes: dt.time


@dataclass(frozen=True)
class Service:
    id: str
    name: str
    about: str | None = None
    phone: str | None = None
    email: str | None = None
    web: str | None = None
    text: str | None = None
    always_open: bool = False
    hours: tuple[OpeningHours, ...] = ()
    source: str | None = None
    checked: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Areas:
    """Other councils' names: a question naming one is pointed to its own Local Offer."""

    home: tuple[str, ...]  # our own names ("Herefordshire", "Hereford"): naming one of them is never out of area
    others: tuple[str, ...]
    reply: str
    unless: tuple[str, ...] = ()  # words that make naming another area fine ("moving from Powys")


@dataclass(frozen=True)
class Knowledge:
    entries: tuple[Entry, ...]
    services: dict[str, Service] = field(default_factory=dict)
    lexicon: dict[str, str] = field(default_factory=dict)  # variant phrase -> canonical word
    groups: tuple[Group, ...] = ()
    areas: Areas | None = None
    directory: Path | None = None

    def entry(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    @cached_property
    def _by_id(self) -> dict[str, Entry]:
        return {e.id: e for e in self.entries}


# ---------------------------------------------------------------- YAML reading

# libyaml's parser where PyYAML was built with it: scanning the phrasings' 8,000 lines in Python was
# most of a restart (8,140 phrasings: 9.2 -> 6.3 s). The nodes are still composed in Python, below,
# so the alias and depth checks and every line number stay as they were.
_Parser = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _Loader(_Parser):  # type: ignore[valid-type,misc]
    """safe_load that records each mapping's line and refuses aliases.

    Aliases are refused because an editor never needs them and a chain of them
    (a "billion laughs" file) makes anything that walks the data exponential.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.anchors: dict = {}

    # Python's composer on the C parser's events (the C loader would compose nodes itself).
    get_single_node = yaml.composer.Composer.get_single_node
    compose_document = yaml.composer.Composer.compose_document
    compose_scalar_node = yaml.composer.Composer.compose_scalar_node
    compose_sequence_node = yaml.composer.Composer.compose_sequence_node
    compose_mapping_node = yaml.composer.Composer.compose_mapping_node

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: YAML aliases (*name) are not allowed")
        depth = getattr(self, "_depth", 0)
        if depth >= MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: nested more than {MAX_DEPTH} levels deep")
        self._depth = depth + 1
        try:
            return yaml.composer.Composer.compose_node(self, parent, index)
        finally:
            self._depth = depth

    def construct_mapping(self, node: Any, deep: bool = False) -> dict:  # type: ignore[override]
        # PyYAML keeps the last of two equal keys: a second `answer:` would silently replace the first.
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = seen.setdefault(key_node.value, key_node.start_mark.line + 1)
                if line != key_node.start_mark.line + 1:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key_node.value}' appears twice (first on line {line})",
                        key_node.start_mark)
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def read_yaml(path: Path) -> Any:
    """Parse one file; raise KnowledgeError naming the file and line on any problem."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise KnowledgeError([f"{path}: file is {size} bytes; the limit is {MAX_FILE_BYTES}"])
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (a SafeLoader)
    except OSError as exc:  # a folder named x.yaml, a file we may not read
        raise KnowledgeError([f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"]) from None
    except UnicodeDecodeError as exc:
        raise KnowledgeError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        problem = exc.problem
        if problem and "maximum nesting depth" in problem:  # libyaml's own limit, far past ours
            problem = f"nested more than {MAX_DEPTH} levels deep"
        raise KnowledgeError([f"{path}:{line}: YAML syntax error: {problem}"]) from None
    except yaml.YAMLError as exc:
        raise KnowledgeError([f"{path}: {exc}"]) from None


def knowledge_files(directory: Path) -> list[Path]:
    files = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
    files += sorted((directory / "entries").glob("*.yaml")) + sorted((directory / "entries").glob("*.yml"))
    return files


# ---------------------------------------------------------------- validation helpers

class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _where(path: Path, raw: dict, entry_id: str | None = None) -> str:
    line = raw.get("__line__", "?") if isinstance(raw, dict) else "?"
    return f"{path}:{line}" + (f": entry '{entry_id}'" if entry_id else "")


def _text(raw: dict, key: str, where: str, problems: _Problems, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(where, f"'{key}' is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.add(where, f"'{key}' must be non-empty text, not {type(value).__name__}")
        return None
    return value.strip()


def _strings(raw: dict, key: str, where: str, problems: _Problems, required: bool = False) -> tuple[str, ...]:
    value = raw.get(key)
    if value is None:
        if required:
            problems.add(where, f"'{key}' is missing")
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        problems.add(where, f"'{key}' must be a list of texts (quote values such as phone numbers or yes/no)")
        return ()
    items = tuple(str(v).strip() for v in value if str(v).strip())
    if required and not items:
        problems.add(where, f"'{key}' must not be empty")
    return items


def _unknown_keys(raw: dict, allowed: set[str], where: str, problems: _Problems) -> None:
    for key in raw:
        if key == "__line__" or key in allowed:
            continue
        guess = process.extractOne(str(key), sorted(allowed), score_cutoff=70)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        problems.add(where, f"unknown key '{key}'{hint}")


# ---------------------------------------------------------------- parts

def _entry(raw: Any, path: Path, problems: _Problems) -> Entry | None:
    if not isinstance(raw, dict):
        problems.add(f"{path}", f"an entry must be a mapping with id, title, questions and answer, not {type(raw).__name__}")
        return None
    entry_id = raw.get("id")
    where = _where(path, raw, entry_id if isinstance(entry_id, str) else None)
    before = len(problems.items)
    if not isinstance(entry_id, str) or not ID_PATTERN.match(entry_id):
        problems.add(where, f"'id' must be lower-case letters, digits and '-' (got {entry_id!r})")
    _unknown_keys(raw, ENTRY_KEYS, where, problems)
    title = _text(raw, "title", where, problems, required=True)
    answer = _text(raw, "answer", where, problems, required=True)
    questions = _strings(raw, "questions", where, problems, required=True)
    kind = raw.get("kind", "answer")
    if kind not in ENTRY_KINDS:
        problems.add(where, f"'kind' must be one of {', '.join(ENTRY_KINDS)} (got {kind!r})")
    reviewed = raw.get("reviewed")
    if reviewed is not None and not isinstance(reviewed, dt.date):
        problems.add(where, "'reviewed' must be a date written as YYYY-MM-DD")
        reviewed = None
    sms = _text(raw, "sms", where, problems, required=False)
    if len(problems.items) > before:
        return None
    return Entry(
        id=entry_id, title=title, questions=questions, answer=answer, sms=sms,  # type: ignore[arg-type]
        sources=_strings(raw, "sources", where, problems),
        related=_strings(raw, "related", where, problems),
        services=_strings(raw, "services", where, problems),
        reviewed=reviewed, needs_check=_strings(raw, "needs_check", where, problems),
        kind=kind, file=str(path), line=raw.get("__line__", 0),
    )


def _clock(value: Any) -> dt.time | None:
    if isinstance(value, int):  # YAML 1.1 reads an unquoted 09:30 as a sexagesimal int
        value = f"{value // 60:02d}:{value % 60:02d}"
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        return None


def _hours(raw: Any, where: str, problems: _Problems) -> tuple[bool, tuple[OpeningHours, ...]]:
    if raw is None:
        return False, ()
    if raw == "always":
        return True, ()
    if not isinstance(raw, list):
        problems.add(where, "'hours' must be 'always' or a list of {days, open, close}")
        return False, ()
    spans = []
    for span in raw:
        days = span.get("days") if isinstance(span, dict) else None
        opens, closes = (_clock(span.get(k)) for k in ("open", "close")) if isinstance(span, dict) else (None, None)
        if not isinstance(days, list) or not days or any(d not in DAYS for d in days) or not opens or not closes:
            problems.add(where, f"each 'hours' item needs days (from {', '.join(DAYS)}), open and close as \"HH:MM\"")
            continue
        spans.append(OpeningHours(tuple(DAYS.index(d) for d in days), opens, closes))
    return False, tuple(spans)


def _service(raw: Any, path: Path, problems: _Problems) -> Service | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        problems.add(f"{path}", "each service must be a mapping with an 'id'")
        return None
    where = f"{_where(path, raw)}: service '{raw['id']}'"
    before = len(problems.items)
    _unknown_keys(raw, SERVICE_KEYS, where, problems)
    name = _text(raw, "name", where, problems, required=True)
    fields = {k: _text(raw, k, where, problems, required=False) if raw.get(k) is not None else None
              for k in ("about", "email", "web", "text", "source", "note")}
    phone = raw.get("phone")
    if phone is not None and not isinstance(phone, str):
        problems.add(where, "'phone' must be quoted text (\"01432 260000\"), or YAML turns it into a number")
    always, hours = _hours(raw.get("hours"), where, problems)
    checked = raw.get("checked", False)
    if not isinstance(checked, bool):
        problems.add(where, "'checked' must be true or false")
    if len(problems.items) > before:
        return None
    return Service(id=raw["id"], name=name, phone=phone, always_open=always, hours=hours,  # type: ignore[arg-type]
                   checked=checked, **fields)


def _lexicon(raw: Any, where: str, problems: _Problems) -> dict[str, str]:
    if not isinstance(raw, dict):
        problems.add(where, "'lexicon' must map a word to a list of variants")
        return {}
    variants: dict[str, str] = {}
    for word, alikes in raw.items():
        if word == "__line__":
            continue
        if not isinstance(word, str) or not isinstance(alikes, list):
            problems.add(where, f"lexicon word {word!r} must map to a list of variants (quote yes/no/on/off)")
            continue
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in alikes):
            problems.add(where, f"lexicon word {word!r}: each variant must be a word or phrase (quote yes/no/on/off)")
            continue
        for alike in alikes:
            variants[str(alike).lower().strip()] = word.lower().strip()
    return variants


def _groups(raw: Any, where: str, problems: _Problems) -> list[Group]:
    groups = []
    for item in raw if isinstance(raw, list) else [None]:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("id", "title")):
            problems.add(where, "each group needs an 'id', a 'title' and a list of 'topics'")
            continue
        topics = _strings(item, "topics", _where(Path(where.split(":")[0]), item), problems, required=True)
        groups.append(Group(item["id"], item["title"], topics))
    return groups


def _areas(raw: Any, where: str, problems: _Problems) -> Areas | None:
    if not isinstance(raw, dict) or not raw.get("home") or not isinstance(raw.get("reply"), str):
        problems.add(where, "'areas' needs 'home' (names), 'others' (a list of names) and 'reply'")
        return None
    home = _strings(raw, "home", where, problems, required=True)
    others = _strings(raw, "others", where, problems, required=True)
    return Areas(home, others, raw["reply"].strip(), _strings(raw, "unless", where, problems))


# ---------------------------------------------------------------- loading

@dataclass
class _Parts:
    entries: list[Entry] = field(default_factory=list)
    services: dict[str, Service] = field(default_factory=dict)
    lexicon: dict[str, str] = field(default_factory=dict)
    groups: list[Group] = field(default_factory=list)
    areas: Areas | None = None
    phrasings: list[tuple[str, str, str]] = field(default_factory=list)  # (entry id, question, where)


def _phrasings(raw: Any, path: Path, problems: _Problems) -> list[tuple[str, str, str]]:
    """`phrasings: {entry-id: [question, ...]}`: more ways of asking existing entries."""
    if not isinstance(raw, dict):
        problems.add(str(path), "'phrasings' must map an entry id to a list of questions")
        return []
    found = []
    for entry_id, questions in raw.items():
        if entry_id == "__line__":
            continue
        where = f"{path}: phrasings of '{entry_id}'"
        for question in _strings({"questions": questions}, "questions", where, problems, required=True):
            found.append((str(entry_id), question, where))
    return found


def _add_phrasings(parts: _Parts, problems: _Problems) -> None:
    """Extra questions go on the end of their entry's own; one for an entry that does not exist is an error."""
    extra: dict[str, list[str]] = {}
    ids = {e.id for e in parts.entries}
    for entry_id, question, where in parts.phrasings:
        if entry_id not in ids:
            problems.add(where, "there is no entry with this id")
            continue
        extra.setdefault(entry_id, []).append(question)
    parts.entries = [_with_questions(e, [q for q in dict.fromkeys(extra[e.id]) if q not in e.questions])
                     if e.id in extra else e for e in parts.entries]


def _with_questions(entry: Entry, added: list[str]) -> Entry:
    return replace(entry, questions=entry.questions + tuple(added), added_questions=entry.added_questions + len(added))


def _read_file(path: Path, parts: _Parts, problems: _Problems) -> None:
    try:
        data = read_yaml(path)
    except KnowledgeError as exc:
        problems.items.extend(exc.problems)
        return
    if data is None:
        return
    if isinstance(data, list):
        data = {"entries": data}
    if not isinstance(data, dict):
        problems.add(str(path), "must hold a list of entries, or a mapping of entries/services/lexicon/groups/areas")
        return
    _unknown_keys(data, FILE_KEYS, str(path), problems)
    where = _where(path, data)
    for key in ("entries", "services"):
        if data.get(key) is not None and not isinstance(data[key], list):
            problems.add(where, f"'{key}' must be a list (each item starting with '- ')")
            data[key] = None
    for raw in data.get("entries") or []:
        if (entry := _entry(raw, path, problems)) is not None:
            parts.entries.append(entry)
    for raw in data.get("services") or []:
        if (service := _service(raw, path, problems)) is not None:
            if service.id in parts.services:
                problems.add(where, f"service '{service.id}' is defined twice")
            parts.services[service.id] = service
    if "lexicon" in data:
        parts.lexicon.update(_lexicon(data["lexicon"], where, problems))
    if "groups" in data:
        parts.groups.extend(_groups(data["groups"], str(path), problems))
    if "phrasings" in data:
        parts.phrasings.extend(_phrasings(data["phrasings"], path, problems))
    if "areas" in data:
        parts.areas = _areas(data["areas"], where, problems)


def _check_links(parts: _Parts, problems: _Problems) -> None:
    seen: dict[str, Entry] = {}
    for entry in parts.entries:
        if entry.id in seen:
            problems.add(f"{entry.file}:{entry.line}: entry '{entry.id}'",
                         f"id is used twice (also {seen[entry.id].file}:{seen[entry.id].line})")
        seen[entry.id] = entry


def load_knowledge(directory: Path | str = BUNDLED_DIR) -> Knowledge:
    """Read and validate every knowledge file in `directory`; raise KnowledgeError on any problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError([f"{directory}: not a directory"])
    files = knowledge_files(directory)
    if not files:
        raise KnowledgeError([f"{directory}: no .yaml files found"])
    parts, problems = _Parts(), _Problems()
    for path in files:
        _read_file(path, parts, problems)
    _check_links(parts, problems)
    _add_phrasings(parts, problems)
    if not parts.entries and not problems.items:
        problems.add(str(directory), "no entries found")
    if problems.items:
        raise KnowledgeError(problems.items)
    return Knowledge(tuple(parts.entries), parts.services, parts.lexicon, tuple(parts.groups), parts.areas, directory)
