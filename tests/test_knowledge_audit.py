"""The bundled answers keep what the content audit corrected (../shared/reviews/content-audit.md).

Each test names the audit row it holds. They read the bundled knowledge base as a parent would
receive it, so an editor who reverts a correction finds out here, not from a family.
"""
from __future__ import annotations

import pytest

from bot.knowledge import Entry, load_knowledge
from bot.replies import SMALLTALK


@pytest.fixture(scope="module")
def entries() -> dict[str, Entry]:
    return {e.id: e for e in load_knowledge().entries}


def test_a_parents_letter_is_a_request_and_starts_the_clock(entries: dict[str, Entry]) -> None:
    """Row 4: no form or Family Conversation is needed first; the 6 weeks run from the council getting it."""
    entry = entries["ehcp-request-assessment"]
    text = f"{entry.answer} {entry.sms}".lower()
    assert "no form" in text and "6 weeks" in text and "gets" in text
    assert "need not do one first" in text and "will still need" not in text


def test_who_can_ask_is_as_the_act_says(entries: dict[str, Entry]) -> None:
    """Row 5: a young person is past Year 11, not simply 16; a nursery cannot start the clock itself."""
    answer = entries["ehcp-request-assessment"].answer
    assert "left Year 11" in answer and "16 to 25" not in answer and "school, college or nursery" not in answer


def test_transport_follows_the_school_named_and_section_i_can_be_appealed(entries: dict[str, Entry]) -> None:
    """Rows 6 and 7: the named school normally counts, and a 'parents provide transport' condition is a Section I appeal."""
    assert "named in the plan" in entries["school-transport"].answer
    for entry_id in ("school-transport", "transport-appeal"):
        assert "section I" in entries[entry_id].answer, entry_id


def test_any_disabled_child_can_ask_for_a_child_in_need_assessment(entries: dict[str, Entry]) -> None:
    """Row 8: the Children with Disabilities Team's criteria are not the only door (Children Act 1989 s17)."""
    entry = entries["disabled-children-social-care"]
    assert "child in need" in entry.answer and "child in need" in entry.sms
    assert any("Children Act 1989, s17" in source for source in entry.sources)


def test_personal_budget_refusals_must_give_reasons(entries: dict[str, Entry]) -> None:
    """Row 9: the council need not always agree, but must say why; school direct payments need the school."""
    answer = entries["personal-budgets"].answer
    assert "must say why" in answer and "school to agree" in answer and "must work one out" not in answer


def test_plans_end_at_university(entries: dict[str, Entry]) -> None:
    """Row 18: an EHC plan lasts to 25 in school, college or training, not university."""
    assert "not university" in entries["preparing-for-adulthood"].answer


def test_carers_allowance_warns_about_other_benefits(entries: dict[str, Entry]) -> None:
    """Rows 16, 20, 38: Carer's Allowance can cut other benefits; the SMS names both benefits and no number."""
    entry = entries["benefits-and-money"]
    assert "other benefits" in entry.answer and "Carer's Allowance" in entry.sms and "0800" not in entry.sms


def test_law_changes_are_dated_not_in_force_and_flagged(entries: dict[str, Entry]) -> None:
    """Rows 28 and 29: the Education for All Bill and the 2026 Act are dated, 'not in force', and need checking."""
    for entry_id, law in (("send-law-changes", "Education for All Bill"), ("home-education", "Act 2026")):
        entry = entries[entry_id]
        assert law in entry.answer and "not in force" in entry.answer and "2026" in entry.answer, entry_id
        assert any("commencement" in note or "status" in note for note in entry.needs_check), entry_id


def test_drop_in_clinics_are_dated(entries: dict[str, Entry]) -> None:
    """Rows 12 and 32: drop-ins are known only from 2024-25 sources, so no answer sends parents to one undated."""
    for entry in entries.values():
        if "drop-in" in entry.answer:
            assert "2024-25" in entry.answer or "2025" in entry.answer, entry.id


def test_the_wait_is_answered_first(entries: dict[str, Entry]) -> None:
    """Row 35: the assessment answer starts with the honest position on waiting times."""
    first = entries["neurodevelopmental-assessment"].answer.split("\n\n")[0]
    assert "waiting times" in first


def test_danger_lines_use_the_sourced_wording(entries: dict[str, Entry]) -> None:
    """Row 2: 999 is for anyone in danger, not only when 'a life is at risk'."""
    for entry in entries.values():
        assert "life is at risk" not in f"{entry.answer} {entry.sms or ''}", entry.id


def test_mash_is_explained_where_it_is_named(entries: dict[str, Entry]) -> None:
    """Row 34: a frightened parent is told what MASH is."""
    for entry in entries.values():
        if "MASH" in entry.answer:
            assert "safeguarding" in entry.answer, entry.id


def test_self_referral_to_camhs_is_stated_firmly(entries: dict[str, Entry]) -> None:
    """Row 36: 'We have not found' becomes the sourced fact."""
    answer = entries["camhs-access"].answer
    assert "Parents can't refer directly" in answer and "We have not found" not in answer


def test_the_help_text_does_not_claim_official_authorship() -> None:
    """Row 26: the answers are checked against public sources, not written by the council or the NHS."""
    assert "written by" not in SMALLTALK["help"] and "sources" in SMALLTALK["help"]
