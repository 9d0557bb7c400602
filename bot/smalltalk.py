"""Small talk: greetings, thanks, help, menu. It belongs to the bot, not to a knowledge base.

Only a whole message counts ("hi", "thanks so much x"), never a word inside a question,
so "help with an EHCP" still goes to the matcher.
"""
from __future__ import annotations

import re

from .text import fold

_KINDS: dict[str, tuple[str, ...]] = {
    "greeting": (
        "hi", "hello", "hey", "hiya", "heya", "yo", "hi there", "hello there", "good morning", "morning",
        "good afternoon", "afternoon", "good evening", "evening", "hello is anyone there", "anyone there",
        "is anyone there", "hi is anyone there", "hey there", "hallo", "helo", "hii", "hiii", "howdy",
        "how are you", "you ok", "are you there",
    ),
    "thanks": (
        "thanks", "thank you", "thankyou", "thanks so much", "thank you so much", "cheers", "ta", "thx",
        "ty", "many thanks", "thanks thats really helpful", "thats helpful", "that helps", "brilliant thanks",
        "great thanks", "perfect thanks", "lovely thanks", "thanks a lot", "thats great", "great", "brilliant",
        "thanks for your help", "thank you for your help", "helpful", "very helpful", "really helpful",
    ),
    "bye": ("bye", "goodbye", "bye bye", "see you", "night", "good night", "goodnight", "ttyl"),
    "acknowledge": (
        "ok", "okay", "k", "kk", "ok thanks", "okay thanks", "ok ta", "lol", "haha", "yes", "no", "yeah",
        "yep", "nope", "nah", "fine", "cool", "right", "alright", "hmm", "sure", "got it", "ok cool",
    ),
    "help": (
        "help", "help me", "info", "what can you do", "what do you do", "how does this work", "what is this",
        "who are you", "what are you", "are you a real person", "are you a robot", "are you a bot",
        "are you a real person or a robot", "is this a bot", "am i talking to a real person", "are you human",
        "what can i ask", "what can i ask you", "how do i use this", "can you help", "can you help me",
        "what can you help with", "what do you know",
    ),
    "menu": ("menu", "topics", "topic", "start", "main menu", "options", "list", "show topics", "show me the menu",
             "start again", "restart", "back", "home"),
}
_LOOKUP = {phrase: kind for kind, phrases in _KINDS.items() for phrase in phrases}
_TRAILING = re.compile(r"(?:\s+(?:x+|xx+|please|pls|mate|again))+$")


def smalltalk_kind(text: str) -> str | None:
    """The kind of small talk a whole message is, or None if it is a real question."""
    folded = fold(text)
    folded = _TRAILING.sub("", folded).strip()
    if folded.startswith("/"):
        folded = folded[1:]
    return _LOOKUP.get(folded)
