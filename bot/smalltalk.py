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
        "test", "testing", "test test", "testing testing", "testing 123", "test 123", "test message",
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


# Words that only ever make small talk, by kind, in the order a mixed message is read
# ("thanks, bye" is thanks). A short message made only of these and of _FILLER is small
# talk however it is put together: "hiya there how r u", "thank u so much", "ok cheers".
_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("help", frozenset("help info bot robot human person computer ai chatbot".split())),
    ("menu", frozenset("menu topics".split())),
    ("thanks", frozenset("thanks thank thankyou thx ty ta cheers appreciated brill brilliant lovely helpful useful".split())),
    ("greeting", frozenset("hi hello hey hiya heya hii hiii helo hallo morning afternoon evening".split())),
    ("bye", frozenset("bye goodbye byee night goodnight".split())),
    ("acknowledge", frozenset("ok okay k kk lol haha yes yeah yep no nope nah fine cool sure great".split())),
)
_FILLER = frozenset("""a an and are is it its so much very really you u r ur how there good anyone anybody someone yet
    all im i am me my this that just thats x xx xxx or real talking to again then oh ah""".split())
_KNOWN = frozenset().union(*(vocabulary for _, vocabulary in _WORDS)) | _FILLER
MAX_WORDS = 7


def _by_words(words: list[str]) -> str | None:
    if not words or len(words) > MAX_WORDS:
        return None
    kinds = [kind for kind, vocabulary in _WORDS if any(w in vocabulary for w in words)]
    if not kinds or any(w not in _KNOWN for w in words):
        return None
    return kinds[0]


def smalltalk_kind(text: str) -> str | None:
    """The kind of small talk a whole message is, or None if it is a real question."""
    folded = _TRAILING.sub("", fold(text)).strip()
    return _LOOKUP.get(folded) or _by_words(folded.split())
