"""Tests for bot/crisis.py and knowledge/safety/crisis.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.crisis import CrisisHit, CrisisRules, detect_crisis, load_crisis_rules

DEV_SET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="module")
def rules() -> CrisisRules:
    return load_crisis_rules()


def _category(text: str, rules: CrisisRules) -> str | None:
    hit = detect_crisis(text, rules)
    return hit.category if hit else None


# ------------------------------------------------------------------ categories

CATEGORY_EXAMPLES = [
    ("suicide", "My daughter told me she is going to kill herself tonight"),
    ("suicide", "i feel suicidal"),
    ("suicide", "he says he wants to die"),
    ("suicide", "I want to end my life"),
    ("suicide-method", "whats the quickest way to die"),
    ("suicide-method", "what happens if you take enough of your sleeping tablets, asking for me"),
    ("suicide-method", "how many paracetamol would kill me"),
    ("self-harm", "my son is self harming"),
    ("self-harm", "she has been cutting her arms"),
    ("self-harm", "I found razor blades in her room"),
    ("overdose", "she took an overdose an hour ago"),
    ("overdose", "he took a whole packet of paracetamol"),
    ("overdose", "my son swallowed 20 of his tablets"),
    ("abuse", "my stepdad hits me when mum is out"),
    ("abuse", "I think my daughter is being groomed by a man online"),
    ("abuse", "her uncle touches her private parts"),
    ("domestic-violence", "my husband threatened to kill me"),
    ("domestic-violence", "my partner punched me in front of the kids"),
    ("domestic-violence", "he hides our daughter's insulin to punish me when I answer back"),
    ("domestic-violence", "we have not been allowed to eat since Sunday, he locks the cupboards"),
    ("domestic-violence", "I'm not supposed to see him, there's a safety plan, but he's moved back in"),
    ("domestic-violence", "my husband broke my wrist last month and he is still here"),
    ("domestic-violence", "locked in. no phone. please"),
    ("suicide", "tablets r out, kids asleep, sorry"),
    ("suicide", "who gets his DLA? I won't be around after this weekend"),
    ("danger", "my son is attacking me with a knife right now"),
    ("danger", "he grabbed me by the throat"),
    ("missing-child", "my autistic son is missing and we cant find him"),
    ("missing-child", "she hasnt come home and its past midnight"),
    ("missing-child", "nobody has seen him since lunchtime and his phone is off"),
    ("missing-child", "she has not been seen since 4pm"),
    ("parent-breaking-point", "I'm scared I'm going to hurt my baby"),
    ("parent-breaking-point", "I don't trust myself around the kids"),
    ("parent-breaking-point", "please can someone have him tonight before I hurt him"),
    ("parent-breaking-point", "social care need to take her before I do something I'll regret"),
    ("medical-emergency", "my son is having a seizure and it will not stop"),
    ("medical-emergency", "my baby is not breathing"),
    ("medical-emergency", "she swallowed a button battery"),
    ("medical-emergency", "he banged his head on the radiator an hour ago and now he keeps being sick"),
    ("medical-emergency", "she has a shunt and has a terrible headache and keeps vomiting"),
    ("medical-emergency", "anaphylaxis, used her pen, ambulance not here yet, what do i do"),
    ("suicide-farewell", "nobody listened. by the time somebody sees this i'll be gone"),
]


@pytest.mark.parametrize("category,text", CATEGORY_EXAMPLES)
def test_each_category_fires(category: str, text: str, rules: CrisisRules) -> None:
    """A clear message of each kind is caught under the expected category."""
    assert _category(text, rules) == category


def test_hit_names_the_rule_not_the_message(rules: CrisisRules) -> None:
    """A hit reports the rule that fired and never the family's own words."""
    hit = detect_crisis("Jack Smith said he wants to die", rules)
    assert isinstance(hit, CrisisHit)
    assert hit.pattern.startswith(("phrase: ", "pattern: "))
    assert "jack" not in hit.pattern.lower()


# ------------------------------------------------------------------ typos and text-speak


@pytest.mark.parametrize(
    "text",
    [
        "i want to kil myself",
        "im feeling suicidel",
        "my daughter is sucidal",
        "she has been self harming",
        "she has been selfharming",
        "she has been self-harming",
        "he took an od",
        "i think he has taken an overdose",
        "i wanna die",
        "i just want 2 die",
        "u would all be better off without me",
        "son is attacking me with a knife rn",
        "kms",
        "I DON\u2019T WANT TO BE ALIVE ANYMORE",
        "killllll myself",
        "she took a whole pack of paracetemol",
    ],
)
def test_typos_and_text_speak_fire(text: str, rules: CrisisRules) -> None:
    """Common misspellings, text-speak, capitals and curly apostrophes are still caught."""
    assert detect_crisis(text, rules) is not None


# ------------------------------------------------------------------ indirect phrasing


@pytest.mark.parametrize(
    "text",
    [
        "he keeps saying he doesn't want to be here anymore",
        "found cuts on her arms",
        "everyone would be better off without me",
        "ive been saving up my tablets",
        "i just want to go to sleep and not wake up",
        "writing goodbye letters to my kids",
        "hv had enuf. 2nite is the nite. bye x",
        "this is my final message. look after the kids for me",
        "cant take any more. tonight is the night",
        "a man is picking her up tonight",
        "my 15 year old hasn't come home",
        "my son has locked himself in his room and has a rope",
        "her seizure is not stopping",
        "me and my brother are hiding upstairs",
        "I don't think I'll be here much longer",
        "some days I think about driving my car into a tree",
        "she has been searching how many pills it takes to die",
        "I sit with my sleeping tablets and think about taking the lot",
        "theres no point in living anymore",
        "life isn't worth living",
        "my son's carer left bruises all over his arms",
        "my husband says if I leave he'll hurt the kids",
        "she's with older men who give her drugs",
        # Written for these tests after crisis set 6's misses (a ligature, the top of a car park, voices):
        "ive tied a rope to the loft hatch",
        "he's looped his dressing gown cord over the banister",
        "im going to jump off the top of the multi storey",
        "the voices keep telling him to stab his brother",
    ],
)
def test_indirect_phrasing_fires(text: str, rules: CrisisRules) -> None:
    """Risk said indirectly (no word like 'suicide') is still caught."""
    assert detect_crisis(text, rules) is not None


def test_risk_hidden_in_a_long_send_question(rules: CrisisRules) -> None:
    """A risk sentence buried in the middle of a long SEND question still fires."""
    text = (
        "We have been fighting for an EHCP for two years and the tribunal is next month. "
        "School ring me every day to collect him. Some nights I look at my pills and think "
        "about taking them all. Anyway, how long does the tribunal take to decide?"
    )
    assert detect_crisis(text, rules) is not None


# ------------------------------------------------------------------ must not fire


@pytest.mark.parametrize(
    "text",
    [
        "crisis in SEND funding",
        "The crisis in SEND funding is all over the news",
        "What are the CAMHS crisis team waiting list times?",
        "my son has meltdowns at school",
        "I'm at breaking point with tiredness",
        "he hits me when he has a meltdown, is there a course?",
        "my 11 year old hits and kicks me when he is angry",
        "my daughter headbutts and bites me during meltdowns",
        "How much melatonin can I give my 6 year old?",
        "What's the maximum dose of methylphenidate for a 10 year old?",
        "how to kill time on a long journey with an autistic child",
        "I'm dying to know when the panel meets",
        "his annual review is overdue",
        "overdue annual review",
        "the 2 year wait is killing me",
        "he has no sense of danger near roads",
        "he is missing school because of anxiety",
        "he can't use a knife and fork, can the OT help?",
        "the council cut his hours",
        "my son won't wake up in the mornings for school",
        "she doesn't want to go to school",
        "he took his tablets this morning",
        "does the school make sure he takes enough of his medication",
        "we have enough tablets for the holiday",
        "my son smashed his tablet in a meltdown",
        "my autistic son hurts himself when he is upset, who can help?",
        "he got excluded for hitting a teacher during a meltdown",
        "my ex won't agree to the school we want",
        "is he in danger of being excluded?",
        "the placement collapsed",
        "I can't find him a school place",
        "he has epilepsy, what training do school staff have for seizures?",
        "I'm at the end of my tether with the council",
        "he tied his shoes to the door handle as a joke",
        "we parked on the top floor of the car park, is there a lift for his wheelchair?",
        "the teacher told him to tidy up and he threw a chair",
        "she has not been seen by a paediatrician yet, is there a waiting list?",
        "he is on the speech therapy caseload but nobody has seen him, what can I do",
        "my son controls the food he eats and won't let me cook anything else",
        "he broke my nose in a meltdown last year, how do I get help",
        "school keeps his inhaler in the office, is that allowed?",
        "his tablets are out of stock at the chemist again",
        "I won't be around after 3pm on Friday for the review meeting",
        "we are locked in a dispute with the council and there is no phone number",
        "had enough of this ehcp fight, today is the day i ring the tribunal",
        "this is my last message about the transport complaint, they will not fix it",
        "my last message to the school got no reply, who do I contact next",
    ],
)
def test_alarming_words_that_are_not_a_crisis(text: str, rules: CrisisRules) -> None:
    """Everyday SEND messages with alarming words do not trigger the crisis reply."""
    assert detect_crisis(text, rules) is None, detect_crisis(text, rules)


def test_exclusion_does_not_hide_a_real_risk(rules: CrisisRules) -> None:
    """An excluded phrase blanks only itself: a real risk in the same message still fires."""
    text = "The CAMHS crisis team waiting list is months and my son says he wants to kill himself"
    assert detect_crisis(text, rules) is not None


def test_empty_and_blank_messages(rules: CrisisRules) -> None:
    """Empty or blank messages are not a crisis and do not crash."""
    assert detect_crisis("", rules) is None
    assert detect_crisis("   \n ", rules) is None


# ------------------------------------------------------------------ loading


def test_bundled_rules_load(rules: CrisisRules) -> None:
    """The bundled crisis.yaml loads and has every documented category."""
    names = {c.name for c in rules.categories}
    assert {
        "suicide", "self-harm", "danger", "abuse", "domestic-violence",
        "missing-child", "parent-breaking-point", "medical-emergency",
    } <= names


def test_custom_rules_file(tmp_path: Path) -> None:
    """An editor's small rules file with phrases, terms and exclusions works."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        "terms:\n  kid: ['son', 'daughter']\n"
        "categories:\n  test:\n    phrases: [\"can't breathe\"]\n"
        "    patterns: ['\\bmy {kid} is lost\\b']\n"
        "exclusions:\n  phrases: [\"can't breathe for laughing\"]\n",
        encoding="utf-8",
    )
    rules = load_crisis_rules(path)
    assert detect_crisis("I CAN\u2019T BREATHE", rules) == CrisisHit("test", "phrase: can't breathe")
    assert detect_crisis("my daughter is lost", rules) is not None
    assert detect_crisis("i can't breathe for laughing", rules) is None


@pytest.mark.parametrize(
    "content,problem",
    [
        ("categories: [not, a, mapping", "not valid YAML"),
        ("- just a list\n", "top level"),
        ("version: 1\n", "categories"),
        ("categories:\n  x:\n    patterns: ['(unclosed']\n", "invalid regular expression"),
        ("categories:\n  x:\n    patterns: ['{nosuchterm} here']\n", "unknown term"),
        ("categories:\n  x:\n    phrases: []\n", "no phrases or patterns"),
        ("categories:\n  x:\n    phrases: [1, 2]\n", "list of non-empty strings"),
        ("categories:\n  x:\n    phrase: ['typo in key']\n", "unknown keys"),
    ],
)
def test_bad_rules_file_raises_value_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    """A broken rules file raises ValueError that names the file and the problem."""
    path = tmp_path / "broken-crisis.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        load_crisis_rules(path)
    assert "broken-crisis.yaml" in str(info.value)
    assert problem in str(info.value)


def test_missing_rules_file_raises_value_error(tmp_path: Path) -> None:
    """A missing rules file raises ValueError naming it, not FileNotFoundError."""
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ValueError, match="nowhere.yaml"):
        load_crisis_rules(path)


# ------------------------------------------------------------------ the dev set


def test_dev_set_recall_and_false_crisis_rate(rules: CrisisRules) -> None:
    """On the dev set every crisis item fires, and at most 1% of the others do."""
    if not DEV_SET.exists():
        pytest.skip(f"{DEV_SET} not present")
    items = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line]
    crisis = [i["q"] for i in items if i["label"] == "crisis"]
    others = [i["q"] for i in items if i["label"] != "crisis"]
    missed = [q for q in crisis if detect_crisis(q, rules) is None]
    false = [q for q in others if detect_crisis(q, rules) is not None]
    assert not missed, missed
    assert len(false) / len(others) <= 0.01, false


def test_a_parent_who_cannot_keep_a_child_safe(rules: CrisisRules) -> None:
    """'I can't keep him safe' is a crisis; asking how to keep a child safe is not."""
    assert detect_crisis("i can't keep him safe, he keeps running into the road", rules) is not None
    assert detect_crisis("how do i keep him safe online", rules) is None
