"""A reply as plain text: what the console shows, and the batch command's "reply" field."""
from __future__ import annotations

from .messages import Reply


def render(reply: Reply) -> str:
    """Plain text for a terminal: the answer, its contacts, then what to do next."""
    parts = [reply.title.upper()] if reply.title and reply.outcome == "answer" else []
    parts.append(reply.text)
    for contact in reply.contacts:
        parts.append("\n".join([contact.name, *(f"  {line}" for line in contact.lines)]))
    if reply.choices:
        parts.append("\n".join(f"  {n}. {c.title}" for n, c in enumerate(reply.choices, 1)))
        parts.append("Reply with a number.")
    if reply.related and not reply.choices:
        parts.append("Next: " + "; ".join(f"reply {n} for {c.title}" for n, c in enumerate(reply.related, 1)))
    elif reply.related:
        parts.append("Next: " + "; ".join(c.title for c in reply.related))
    if reply.footer:
        parts.append(reply.footer)
    return "\n\n".join(parts)
