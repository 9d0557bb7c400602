"""Fragments: a short message that only makes sense after an earlier one.

"and if they say no?", "same for my daughter?", "how many weeks was it again" name no topic:
whatever answer the matcher finds for them is a guess from one or two generic words. The
bot asks for the whole question instead. A message that starts the same way but names its
subject ("second question, can they refuse an EHC needs assessment?") is not a fragment: it
goes to the matcher like any other.

A fragment is a short message with nothing left once the words that could belong to any
question are set aside (pronouns, question words, common verbs, small words), that either
starts as a follow-up ("and", "but", "what about", "same for") or points back ("that", "it",
"them", "the other one").
"""
from __future__ import annotations

import re

from .text import fold

MAX_WORDS = 10
_FOLLOW_UP = re.compile(
    r"^(?:and|but|so|also|or|then|plus|ok but|okay but|ok and|ok so|thanks and|thank you and|"
    r"what about|how about|same|second question|another question|next question|one more thing|"
    r"even if|no i mean|sorry i meant|i meant|no i meant|what if)\b"
)
_POINTS_BACK = frozenset("it its that thats this those them they theyre there then one ones".split())
# Words that could be part of a question about anything: on their own they name no subject.
_GENERIC = frozenset("""
    a an the and but so also or then plus ok okay thanks thank you lol yes no not
    i im ive me my mine we were our us you your u ur he hes him his she shes her hers they them their theyre
    it its that thats this those these there here one ones other another same second first next last again
    what whats when where which who whom whose why how hows is are was were be been being am isnt arent wasnt
    do does did doing done dont doesnt didnt can cant could couldnt will wont would wouldnt should shouldnt
    shall may might must have has had havent hasnt get got getting go going goes gone come make made
    need needs want wants know mean means meant say says said tell told ask asked try tried apply applies
    happen happens happened send sent wait waiting take takes took work works pay refuse refused
    to of in on at for with about from by as if even still already instead too just only really actually
    more much many long weeks week days months time free online first step steps number deadline form
    question sorry english again lol though anyway either neither any all some over under before after
""".split())
# Who and where, without what: "same for my daughter?", "is that the same at secondary".
_CONTEXT = frozenset("""
    son sons daughter daughters child childs children kid kids boy girl lad baby brother sister twins
    mum mom dad parent parents nan gran grandma grandad partner wife husband foster carer family
    school schools primary secondary college nursery sixth form year meeting letter teacher council
    old older younger age aged years
""".split())


def is_fragment(text: str) -> bool:
    """True for a short follow-up that names no subject of its own."""
    folded = fold(text)
    words = folded.split()
    if not words or len(words) > MAX_WORDS:
        return False
    if any(word not in _GENERIC and word not in _CONTEXT and not word.isdigit() for word in words):
        return False
    return bool(_FOLLOW_UP.match(folded)) or any(word in _POINTS_BACK for word in words)
