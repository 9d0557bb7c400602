"""Group similar unanswered questions, so an editor sees "12 people asked about X" once.

Each question is reduced to its meaningful word stems (bot.text: fold, stop words out,
stemmed, sorted), then grouped by greedy leader clustering with rapidfuzz: the most
common wordings become leaders, and every other question joins the first leader it
is close enough to. Each group is then placed against the knowledge base with the
matcher, which tells the editor "add these as phrasings of X" or "write a new entry".
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from rapidfuzz import fuzz, process

from ..matcher import Matcher
from ..text import STOPWORDS, fold, stem
from .reports import LoggedQuestion

# token_sort_ratio over sorted stems: word order does not matter, and unlike token_set
# a one-word question is not "the same" as every longer question containing that word.
SIMILAR = 75.0
MAX_EXAMPLES = 5


@dataclass
class Group:
    count: int
    examples: list[str]  # up to MAX_EXAMPLES distinct redacted texts, most asked first
    first_seen: str
    last_seen: str
    channels: list[str]  # most used first
    nearest_topic: str | None = None
    nearest_title: str | None = None
    nearest_score: float = 0.0
    message_ids: list[int] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"count": self.count, "examples": self.examples, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "channels": self.channels, "nearest_topic": self.nearest_topic,
                "nearest_title": self.nearest_title, "nearest_score": self.nearest_score}


def key_of(text: str) -> str:
    """The words that carry meaning, stemmed and sorted; the folded text if none do."""
    folded = fold(text)
    stems = sorted(stem(w) for w in folded.split() if w not in STOPWORDS)
    return " ".join(stems) or folded


def _clusters(keys: list[str], similar: float) -> list[list[int]]:
    """Greedy leader clustering of keys that are already in the order leaders should be chosen."""
    leaders: list[str] = []
    members: list[list[int]] = []
    for index, key in enumerate(keys):
        found = process.extractOne(key, leaders, scorer=fuzz.token_sort_ratio, score_cutoff=similar) if leaders else None
        if found is None:
            leaders.append(key)
            members.append([index])
        else:
            members[found[2]].append(index)
    return members


def group_questions(questions: Iterable[LoggedQuestion], matcher: Matcher | None = None,
                    similar: float = SIMILAR) -> list[Group]:
    """Unanswered questions grouped by similarity, biggest group first."""
    by_key: dict[str, list[LoggedQuestion]] = {}
    for question in questions:
        by_key.setdefault(key_of(question.text), []).append(question)
    # The most asked wordings lead; ties go to the one asked first, so the order is stable.
    keys = sorted(by_key, key=lambda k: (-len(by_key[k]), by_key[k][0].at, k))
    groups = [_group([q for i in cluster for q in by_key[keys[i]]]) for cluster in _clusters(keys, similar)]
    if matcher is not None:
        for group in groups:
            place(group, matcher)
    return sorted(groups, key=lambda g: (-g.count, g.first_seen))


def _group(questions: list[LoggedQuestion]) -> Group:
    wordings = Counter(q.text for q in questions)
    seen = sorted(q.at for q in questions)
    return Group(
        count=len(questions),
        examples=[text for text, _ in wordings.most_common(MAX_EXAMPLES)],
        first_seen=seen[0], last_seen=seen[-1],
        channels=[name for name, _ in Counter(q.channel for q in questions).most_common()],
        message_ids=[q.id for q in questions],
    )


def place(group: Group, matcher: Matcher) -> None:
    """The nearest entry that answers, scored on the group's commonest wording."""
    ranked = [c for c in matcher.rank(group.examples[0], limit=10) if c.entry.answers]
    if ranked:
        group.nearest_topic = ranked[0].entry.id
        group.nearest_title = ranked[0].entry.title
        group.nearest_score = round(ranked[0].score, 3)
