"""Gaps reach the editors: parents ask through the real conversation into a real SQLite log, and
`editors unanswered --json` lists what the bot could not answer, grouped by meaning: a dentist
who understands SEND (issue 15: caught by an out-of-scope entry, or lost in a clarify the parent
never picked from) and a child who eats things that are not food (pica).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.conversation import Conversation
from bot.messages import Incoming
from bot.replies import Replies
from bot.store import LogRecord, Store

# Written for these tests after the fix and run once, not tuned one by one. "can anyone recommend a dentist"
# is left out: asking the bot to recommend a business is what the shopping entry catches, by design.
DENTIST = [
    "my son is autistic and has never managed a dental check up, who can see him",
    "is there a special care dentist for children with learning difficulties in herefordshire",
    "dentists that do sedation for kids with SEND near Hereford",
    "my daughter with ADHD won't let the dentist look at her teeth, are there specialist dentists",
    "which dentists in hereford can treat a child with severe autism",
    "my son has sensory processing disorder and screams at the dentist, is there a specialist one nearby",
    "dentist that understands special needs children herefordshire",
    "we can't find a dentist who will see our disabled daughter, where do we go",
    "is there a dentist near leominster who is used to children with autism",
    "my 6 year old with ADHD needs teeth out, which dentist can do it under general anaesthetic",
]
# Written before the out-of-scope and lexicon changes, and used to find their causes ("dental" read as "mental").
DENTIST_BEFORE = [
    "Does anyone know a dentist in Hereford who is patient with children who have autism?",
    "looking for an autism friendly dental practice near hereford for my 8 year old",
    "my autistic daughter needs a filling but wont sit in the chair, which dentist in hereford can help",
    "sensory friendly dentist hereford?",
    "help finding a dentist who understands SEND kids in herefordshire",
]
PICA = [
    "my autistic boy eats dirt and bits of carpet, is this something to worry about",
    "where do I get advice about pica, my son eats non food things",
    "is it normal for an autistic child to eat things like paper and rubber",
    "my son keeps swallowing small stones from the garden, who should I speak to",
]


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here runs on a SQLite file and on a PostgreSQL database."""
    return any_store


async def ask(store: Store, replies: Replies, texts: list[str]) -> dict[str, str]:
    """Each text from its own parent by SMS, as a first message; the outcome each got."""
    conversation = Conversation(replies, store=store)
    return {text: (await conversation.handle(Incoming("sms", f"parent-{n}", text))).outcome
            for n, text in enumerate(texts)}


async def unanswered(capsys: pytest.CaptureFixture, store: Store, *kb: str) -> list[dict]:
    """`editors unanswered --json` on the store's log, in a thread: the command runs its own event loop."""
    capsys.readouterr()
    db = store.url if store.shares_state else str(store.path)
    assert await asyncio.to_thread(main, ["editors", "unanswered", "--json", "--db", db, *kb]) == 0
    return json.loads(capsys.readouterr().out)


def sizes(groups: list[dict], texts: list[str]) -> list[int]:
    """The groups' sizes, biggest first, once every group is known to hold only these texts."""
    assert all(set(g["examples"]) <= set(texts) for g in groups), [g["examples"] for g in groups]
    return [g["count"] for g in groups]


def test_no_out_of_scope_entry_catches_a_send_dentist_question(bundled_replies: Replies) -> None:
    """Dental care that understands SEND is a health-access gap, not shopping or adult services: no
    out-of-scope entry catches it surely (a catch below the answer threshold is listed for editors)."""
    sure = bundled_replies.matcher.thresholds.answer
    caught = [(text, reply.score) for text in DENTIST_BEFORE + DENTIST
              if (reply := bundled_replies.respond(text)).kind == "out-of-scope" and reply.score >= sure]
    assert caught == []


async def test_dentist_questions_the_bot_did_not_answer_reach_the_editors_as_one_group(
        store: Store, bundled_replies: Replies, capsys: pytest.CaptureFixture) -> None:
    """Issue 15's "done when": parents asking for a dentist in their own words, each one the bot did not
    answer (unanswered, a clarify never picked from, an unsure catch) is on `editors unanswered`, and
    three or more different wordings are one group."""
    outcomes = await ask(store, bundled_replies, DENTIST)
    not_answered = [text for text, outcome in outcomes.items() if outcome in ("unanswered", "clarify")]
    assert len(not_answered) >= 6, outcomes
    found = sizes(await unanswered(capsys, store), DENTIST)
    assert sum(found) == len(not_answered) and found[0] >= 3, (found, outcomes)


async def test_parents_asking_about_pica_in_different_words_are_grouped(
        store: Store, bundled_replies: Replies, capsys: pytest.CaptureFixture) -> None:
    """A child eating things that are not food, said in words the knowledge base does not know:
    two parents' wordings, at least, are one group."""
    outcomes = await ask(store, bundled_replies, PICA)
    found = sizes(await unanswered(capsys, store), PICA)
    assert sum(found) == sum(o in ("unanswered", "clarify") for o in outcomes.values()) and found[0] >= 2, (found, outcomes)


async def test_a_clarify_never_picked_from_reaches_the_editors_and_a_picked_one_does_not(
        store: Store, small_replies: Replies, small_kb: Path, capsys: pytest.CaptureFixture) -> None:
    """Offered two or three topics, a parent who picks one was answered; one who picks none was not."""
    conversation = Conversation(small_replies, store=store)
    for parent, then in (("picks", "1"), ("leaves", None), ("asks-again", "how do i get a camhs referral")):
        assert (await conversation.handle(Incoming("sms", parent, "camhs"))).outcome == "clarify"
        if then is not None:
            assert (await conversation.handle(Incoming("sms", parent, then))).outcome == "answer"
    groups = await unanswered(capsys, store, "--kb", str(small_kb))
    assert [(g["examples"], g["count"]) for g in groups] == [(["camhs"], 2)]


async def test_a_catch_below_the_answer_threshold_is_listed_and_a_sure_one_is_only_under_caught(
        store: Store, small_kb: Path, capsys: pytest.CaptureFixture) -> None:
    """An out-of-scope entry that won by less than an answer needs was not sure: the editors see the
    question among the unanswered; a sure catch stays in the out-of-scope section."""
    await store.log(LogRecord("sms", "a", "a sure catch about a spa weekend", "unanswered", score=0.7,
                              kind="out-of-scope"))
    await store.log(LogRecord("sms", "b", "an unsure catch about an optician", "unanswered", score=0.27,
                              kind="out-of-scope"))
    plain = [x for g in await unanswered(capsys, store, "--kb", str(small_kb)) for x in g["examples"]]
    every = await unanswered(capsys, store, "--kb", str(small_kb), "--include-out-of-scope")
    assert plain == ["an unsure catch about an optician"]
    assert [(g["section"], g["examples"]) for g in every if g["section"] == "caught"] == [
        ("caught", ["a sure catch about a spa weekend"])]
