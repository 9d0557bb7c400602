"""What we tell families about their data, in plain words (PRIVACY, /privacy, FORGET, /forget)."""
from __future__ import annotations


def privacy_text(retention_days: int) -> str:
    return (
        "What we keep: the messages you send and which answer you got. Before anything is saved we "
        "remove phone numbers, email addresses, postcodes, dates of birth and names. We never store "
        "your phone number or your Telegram account; we keep only a scrambled code made from it.\n\n"
        "Why: so the council and NHS team can see which questions we could not answer, and improve "
        "the answers.\n\n"
        f"How long: {retention_days} days, then it is deleted.\n\n"
        "To delete it now, send FORGET (or /forget on Telegram)."
    )


def privacy_sms(retention_days: int) -> str:
    return (
        "We keep your messages (with numbers, emails, postcodes and names removed) for "
        f"{retention_days} days to improve answers. We never store your phone number. "
        "Text FORGET to delete them now."
    )


FORGET_CONFIRM = "This will delete everything we have kept from your messages. Are you sure?"
FORGOTTEN = "Done. We have deleted everything we kept from your messages."
