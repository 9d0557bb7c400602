"""What we tell families about their data, in plain words (PRIVACY, /privacy, FORGET, /forget).

It must match what bot/redaction.py really does, limits included: names written in an
unusual way can slip through, so the text says so and asks people to leave them out.
"""
from __future__ import annotations


def privacy_text(retention_days: int) -> str:
    return (
        "What we keep: the messages you send and which answer you got. Before anything is saved we "
        "remove phone numbers, email addresses, postcodes, street addresses, dates of birth, NHS and "
        "National Insurance numbers, and names we can recognise. We may miss a name or a detail written "
        "in an unusual way, so please leave out names and other personal details if you can. We never "
        "store your phone number or your Telegram account; we keep only a scrambled code made from it.\n\n"
        "Why: so the council and NHS team can see which questions we could not answer, and improve "
        "the answers.\n\n"
        f"How long: {retention_days} days, then it is deleted.\n\n"
        "To delete it now, send FORGET (or /forget on Telegram). By text or WhatsApp, FORGET deletes "
        "what we kept for your number on both."
    )


def privacy_sms(retention_days: int) -> str:
    return (
        f"We keep your messages for {retention_days} days to improve answers, with numbers, emails, "
        "postcodes, addresses and names removed (we may miss some, so please leave them out). "
        "We never store your phone number. Text FORGET to delete them now."
    )


FORGET_CONFIRM = "This will delete everything we have kept from your messages. Are you sure?"
FORGOTTEN = "Done. We have deleted everything we kept from your messages."
