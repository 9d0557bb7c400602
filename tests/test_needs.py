"""bot/needs.py: what a rule needs in a text before it can match, and that skipping rules changes nothing."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.crisis import load_crisis_rules
from bot.needs import needs

TRAINING = Path(__file__).resolve().parents[1] / "training" / "crisis"


@pytest.mark.parametrize(
    "pattern,expected",
    [
        (r"\b(my|our) (partner|husband) (hit|kicked) me", {"partner", "husband"}),
        (r"\bpills?\b", {"pill"}),
        (r"\bthreaten\w* to (kill|hurt)", {"threaten"}),
        (r"(?:foo|)bar", {"bar"}),  # an empty way through the group: the literal after it
        (r"\bkill(?! time)", {"kill"}),  # a lookahead consumes nothing
        (r"x{0,3}", None),  # may match nothing
        (r"(?:foo|)", None),
        (r"[a-z]+ing", {"ing"}),
        (r"\w+", None),
    ],
)
def test_needs(pattern: str, expected: set[str] | None) -> None:
    found = needs(pattern)
    assert (found if found is None else set(found)) == expected


def test_every_text_a_pattern_matches_holds_one_of_its_needs() -> None:
    texts = ["my partner hit me", "our husband kicked me", "pills", "he threatened to kill", "bar", "foobar",
             "killing", "running"]
    for pattern in (r"\b(my|our) (partner|husband) (hit|kicked) me", r"\bpills?\b", r"\bthreaten\w* to (kill|hurt)",
                    r"(?:foo|)bar", r"\bkill(?! time)", r"[a-z]+ing"):
        found = needs(pattern)
        for text in texts:
            if re.search(pattern, text):
                assert found is None or any(s in text for s in found), (pattern, text)


def test_rules_one_by_one_match_as_the_whole_category() -> None:
    """Skipping the rules whose strings are absent finds exactly what each category's single
    alternation finds, on the training writers' crises and near misses (every third message)."""
    rules = load_crisis_rules()
    texts = [json.loads(line)["q"] for path in sorted(TRAINING.glob("writer-*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][::3]
    assert len(texts) > 1000
    hits = 0
    for text in texts:
        normal = rules.exclusions.sub(" ", rules.normalise(text)) if rules.exclusions else rules.normalise(text)
        for category in rules.categories:
            whole = category.regex.search(normal) is not None
            hits += whole
            assert (category.search(normal) is not None) == whole, (category.name, text)
    assert hits > 300  # the check saw many matches, not only misses
