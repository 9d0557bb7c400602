"""The loader: what it accepts, and the errors an editor sees for what it refuses."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge import KnowledgeError, load_knowledge
from tests.conftest import write_kb


def problems_for(tmp_path: Path, entries: str, **files: str) -> list[str]:
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(write_kb(tmp_path / "kb", entries, **files))
    return caught.value.problems


def test_minimal_directory_loads(tmp_path: Path) -> None:
    """One YAML file holding a list of id/title/questions/answer entries is a whole knowledge base."""
    kb = write_kb(tmp_path / "kb", "- {id: a, title: A, questions: [q one], answer: Ans}\n")
    knowledge = load_knowledge(kb)
    assert [e.id for e in knowledge.entries] == ["a"]
    assert knowledge.services == {} and knowledge.groups == () and knowledge.areas is None


def test_missing_required_field_names_file_line_and_entry(tmp_path: Path) -> None:
    """A missing answer is reported with the file, the line and the entry id."""
    found = problems_for(tmp_path, "- id: a\n  title: A\n  questions: [q]\n- id: b\n  title: B\n  questions: [q]\n  answer: x\n")
    assert len(found) == 1
    assert "entries.yaml:1: entry 'a': 'answer' is missing" in found[0]


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    """Two entries with one id cannot both be answered, so loading fails and names both places."""
    found = problems_for(tmp_path, "- {id: a, title: A, questions: [q], answer: x}\n- {id: a, title: B, questions: [r], answer: y}\n")
    assert any("id is used twice" in p and "entries.yaml:1" in p for p in found)


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    """A misspelt key is refused with a suggestion, instead of being silently ignored."""
    found = problems_for(tmp_path, "- {id: a, title: A, questions: [q], answer: x, sorces: [law]}\n")
    assert "unknown key 'sorces' (did you mean 'sources'?)" in found[0]


def test_wrong_types_are_explained(tmp_path: Path) -> None:
    """Questions must be a list of texts; a mapping is refused with the key named."""
    found = problems_for(tmp_path, "- {id: a, title: A, questions: {x: 1}, answer: x}\n")
    assert "'questions' must be a list of texts" in found[0]


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    """Broken YAML names the file and the line of the problem."""
    found = problems_for(tmp_path, "- id: a\n  title: [unclosed\n  answer: x\n")
    assert "entries.yaml:" in found[0] and "YAML syntax error" in found[0]


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """YAML anchors and aliases (the 'billion laughs' file) are refused outright."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n"
    found = problems_for(tmp_path, "- {id: a, title: A, questions: [q], answer: x}\n", bomb=bomb)
    assert any("aliases" in p for p in found)


def test_unquoted_phone_number_is_refused(tmp_path: Path) -> None:
    """YAML would read an unquoted +44 number as an integer; the loader says to quote it."""
    found = problems_for(tmp_path, "- {id: a, title: A, questions: [q], answer: x}\n",
                         services="services:\n  - id: s\n    name: S\n    phone: +447700900123\n")
    assert any("'phone' must be quoted text" in p for p in found)


def test_opening_hours_are_read(small_kb: Path) -> None:
    """Opening hours become weekdays and times the bot can reason about."""
    service = load_knowledge(small_kb).services["sendiass"]
    assert service.hours[0].days == (0, 1, 2, 3, 4)
    assert service.hours[0].opens.hour == 9 and service.hours[0].closes.hour == 17


def test_not_a_directory(tmp_path: Path) -> None:
    """A path that is not a directory is refused with its name."""
    with pytest.raises(KnowledgeError, match="not a directory"):
        load_knowledge(tmp_path / "missing")


def test_bundled_knowledge_loads() -> None:
    """The knowledge base that ships with the bot is valid."""
    knowledge = load_knowledge()
    assert len(knowledge.entries) >= 41
    assert knowledge.services and knowledge.groups and knowledge.lexicon
