"""Contacts are honest on every channel, and the bundled base keeps what the content audit fixed."""
from __future__ import annotations

from pathlib import Path

from bot.channels.sms import compact_contact, sms_bodies, whatsapp_bodies
from bot.checks import check_knowledge
from bot.contacts import UNCONFIRMED, UNCONFIRMED_SHORT, contacts_for
from bot.knowledge import load_knowledge
from bot.messages import Contact, Reply
from bot.replies import Replies
from bot.unconfirmed import unmarked, unmarked_contacts
from tests.conftest import write_kb

UNCHECKED_SERVICES = """
    services:
      - id: sendiass
        name: SENDIASS
        phone: "01905 768153"
        checked: false
      - id: chat
        name: CHAT
        phone: "01432 260261"
        checked: true
    """


def test_sms_marks_an_unconfirmed_number_on_its_own_line() -> None:
    """The SMS line for an unchecked service ends with the short marker; a checked one has none."""
    unchecked = Contact("SENDIASS", ("Phone: 01905 768153", UNCONFIRMED))
    checked = Contact("CHAT", ("Phone: 01432 260261",))
    assert compact_contact(unchecked) == f"SENDIASS: 01905 768153 {UNCONFIRMED_SHORT}"
    assert compact_contact(checked) == "CHAT: 01432 260261"


def test_every_channel_shows_the_marker_beside_an_unconfirmed_number(tmp_path: Path) -> None:
    """An answer listing an unchecked service shows its marker on SMS, after MORE and on WhatsApp."""
    knowledge = load_knowledge(write_kb(tmp_path / "kb", services=UNCHECKED_SERVICES))
    entry = knowledge.entry("ehcp-what-is")
    reply = Reply("answer", entry.answer, short=entry.sms, topic=entry.id, title=entry.title,
                  contacts=contacts_for(("sendiass", "chat"), knowledge))
    [sms] = sms_bodies(reply)
    assert f"SENDIASS: 01905 768153 {UNCONFIRMED_SHORT}" in sms.splitlines()
    assert "CHAT: 01432 260261" in sms.splitlines()
    whatsapp = "\n".join(whatsapp_bodies(reply))
    assert "01905 768153" in whatsapp and not unmarked(whatsapp, "01905 768153", "block")
    assert not unmarked_contacts(knowledge)


def test_the_check_finds_a_number_shown_bare() -> None:
    """A bare unconfirmed number is caught per line on SMS and per block elsewhere; a longer address is not it."""
    assert unmarked("SENDIASS: 01905 768153\nCHAT: 0 (not yet confirmed)", "01905 768153", "line")
    assert not unmarked("SENDIASS\nPhone: 01905 768153\n" + UNCONFIRMED, "01905 768153", "block")
    assert not unmarked("Zone: https://x.gov.uk/local-offer/zone", "https://x.gov.uk/local-offer/", "line")


def test_kb_check_errors_on_an_unconfirmed_number_typed_into_the_sms(tmp_path: Path) -> None:
    """An unchecked service's number written straight into an `sms` text is sent bare: an error."""
    entries = """
    - id: ehcp-what-is
      title: What an EHC plan is
      questions: [what is an ehcp]
      answer: An EHC plan is a legal document.
      sms: An EHC plan is a legal document. Call SENDIASS on 01905 768153.
      services: [sendiass]
    """
    report = check_knowledge(write_kb(tmp_path / "kb", entries, services=UNCHECKED_SERVICES))
    assert any("ehcp-what-is" in e and "01905 768153" in e and "on sms" in e for e in report.errors)


def test_kb_check_errors_on_an_unconfirmed_number_typed_into_the_answer(tmp_path: Path) -> None:
    """A number typed into the full answer reaches families through MORE, bare: an error too."""
    entries = """
    - id: ehcp-what-is
      title: What an EHC plan is
      questions: [what is an ehcp]
      answer: An EHC plan is a legal document. Call SENDIASS on 01905 768153 to talk it through.
      sms: An EHC plan is a legal document.
    """
    report = check_knowledge(write_kb(tmp_path / "kb", entries, services=UNCHECKED_SERVICES))
    assert any("ehcp-what-is" in e and "01905 768153" in e for e in report.errors)


def test_the_bundled_base_never_shows_an_unconfirmed_detail_bare() -> None:
    """Every answer and the unanswered reply, on every channel, mark every unconfirmed detail."""
    knowledge = load_knowledge()
    assert any(not s.checked and s.phone for s in knowledge.services.values())  # the check has work to do
    assert unmarked_contacts(knowledge) == []


def test_the_unanswered_sms_marks_sendiass(bundled_replies: Replies) -> None:
    """The unanswered reply sends SENDIASS's number by SMS with its marker, as long as it is unchecked."""
    [body] = sms_bodies(bundled_replies.unanswered(0.0))
    line = next(line for line in body.splitlines() if "SENDIASS" in line and any(c.isdigit() for c in line))
    assert not bundled_replies.knowledge.services["sendiass"].checked and line.endswith(UNCONFIRMED_SHORT)


def test_national_bodies_are_not_sent_to_the_local_offer() -> None:
    """Family Fund, Carer's Allowance and the SEND Tribunal show their own web address."""
    services = load_knowledge().services
    for service in ("family-fund", "gov-carers-allowance", "send-tribunal"):
        assert services[service].web, service


def test_an_out_of_scope_sms_keeps_its_safety_line(bundled_replies: Replies) -> None:
    """A possible overdose the crisis check misses still gets 999 and 111 by SMS (out-of-scope `sms`)."""
    medicines = bundled_replies.knowledge.entry("oos-medicines")
    [body] = sms_bodies(bundled_replies.out_of_scope(medicines, 0.5))
    assert "999" in body and "111" in body


def test_a_herefordshire_family_naming_worcester_services_is_not_out_of_area(bundled_replies: Replies) -> None:
    """Joint services and schools across the border are not another council; living elsewhere is."""
    ours = ["my son's school is in Worcestershire, we live in Hereford",
            "is the sendiass number a worcester one",
            "the ICB in Worcester turned down right to choose for my son",
            "my daughter is at a residential school in Gloucestershire, who pays for transport"]
    for text in ours:
        assert bundled_replies.respond(text).kind != "out-of-area", text
    assert bundled_replies.respond("we live in Worcester, how do I get an EHCP").kind == "out-of-area"
