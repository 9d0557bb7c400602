"""The conversation core: outcomes, follow-ups that depend on the previous reply, and the log."""
from __future__ import annotations

import datetime as dt

from bot.conversation import Conversation
from bot.plain import render
from bot.messages import Incoming
from bot.replies import Replies
from bot.store import SQLiteStore


def ask(conversation: Conversation, text: str, sender: str = "s1"):
    return conversation.reply_to(sender, text)


def test_clarify_then_number_picks_the_option(small_replies: Replies) -> None:
    """After a clarify, '2' answers with the second option offered."""
    conversation = Conversation(small_replies)
    first = ask(conversation, "camhs")
    assert first.outcome == "clarify" and len(first.choices) >= 2
    picked = ask(conversation, "2")
    assert picked.outcome == "answer" and picked.topic == first.choices[1].id


def test_clarify_then_title_words_pick_the_option(small_replies: Replies) -> None:
    """After a clarify, typing an option's title picks it."""
    conversation = Conversation(small_replies)
    first = ask(conversation, "camhs")
    picked = ask(conversation, first.choices[0].title.lower())
    assert picked.topic == first.choices[0].id


def test_number_without_a_choice_is_not_an_answer(small_replies: Replies) -> None:
    """'2' out of the blue is not treated as a pick."""
    assert ask(Conversation(small_replies), "2").outcome == "unanswered"


def test_menu_then_group_then_topic(small_replies: Replies) -> None:
    """MENU lists groups; a number opens a group; a number there answers a topic."""
    conversation = Conversation(small_replies)
    menu = ask(conversation, "MENU")
    assert menu.outcome == "smalltalk" and [c.title for c in menu.choices] == ["EHC plans", "Family life"]
    group = ask(conversation, "2")
    assert [c.id for c in group.choices] == ["short-breaks", "school-transport"]
    assert ask(conversation, "1").topic == "short-breaks"


def test_more_gives_the_full_answer_and_counts_the_parts(small_replies: Replies) -> None:
    """'more' after an answer gives it in full, numbered 1, 2, ... so that a paging channel sends the next
    part each time; a new answer starts the count again."""
    conversation = Conversation(small_replies)
    ask(conversation, "respite care for disabled children")
    more = ask(conversation, "MORE")
    assert more.kind == "more" and more.topic == "short-breaks" and more.part == 1
    assert more.text == small_replies.knowledge.entry("short-breaks").answer
    assert [ask(conversation, "more").part for _ in range(2)] == [2, 3]
    ask(conversation, "free transport to school")
    assert ask(conversation, "more").part == 1


def test_senders_do_not_share_state(small_replies: Replies) -> None:
    """One parent's choices mean nothing in another parent's chat."""
    conversation = Conversation(small_replies)
    ask(conversation, "camhs", sender="a")
    assert ask(conversation, "2", sender="b").outcome == "unanswered"


def test_smalltalk_and_empty(small_replies: Replies) -> None:
    """Greetings, thanks and an empty message get a short reply, never a matched answer."""
    conversation = Conversation(small_replies)
    assert ask(conversation, "hiya").kind == "greeting"
    assert ask(conversation, "thanks x").kind == "thanks"
    assert ask(conversation, "   ").kind == "empty"


def test_crisis_comes_before_matching(small_replies: Replies) -> None:
    """A message with a risk to life gets the crisis reply even when it also asks a SEND question."""
    reply = ask(Conversation(small_replies), "how do i apply for an ehcp, i want to kill myself")
    assert reply.outcome == "crisis" and "999" in reply.text


def test_answer_shows_checked_contacts_and_opening(small_replies: Replies) -> None:
    """An answer carries its services' checked details and whether the line is open now."""
    monday_10am = dt.datetime(2026, 11, 23, 10, 0)
    reply = small_replies.answer(small_replies.knowledge.entry("ehcp-what-is"), 1.0, monday_10am)
    assert reply.contacts[0].lines[0] == "Phone: 01905 768153"
    assert reply.contacts[0].lines[-1].startswith("Open now")
    saturday = dt.datetime(2026, 11, 28, 10, 0)
    closed = small_replies.answer(small_replies.knowledge.entry("ehcp-what-is"), 1.0, saturday)
    assert "opens Monday 9am" in closed.contacts[0].lines[-1]


async def test_every_message_is_logged(small_replies: Replies, store: SQLiteStore) -> None:
    """handle() writes one row per message with its outcome and topic, and returns the row id."""
    conversation = Conversation(small_replies, store)
    reply = await conversation.handle(Incoming("console", "key1", "free transport to school"))
    assert reply.log_id
    rows = await (await store.db.execute("SELECT sender, outcome, topic FROM messages")).fetchall()
    assert [tuple(r) for r in rows] == [("key1", "answer", "school-transport")]


def test_smalltalk_however_it_is_put_together(small_replies: Replies) -> None:
    """Short messages made only of greeting, thanks or chat words are small talk; a question is not."""
    conversation = Conversation(small_replies)
    assert ask(conversation, "hiya there how r u").kind == "greeting"
    assert ask(conversation, "thank u so much!!").kind == "thanks"
    assert ask(conversation, "are you a bot or a human").kind == "help"
    assert ask(conversation, "hi, free transport to school?").outcome == "answer"


def test_a_next_step_is_picked_by_its_number(small_replies: Replies) -> None:
    """After an answer, '1' answers its first related topic, as the console and SMS number them."""
    conversation = Conversation(small_replies)
    first = ask(conversation, "what is an ehcp")
    assert first.topic == "ehcp-what-is" and first.related
    assert "reply 1 for " + first.related[0].title in render(first)
    assert ask(conversation, "1").topic == first.related[0].id


def test_more_with_nothing_to_expand_says_so(small_replies: Replies) -> None:
    """'more' before any answer does not guess a topic: it says there is nothing more and offers the menu."""
    reply = ask(Conversation(small_replies), "more")
    assert reply.outcome == "smalltalk" and reply.kind == "nothing-more" and reply.choices


async def test_after_a_no_the_next_comment_is_kept_for_editors_not_answered(small_replies: Replies, store) -> None:
    """After "no" to "did this help?", the next message that is not plainly a question is logged redacted
    under the answer's topic as feedback detail and thanked; the message after it is answered as usual."""
    conversation = Conversation(small_replies, store)
    answer = await conversation.handle(Incoming("telegram", "k", "what is an ehcp"))
    offer = conversation.not_helped("k", answer.log_id)
    assert offer.kind == "not-helped" and [c.id for c in offer.related] == ["ehcp-request"]
    detail = await conversation.handle(Incoming("telegram", "k", "nothing about timescales, ring me on 07700 900123"))
    assert detail.kind == "feedback-detail" and detail.outcome == "smalltalk"
    after = await conversation.handle(Incoming("telegram", "k", "respite care for disabled children"))
    assert after.topic == "short-breaks"
    rows = await (await store.db.execute("SELECT text, outcome, topic, kind FROM messages ORDER BY id")).fetchall()
    text, outcome, topic, kind = rows[1]
    assert (outcome, topic, kind) == ("smalltalk", "ehcp-what-is", "feedback-detail")
    assert "nothing about timescales" in text and "07700 900123" not in text


async def test_after_a_no_a_question_a_pick_or_a_crisis_is_answered_as_usual(small_replies: Replies) -> None:
    """A plain question, a related topic's number, small talk or a crisis after "no" is not taken as feedback."""
    for text, expected in [("how do i apply for an ehcp?", "answer"), ("1", "answer"), ("thanks", "smalltalk"),
                           ("i want to kill myself", "crisis")]:
        conversation = Conversation(small_replies)
        await conversation.handle(Incoming("sms", "k", "what is an ehcp"))
        conversation.not_helped("k", 1, shown=("ehcp-request",))
        reply = await conversation.handle(Incoming("sms", "k", text))
        assert reply.outcome == expected and reply.kind != "feedback-detail", text


async def test_a_button_after_a_no_ends_the_wait_for_what_was_missing(small_replies: Replies) -> None:
    """After "no", pressing a topic button means the parent moved on: their next words are a question again."""
    conversation = Conversation(small_replies)
    await conversation.handle(Incoming("telegram", "k", "what is an ehcp"))
    conversation.not_helped("k", 1, shown=("ehcp-request",))
    await conversation.pick(Incoming("telegram", "k", "[button] ehcp-request"), "ehcp-request")
    reply = await conversation.handle(Incoming("telegram", "k", "respite care for disabled children"))
    assert reply.topic == "short-breaks"
