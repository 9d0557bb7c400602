"""Hostile and broken knowledge files: each is refused quickly, with a message naming the file and what is wrong.

tests/test_knowledge.py covers the basics (a missing field, a duplicate id in one file, a
misspelt key, a simple alias bomb, an unquoted phone number); these go further.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.knowledge import MAX_FILE_BYTES, KnowledgeError, load_knowledge
from bot.checks import check_knowledge
from conftest import ROOT, SMALL_KB, write_kb

GOOD = "- {id: a, title: A, questions: [q one], answer: Ans}\n"
QUICK = 1.0  # seconds: refusing a hostile file must never take long


def refused(tmp_path: Path, entries: str = GOOD, **files: str) -> list[str]:
    """Load the directory, expecting a refusal within QUICK seconds; return the problems."""
    started = time.perf_counter()
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(write_kb(tmp_path / "kb", entries, **files))
    assert time.perf_counter() - started < QUICK
    return caught.value.problems


def one_problem(tmp_path: Path, entries: str = GOOD, **files: str) -> str:
    problems = refused(tmp_path, entries, **files)
    assert len(problems) == 1, problems
    return problems[0]


# ------------------------------------------------------------------ malformed YAML

@pytest.mark.parametrize("text,expected", [
    ("- id: a\n\ttitle: A\n", "entries.yaml:2: YAML syntax error"),  # a tab
    ("- {id: a, title: 'unclosed, questions: [q], answer: x}\n", "entries.yaml:2: YAML syntax error"),
    ("- id: a\n  title: A\n - questions: [q]\n", "YAML syntax error"),  # bad indentation
    ("- {[1]: a, id: a}\n", "found unhashable key"),
    ("- {id: a, title: \"A\x00\", questions: [q], answer: x}\n", "unacceptable character #x0000"),
    ("- !!python/object/apply:os.system ['echo owned']\n", "could not determine a constructor"),
    ("- !!binary aGVsbG8=\n", "an entry must be a mapping"),
    ("just some words\n", "must hold a list of entries"),
    ("42\n", "must hold a list of entries"),
])
def test_malformed_yaml_names_the_file_and_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    """Broken YAML, unsafe tags and files that hold no list or mapping are refused with the file named."""
    problem = one_problem(tmp_path, text)
    assert "entries.yaml" in problem and expected in problem


def test_not_utf8_and_a_bom(tmp_path: Path) -> None:
    """A file that is not UTF-8 is refused with the byte; a UTF-8 file with a byte-order mark loads."""
    kb = write_kb(tmp_path / "kb")
    (kb / "entries.yaml").write_bytes(b"- {id: a, title: \xe9t\xe9, questions: [q], answer: x}\n")
    with pytest.raises(KnowledgeError, match=r"not UTF-8 text .* at byte 17"):
        load_knowledge(kb)
    (kb / "entries.yaml").write_text("\ufeff" + GOOD, encoding="utf-8")
    assert [e.id for e in load_knowledge(kb).entries] == ["a"]


def test_a_folder_named_like_a_yaml_file_is_reported_not_a_crash(tmp_path: Path) -> None:
    """A folder called something.yaml gets a clear 'cannot be read', not an IsADirectoryError traceback."""
    kb = write_kb(tmp_path / "kb")
    (kb / "old.yaml").mkdir()
    with pytest.raises(KnowledgeError, match=r"old\.yaml: cannot be read"):
        load_knowledge(kb)


def test_duplicate_keys_in_one_entry_are_refused(tmp_path: Path) -> None:
    """Two `answer:` keys in one entry would silently keep only the second: refused, naming both lines."""
    problem = one_problem(tmp_path, "- id: a\n  title: A\n  questions: [q]\n  answer: first\n  answer: second\n")
    assert "entries.yaml:5" in problem and "key 'answer' appears twice (first on line 4)" in problem


# ------------------------------------------------------------------ wrong types and unknown keys

@pytest.mark.parametrize("entry,expected", [
    ("{id: 7, title: A, questions: [q], answer: x}", "'id' must be lower-case letters"),
    ("{id: Has Spaces, title: A, questions: [q], answer: x}", "'id' must be lower-case letters"),
    ("{id: a, title: [A, B], questions: [q], answer: x}", "'title' must be non-empty text, not list"),
    ("{id: a, title: A, questions: [q], answer: {text: x}}", "'answer' must be non-empty text, not dict"),
    ("{id: a, title: A, questions: [q], answer: '   '}", "'answer' must be non-empty text"),
    ("{id: a, title: A, questions: [], answer: x}", "'questions' must not be empty"),
    ("{id: a, title: A, questions: [[nested]], answer: x}", "'questions' must be a list of texts"),
    ("{id: a, title: A, questions: [yes, no], answer: x}", "'questions' must be a list of texts"),
    ("{id: a, title: A, questions: [q], answer: x, sms: true}", "'sms' must be non-empty text, not bool"),
    ("{id: a, title: A, questions: [q], answer: x, kind: maybe}", "'kind' must be one of answer, out-of-scope"),
    ("{id: a, title: A, questions: [q], answer: x, reviewed: last week}", "'reviewed' must be a date"),
    ("{id: a, title: A, questions: [q], answer: x, Answer: y}", "unknown key 'Answer' (did you mean 'answer'?)"),
])
def test_wrong_types_in_an_entry_are_explained(tmp_path: Path, entry: str, expected: str) -> None:
    """Each wrongly typed field is refused with the entry's line and a message saying what it must be."""
    assert expected in one_problem(tmp_path, f"- {entry}\n")


@pytest.mark.parametrize("name,text,expected", [
    ("entries_map", "entries: {a: 1}\n", "'entries' must be a list"),
    ("services_map", "services: {a: 1}\n", "'services' must be a list"),
    ("top_key", "entires: []\n", "unknown key 'entires' (did you mean 'entries'?)"),
    ("service_key", "services:\n  - {id: s, name: S, phone_number: '01432 260000'}\n", "unknown key 'phone_number'"),
    ("checked", "services:\n  - {id: s, name: S, checked: 'yes'}\n", "'checked' must be true or false"),
    ("hours", "services:\n  - {id: s, name: S, hours: [{days: [someday], open: '09:00', close: '17:00'}]}\n",
     "each 'hours' item needs days"),
    ("lexicon", "lexicon:\n  ehcp: [[nested], {a: 1}]\n", "each variant must be a word or phrase"),
    ("lexicon_map", "lexicon: [ehcp]\n", "'lexicon' must map a word to a list"),
    ("groups", "groups:\n  - {id: g, topics: [a]}\n", "each group needs an 'id', a 'title'"),
    ("areas", "areas: {others: [Powys]}\n", "'areas' needs 'home'"),
])
def test_wrong_types_in_other_files_are_explained(tmp_path: Path, name: str, text: str, expected: str) -> None:
    """Services, lexicon, groups and areas with the wrong shape are refused with a message naming the file."""
    problems = refused(tmp_path, GOOD, **{name: text})
    assert any(expected in p and f"{name}.yaml" in p for p in problems), problems


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    """An editor sees all the problems of a file together, each with its own line, not one per attempt."""
    problems = refused(tmp_path, "- {id: a, title: A, questions: [q]}\n- {id: B, title: B, questions: [q], answer: x}\n"
                                 "- {id: c, title: C, questions: [q], answer: x, sorces: [x]}\n")
    assert [p.split(": ", 1)[0].rsplit(":", 1)[1] for p in problems] == ["1", "2", "3"]


# ------------------------------------------------------------------ duplicate ids

def test_duplicate_ids_across_files_name_both_files(tmp_path: Path) -> None:
    """The same entry id in two files is refused, naming both places."""
    problem = one_problem(tmp_path, GOOD, more="- {id: a, title: Other, questions: [q two], answer: Other}\n")
    assert "more.yaml:1: entry 'a'" in problem and "also" in problem and "entries.yaml:1" in problem


def test_duplicate_service_ids_are_refused(tmp_path: Path) -> None:
    """Two services with one id cannot both be shown, so loading fails and names the id."""
    services = "services:\n  - {id: s, name: One}\n  - {id: s, name: Two}\n"
    assert "service 's' is defined twice" in one_problem(tmp_path, GOOD, services=services)


# ------------------------------------------------------------------ hostile files

def test_a_billion_laughs_file_is_refused_at_once(tmp_path: Path) -> None:
    """Nine levels of aliases (10^9 items if expanded) are refused at the first alias, in well under a second."""
    levels = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, 10)]
    problem = one_problem(tmp_path, GOOD, bomb="\n".join(levels) + "\n")
    assert "bomb.yaml" in problem and "line 2: YAML aliases (*name) are not allowed" in problem


def test_merge_keys_are_aliases_too(tmp_path: Path) -> None:
    """`<<: *defaults` is an alias in disguise and is refused the same way; an anchor alone is harmless."""
    merged = "defaults: &d {title: A}\nentries:\n  - <<: *d\n    id: a\n    questions: [q]\n    answer: x\n"
    assert "YAML aliases" in one_problem(tmp_path, merged)
    anchored = "entries:\n  - &first {id: a, title: A, questions: [q], answer: x}\n"
    assert [e.id for e in load_knowledge(write_kb(tmp_path / "ok", anchored)).entries] == ["a"]


@pytest.mark.parametrize("bomb", ["[" * 100_000, "- " * 50_000 + "x", "{a: " * 20_000 + "1" + "}" * 20_000])
def test_deep_nesting_is_refused_not_a_recursion_error(tmp_path: Path, bomb: str) -> None:
    """Brackets or dashes nested 20,000+ deep are refused with a message, not a RecursionError traceback."""
    assert "nested more than 40 levels deep" in one_problem(tmp_path, bomb + "\n")


def test_a_file_over_the_size_limit_is_refused_without_parsing_it(tmp_path: Path) -> None:
    """A 3 MB file is refused from its size alone, naming the size and the limit."""
    huge = GOOD + "# padding\n" * (3_000_000 // 10)
    problem = one_problem(tmp_path, huge)
    assert f"the limit is {MAX_FILE_BYTES}" in problem and "entries.yaml: file is" in problem


def test_kb_check_reports_a_hostile_file_without_a_traceback(tmp_path: Path) -> None:
    """`main.py kb check --kb DIR` on a broken directory exits 1 with the problems listed, not a traceback."""
    kb = write_kb(tmp_path / "kb", "[" * 100_000 + "\n", dupe="- id: b\n  title: B\n  title: C\n")
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "kb", "check", "--kb", str(kb)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output
    assert "nested more than 40 levels" in output and "key 'title' appears twice" in output


def test_kb_check_warns_when_adults_own_questions_have_no_entry(tmp_path: Path) -> None:
    """A base with out-of-scope entries needs oos-adult-services: bot/adults.py sends an adult's own
    question there. Without it `kb check` says so; with it, nothing."""
    bins = "- {id: oos-bins, kind: out-of-scope, title: Bins, questions: [when are my bins collected], answer: Ask the council.}\n"
    adults = ("- {id: oos-adult-services, kind: out-of-scope, title: Adults, questions: [adult social care],"
              " answer: Ask adult social care.}\n")
    without = check_knowledge(write_kb(tmp_path / "without", SMALL_KB + bins), questions=False)
    with_it = check_knowledge(write_kb(tmp_path / "with", SMALL_KB + bins + adults), questions=False)
    assert any("no 'oos-adult-services' entry" in w for w in without.warnings)
    assert not any("no 'oos-adult-services' entry" in w for w in with_it.warnings)
