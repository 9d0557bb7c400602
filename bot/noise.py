"""Messages that are not questions: console commands, bare numbers, greetings and thanks.

The bot may still log them as unanswered (a "1" with nothing to pick, an "exit" typed
over SMS), but they are not gaps in the knowledge: the store marks them `kind = "noise"`
when it logs them, and the editors' reports and `suggest` leave them out.
"""
from __future__ import annotations

from .smalltalk import smalltalk_kind
from .text import fold

KIND = "noise"
COMMANDS = frozenset("exit quit q clear cls help start stop menu end cancel reset restart back".split())
# Words that only ever make small talk, beyond those bot.smalltalk knows: "cheers mate that was useful".
_SMALL_WORDS = frozenset("""
    hi hello hey hiya heya hii hiii helo hallo howdy yo morning afternoon evening night goodnight bye goodbye byee
    thanks thank thankyou thanx thx ty ta cheers appreciated appreciate brill brilliant lovely helpful useful great
    amazing awesome perfect super fab fabulous wonderful excellent nice kind ok okay k kk lol haha yes yeah yep no
    nope nah fine cool sure mate hun love lovely again anyway bot robot anyone anybody someone there
""".split())
_FILLER = frozenset("""a an and are is it its so much very really you u r ur how good all im i am me my this that
    just thats x xx xxx or then oh ah was were be been for your the to of very much lot lots have has had
    has got get that's what s ve""".split())
MAX_WORDS = 10


def is_noise(text: str) -> bool:
    """True for a message that cannot be a question for the editors: a command, a number, small talk."""
    if len(text.split()) > MAX_WORDS and not text.replace(" ", "").isdigit():
        return False  # checked before folding: the editors' list reads thousands of questions
    folded = fold(text).strip().lstrip("/")
    if not folded:
        return True
    words = folded.split()
    if all(w.isdigit() for w in words):  # "1", "2 3": a pick with nothing to pick
        return True
    if folded in COMMANDS or smalltalk_kind(text) is not None:
        return True
    if len(words) > MAX_WORDS:
        return False
    return any(w in _SMALL_WORDS for w in words) and all(w in _SMALL_WORDS or w in _FILLER for w in words)


def logged_kind(outcome: str, kind: str | None, text: str) -> str | None:
    """The kind to log: an unanswered message that is noise is logged as such, anything else unchanged."""
    if outcome == "unanswered" and kind is None and is_noise(text):
        return KIND
    return kind
