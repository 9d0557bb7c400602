"""The bundled knowledge base as content: complete, and not tuned to the dev question set."""
from __future__ import annotations

import json

import pytest
import yaml
from rapidfuzz import fuzz, process

from bot.gsm7 import is_gsm7, septets
from bot.knowledge import load_knowledge
from bot.text import fold
from tests.conftest import SHARED

DEV = SHARED / "eval" / "dev.jsonl"
TOPICS = SHARED / "topics.yaml"


@pytest.mark.skipif(not TOPICS.exists(), reason="shared/topics.yaml not present")
def test_every_required_topic_has_an_entry() -> None:
    """Each topic id of shared/topics.yaml is an answering entry of the bundled base."""
    required = [t["id"] for t in yaml.safe_load(TOPICS.read_text())["topics"]]
    knowledge = load_knowledge()
    missing = [t for t in required if knowledge.entry(t) is None or not knowledge.entry(t).answers]
    assert not missing


def test_every_answer_has_sources_and_an_sms_that_fits() -> None:
    """Every answering entry names its sources and has a GSM-7 SMS text of at most 250 characters."""
    for entry in load_knowledge().entries:
        if entry.answers:
            assert entry.sources, entry.id
            assert entry.sms and is_gsm7(entry.sms) and septets(entry.sms) <= 250, entry.id


@pytest.mark.skipif(not DEV.exists(), reason="shared/eval/dev.jsonl not present")
def test_no_example_question_copies_the_dev_set() -> None:
    """No example question of four or more words is a near-copy of a dev-set message.

    The dev set measures how the bot does on messages it has never seen; copying them
    into the knowledge base would make the figure meaningless.
    """
    dev = [fold(json.loads(line)["q"]) for line in DEV.read_text().splitlines() if line.strip()]
    copies = []
    for entry in load_knowledge().entries:
        for question in entry.questions:
            folded = fold(question)
            if len(folded.split()) >= 4:
                found = process.extractOne(folded, dev, scorer=fuzz.ratio, score_cutoff=85)
                if found:
                    copies.append(f"{entry.id}: {question!r} ~ {found[0]!r}")
    assert not copies, "\n".join(copies)
