"""How a message is read by the sentence model: every clause, or within the time budget the most salient ones."""
from __future__ import annotations

import numpy as np

from bot.replies import Replies
from bot.salience import Salience
from bot.semantic import _PARALLEL, _RUN_MS, _TOKEN_MS, BUDGET_MS, MODELS_DIR, Encoder, _word_pieces, default_encoder

# Written for this test: a long story about school, with the danger in the middle and the question at the end.
STORY = (
    "My son is 11, he is autistic and has ADHD, and we moved to Leominster from Worcester last spring. "
    "His primary school were lovely, they had a quiet room, a TA in the mornings, a visual timetable. "
    "The new school says he is fine in class, he masks all day, then he falls apart the minute he gets home. "
    "He screams, he throws things, he has broken the bathroom door twice, he will not eat with us. "
    "His sister is frightened of him and I sleep on the landing so I can hear if he gets up. "
    "My husband works away, my mum is in Cardiff, and the GP said the waiting list is two years. "
    "I have asked the SENCo for a meeting three times, nobody replies, the head says be patient. "
    "Tonight I have lined up all my tablets on the bedside table and written the kids a letter. "
    "We did a parenting course already, we did the sleep clinic, we did everything they told us. "
    "He has no friends, he says he hates himself, he hides under his duvet for whole weekends. "
    "His old plan from Worcester said he needed speech therapy and it has never happened here. "
    "So my question is who do I ask about getting the plan moved over and the support actually given?"
)


def allowed() -> float:
    return BUDGET_MS * _PARALLEL


def cost(parts: list[str]) -> float:
    return sum(_RUN_MS + _TOKEN_MS * _word_pieces(p) for p in parts)


def test_a_short_message_is_read_whole() -> None:
    reading = default_encoder().read("how do I apply for an EHCP, I want to kill myself")
    assert reading.kept == tuple(range(len(reading.parts))) and len(reading.parts) == 2
    assert np.isclose(np.linalg.norm(reading.whole), 1.0)


def test_a_long_story_keeps_its_danger_and_its_question_within_the_budget() -> None:
    reading = default_encoder().read(STORY)
    kept = reading.kept_parts
    assert cost(list(reading.parts)) > allowed(), "the story must be long enough to need the budget"
    assert len(kept) < len(reading.parts) and cost(kept) <= allowed()
    assert any("tablets" in p for p in kept), kept
    assert reading.kept[-1] == len(reading.parts) - 1, "the question at the end is read"
    assert reading.vectors.shape == (len(kept), 384)


def test_the_salience_order_puts_risk_before_background() -> None:
    salience = Salience.load(MODELS_DIR)
    parts = ["we moved here last spring", "I have lined up all my tablets for tonight", "his school is fine"]
    assert salience.order(parts)[0] == 1
    assert salience.risk(parts[1]) > salience.risk(parts[0])


def test_a_message_is_read_the_same_whatever_was_read_before() -> None:
    """The budget counts words, not what the cache holds, so two processes read a story alike."""
    fresh = Encoder(salience=Salience.load(MODELS_DIR))
    fresh.embed(["Tonight I have lined up all my tablets on the bedside table and written the kids a letter."])
    first, second = fresh.read(STORY), default_encoder().read(STORY)
    assert first.kept == second.kept
    assert np.allclose(first.vectors, second.vectors, atol=1e-6)


def test_a_message_read_in_the_background_is_read_as_in_the_foreground() -> None:
    """Encoder.prefetch starts the reading on another thread; read() waits for that one rather than
    embedding again, and a prefetch nobody collects leaves nothing pending."""
    background, foreground = Encoder(salience=Salience.load(MODELS_DIR)), default_encoder()
    story = STORY.replace("Leominster", "Ledbury")  # not read by an earlier test
    background.prefetch(story)
    background.prefetch(story)  # a second prefetch of the same message joins the first
    first = background.read(story)
    assert background.read(story) is first  # kept, not read again
    second = foreground.read(story)
    assert first.parts == second.parts and first.kept == second.kept
    assert np.allclose(first.vectors, second.vectors, atol=1e-6)
    background.prefetch("is there a club for autistic teenagers in Bromyard")
    background.reader.shutdown(wait=True)
    assert not background._readings.pending()


def test_a_danger_in_the_middle_of_a_long_story_is_a_crisis(bundled_replies: Replies) -> None:
    reply = bundled_replies.respond(STORY)
    assert reply.outcome == "crisis" and reply.safety == "crisis", reply
    assert "999" in reply.text and "116 123" in reply.text


def test_a_repeated_message_starts_no_work_in_the_background(bundled_replies: Replies) -> None:
    """Its safety check and decision are kept: reading it again, or working out its similarities,
    would be thrown away (the server's common questions lost half their throughput to it)."""
    repeated = "how do I get help with school transport for my son in Kington"
    first = bundled_replies.respond(repeated)
    for n in range(20):  # more than the matcher keeps similarities for, so the repeat's are gone
        bundled_replies.respond(f"is there a club in Ledbury for a child of {n + 5} with autism")
    assert bundled_replies.matcher._similarities.peek(repeated) is None
    again = bundled_replies.respond(repeated)
    assert (again.outcome, again.topic) == (first.outcome, first.topic)
    bundled_replies.matcher.encoder.reader.submit(lambda: None).result(timeout=10)  # its queue is done
    assert bundled_replies.matcher._similarities.peek(repeated) is None  # not worked out again


def test_the_encoders_workers_get_pythons_lock_back_promptly() -> None:
    # A worker finishing a clause must not wait Python's default 5 ms for the reply's thread to let go.
    import sys

    from bot.semantic import LOCK_HANDOVER_S

    default_encoder()
    assert sys.getswitchinterval() <= LOCK_HANDOVER_S <= 0.001
