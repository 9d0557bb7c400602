"""How the bot reads what families write: fragments, questions inside stories, two questions at once."""
from __future__ import annotations

import pytest

from bot.adults import adult_asking_for_self
from bot.emergency import DANGER_FOOTER
from bot.fragments import is_fragment
from bot.matcher import asks_something
from bot.replies import Replies


@pytest.mark.parametrize("text", [
    "and if they say no?", "same for my daughter?", "what about the other one", "how many weeks was it again",
    "ok but how long does that take", "does that apply to foster kids too", "can my mum do it instead of me",
    "second question, can they refuse", "is it free", "what if hes over 16",
])
def test_a_follow_up_that_names_no_subject_is_a_fragment(text: str) -> None:
    assert is_fragment(text)


@pytest.mark.parametrize("text", [
    "what about short breaks?", "second question, can they refuse an EHC needs assessment?",
    "can my son go to college", "is there help for my daughter", "and what is DLA", "ehcp", "hi",
    "how do I ask for an EHC needs assessment for my son, he is 7 and the school says no",
])
def test_a_message_that_names_its_subject_is_not_a_fragment(text: str) -> None:
    assert not is_fragment(text)


def test_a_fragment_is_asked_for_the_whole_question_not_answered(bundled_replies: Replies) -> None:
    reply = bundled_replies.respond("and if they say no?")
    assert reply.outcome == "unanswered" and reply.kind == "fragment" and reply.topic is None
    assert "whole question" in reply.text and reply.footer == DANGER_FOOTER


def test_a_fragment_with_a_risk_still_gets_the_crisis_reply(bundled_replies: Replies) -> None:
    """The safety check runs before anything else, fragments included."""
    assert bundled_replies.respond("and what if I just end it tonight").outcome == "crisis"


@pytest.mark.parametrize("sentence, asks", [
    ("how do i get an ehcp", True), ("so who do i talk to about it", True), ("Can they refuse", True),
    ("i need help with transport", True), ("My son is 7.", False), ("He has autism and ADHD", False),
    ("The school says he is fine.", False), ("anyway is there anything for us?", True),
])
def test_a_sentence_that_asks_is_told_from_background(sentence: str, asks: bool) -> None:
    assert asks_something(sentence) is asks


def test_two_questions_answer_one_and_offer_the_other_first(bundled_replies: Replies) -> None:
    """The clearer question is answered; the other topic is the first next step, pickable by number."""
    reply = bundled_replies.respond(
        "How long do we have to respond to the draft EHC plan? And can the council refuse the school we ask for?")
    assert reply.outcome == "answer"
    assert reply.related and reply.related[0].id != reply.topic
    assert {reply.topic, reply.related[0].id} == {"ehcp-timescales", "choosing-a-school"}


def test_one_question_keeps_the_entrys_own_next_steps(bundled_replies: Replies) -> None:
    reply = bundled_replies.respond("How long does the council have to finish an EHC needs assessment?")
    entry = bundled_replies.knowledge.entry(reply.topic)
    assert [c.id for c in reply.related] == [r for r in entry.related if bundled_replies.knowledge.entry(r)]


# Written for this test, not taken from any question set.
@pytest.mark.parametrize("text", [
    "I'm 52 and I think I might be autistic, where do I go to get assessed?",
    "im 34 n pretty sure im dyslexic, can i get tested",
    "I am aged 61 with a bad hip. Could I get a Blue Badge?",
    "I'm a 38 year old woman and I struggle with reading. Is there a test for dyspraxia?",
])
def test_an_adult_asking_about_their_own_needs_gets_the_adult_services_reply(
        bundled_replies: Replies, text: str) -> None:
    reply = bundled_replies.respond(text)
    assert reply.outcome == "unanswered" and reply.kind == "out-of-scope", reply
    assert "adult social care" in reply.text


@pytest.mark.parametrize("text", [
    "I'm 45 and my son has ADHD, how do I get him assessed?",
    "I'm 23 and autistic, can I get help to stay on at college?",
    "I'm 30 weeks pregnant and worried about nursery for my toddler with Down's syndrome",
    "I'm 40 and my 6 year old has been waiting two years for an autism assessment",
    "I'm 50, a carer, and I need a break. Who can help?",
    "I'm 99% sure I've filled the DLA form in wrong",
    "I'm 35 minutes from the nearest special school, is there transport?",
])
def test_a_message_about_someone_else_a_young_person_or_a_quantity_is_not_an_adults_own(text: str) -> None:
    assert not adult_asking_for_self(text)
