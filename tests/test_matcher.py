"""The matcher: ranking by weighted terms, typo tolerance, and the choice of outcome."""
from __future__ import annotations

from pathlib import Path

from bot.knowledge import load_knowledge
from bot.matcher import Matcher
from tests.conftest import write_kb


def matcher_for(kb: Path) -> Matcher:
    return Matcher(load_knowledge(kb))


def test_plain_question_is_answered(small_kb: Path) -> None:
    """A question worded like an entry's example is answered with that entry."""
    decision = matcher_for(small_kb).decide("how can I apply for an EHCP for my son")
    assert decision.outcome == "answer"
    assert decision.best.entry.id == "ehcp-request"


def test_lexicon_and_typos(small_kb: Path) -> None:
    """Variants from the lexicon and misspellings reach the right entry."""
    matcher = matcher_for(small_kb)
    assert matcher.decide("wot is an echp").best.entry.id == "ehcp-what-is"
    assert matcher.decide("transprot to scool").best.entry.id == "school-transport"
    assert "assessment" in matcher.words("request an assesment")


def test_rare_words_outweigh_common_ones(small_kb: Path) -> None:
    """'taxi' decides the entry even though 'how do i get' matches elsewhere."""
    assert matcher_for(small_kb).decide("how do i get a taxi").best.entry.id == "school-transport"


def test_unrelated_question_is_unanswered(small_kb: Path) -> None:
    """A question sharing no meaningful words is not answered."""
    assert matcher_for(small_kb).decide("is the swimming pool open on sunday").outcome == "unanswered"


def test_close_candidates_give_a_clarify(tmp_path: Path) -> None:
    """Two entries that fit equally well are offered as a choice, not guessed between."""
    kb = write_kb(tmp_path / "kb", """
        - {id: camhs-referral, title: CAMHS referral, questions: [camhs referral for anxiety], answer: a}
        - {id: camhs-waiting, title: CAMHS waiting, questions: [camhs waiting for anxiety], answer: b}
        - {id: other, title: Other, questions: [school transport], answer: c}
        """)
    decision = matcher_for(kb).decide("referral or waiting for camhs")  # asks about both
    assert decision.outcome == "clarify"
    assert {c.entry.id for c in decision.candidates} == {"camhs-referral", "camhs-waiting"}


def test_when_the_meaning_disagrees_with_the_words_both_are_offered(tmp_path: Path) -> None:
    """"How long" and "wait" are the CAMHS waiting entry's words, but the question is about an EHC plan,
    which the sentence model's similarity and classifier both rank first: both are offered, not the
    words' answer alone. Without the dissent rule the waiting list would be the answer."""
    from dataclasses import replace

    matcher = matcher_for(write_kb(tmp_path / "kb"))
    decision = matcher.decide("how long is the wait for an ehcp")
    assert decision.outcome == "clarify"
    assert [c.entry.id for c in decision.candidates] == ["camhs-waiting", "ehcp-what-is"]
    matcher.thresholds = replace(matcher.thresholds, dissent_window=None)
    matcher.forget_decisions()
    assert matcher.decide("how long is the wait for an ehcp").outcome == "answer"


def test_other_area_names_are_never_corrected(tmp_path: Path) -> None:
    """Hertfordshire is one letter from Herefordshire; spelling correction must not merge them."""
    kb = write_kb(tmp_path / "kb", "- {id: a, title: A, questions: [local offer herefordshire], answer: x}\n",
                  areas="areas:\n  home: [Herefordshire]\n  others: [Hertfordshire]\n  reply: Not here, {area}.\n")
    assert matcher_for(kb).words("hertfordshire local offer")[0] == "hertfordshire"


def test_out_of_scope_entry_is_never_an_answer(tmp_path: Path) -> None:
    """Matching an out-of-scope entry gives 'unanswered', however strong the match."""
    kb = write_kb(tmp_path / "kb", """
        - {id: bins, kind: out-of-scope, title: Bins, questions: [when is my bin collected], answer: Not us.}
        - {id: a, title: A, questions: [short breaks], answer: x}
        """)
    decision = matcher_for(kb).decide("when is my bin collected")
    assert decision.outcome == "unanswered" and decision.best.entry.id == "bins"


def test_an_out_of_scope_entry_close_behind_the_answer_leaves_the_question(tmp_path: Path) -> None:
    """A budget planner app is not a personal budget: with an out-of-scope entry close behind the best
    answer, the question gets the out-of-scope entry's reply, not the near topic's answer; further behind,
    the answer stands; without the rule (None), the near topic is answered."""
    from dataclasses import replace

    kb = write_kb(tmp_path / "kb", """
        - {id: personal-budgets, title: Personal budgets, answer: x, questions:
            [personal budget for an ehc plan, can i get direct payments instead of services, how do personal budgets work]}
        - {id: shops, kind: out-of-scope, title: Shops and apps, answer: Not us., questions:
            [household budget planner app, which app is best for budgeting, recommend a shop]}
        - {id: transport, title: Transport, questions: [school transport for my son, taxi to school], answer: c}
        """)
    matcher = matcher_for(kb)
    close, far = "personal budget planner recommendation", "is there a personal budget planner"
    gaps = {q: [c.score for c in matcher.rank(q)] for q in (close, far)}
    assert [c.entry.id for c in matcher.rank(close)][:2] == ["personal-budgets", "shops"]
    assert gaps[close][0] - gaps[close][1] < 0.12 < gaps[far][0] - gaps[far][1]
    matcher.thresholds = replace(matcher.thresholds, out_of_scope_margin=0.12)
    matcher.forget_decisions()
    decision = matcher.decide(close)
    assert decision.outcome == "unanswered" and decision.best.entry.id == "shops"
    assert matcher.decide(far).outcome == "answer"
    matcher.thresholds = replace(matcher.thresholds, out_of_scope_margin=None)
    matcher.forget_decisions()
    assert matcher.decide(close).outcome == "answer"


def test_trained_weights_are_cached_by_what_they_learned_from(small_kb: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    """A second start reads the matcher's weights from SIGNPOST_CACHE_DIR and ranks exactly as
    the first; an edited knowledge base never reads the old weights; a damaged file is retrained."""
    monkeypatch.setenv("SIGNPOST_CACHE_DIR", str(tmp_path / "cache"))
    questions = ["how can I apply for an EHCP", "wot is an echp", "taxi to school", "swimming on sunday"]

    def ranks(matcher: Matcher) -> list[list[tuple[str, float]]]:
        return [[(c.entry.id, c.score) for c in matcher.rank(q)] for q in questions]

    first = matcher_for(small_kb)
    saved = sorted((tmp_path / "cache").glob("matcher-*.npz"))
    assert len(saved) == 1
    assert ranks(matcher_for(small_kb)) == ranks(first)

    edited = tmp_path / "edited"
    edited.mkdir()
    for path in small_kb.iterdir():
        text = path.read_text(encoding="utf-8")
        (edited / path.name).write_text(text.replace("taxi", "minibus"), encoding="utf-8")
    matcher_for(edited)
    assert len(list((tmp_path / "cache").glob("matcher-*.npz"))) == 2

    saved[0].write_bytes(b"not a numpy file")
    assert ranks(matcher_for(small_kb)) == ranks(first)


def test_a_repeated_message_is_decided_once_per_thresholds(small_kb: Path) -> None:
    """Decisions are kept for repeats, but never across a change of thresholds."""
    from dataclasses import replace

    matcher = matcher_for(small_kb)
    first = matcher.decide("how do i get a taxi")
    assert matcher.decide("how do i get a taxi") is first
    matcher.thresholds = replace(matcher.thresholds, answer=0.99, sure=0.99, clarify=0.99)
    assert matcher.decide("how do i get a taxi").outcome == "unanswered"
