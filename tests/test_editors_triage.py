"""Triage of unanswered questions: noise kept out, grouping by meaning, the CLI twins, the page's forms, undo;
each test that touches the log on a SQLite file and on a real PostgreSQL database."""
from __future__ import annotations

import asyncio
import json
import random
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from bot.cli import main
from bot.config import Settings
from bot.editors import grouping, web
from bot.editors.auth import hash_password
from bot.editors.grouping import group_questions
from bot.editors.reports import LoggedQuestion, parse_since, unanswered_questions
from bot.editors.triage import TriageError, get_action, record
from bot.knowledge import load_knowledge
from bot.noise import is_noise
from bot.signpost import Signpost, build_replies, open_signpost
from bot.store import LogRecord, Store, open_store, utcnow

DENTIST = ["is there an autism-friendly dentist in Hereford", "dentist for my autistic son in hereford",
           "where can I find a dentist that is good with autistic children near Hereford"]
NOISE = ["exit", "quit", "clear", "help", "1", "42", "Hiya, is anyone there?", "thank you thats really helpful",
         "cheers mate that was useful", "ok thanks bye"]
GIBBERISH = "asdfgh qwerty zxcv"
PASSWORD = "a long editors password"
HASH = hash_password(PASSWORD, n=2**14)


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here that reads the log runs on a SQLite file and on a PostgreSQL database."""
    return any_store


def address(store: Store) -> str:
    return store.url if store.shares_state else str(store.path)


async def seed(store: Store) -> None:
    for i, text in enumerate(DENTIST + NOISE + [GIBBERISH, "what time does tesco close"]):
        await store.log(LogRecord("sms" if i % 2 else "telegram", f"p{i}", text, "unanswered"))
    await store.log(LogRecord("sms", "c", "good private dentist for autistic children", "unanswered",
                              score=0.6, kind="out-of-scope"))  # a sure catch: above the answer threshold


async def cli(capsys: pytest.CaptureFixture, store: Store, kb: Path, *args: str) -> tuple[int, str, str]:
    """`python main.py editors ...` on the store's log, in a thread: the command runs its own event loop."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["editors", *args, "--db", address(store), "--kb", str(kb)])
    out, err = capsys.readouterr()
    return code, out, err


async def groups_of(capsys: pytest.CaptureFixture, store: Store, kb: Path, *extra: str) -> list[dict]:
    code, out, _ = await cli(capsys, store, kb, "unanswered", "--json", *extra)
    assert code == 0
    return json.loads(out)


def dentist_group(groups: list[dict]) -> dict:
    return next(g for g in groups if "dentist" in g["examples"][0])


def answer(kb: Path, question: str) -> dict:
    reply = build_replies(kb).respond(question)
    return {"outcome": reply.outcome, "topic": reply.topic}


# ------------------------------------------------------------------ noise

@pytest.mark.parametrize("text", NOISE + ["/start", "2 3", "  ", "thanks so much x"])
def test_commands_numbers_and_small_talk_are_noise(text: str) -> None:
    """Console commands, bare numbers, greetings and thanks in any form are never questions for editors."""
    assert is_noise(text)


@pytest.mark.parametrize("text", DENTIST + ["thanks, how do I get an ehcp", "what time does tesco close",
                                            "hello is anyone there i need help with my son"])
def test_real_questions_are_not_noise(text: str) -> None:
    """A question stays a question, even one that starts with thanks or a greeting."""
    assert not is_noise(text)


async def test_noise_is_marked_when_logged_and_left_out_of_the_list(store: Store) -> None:
    """The store logs noise as kind 'noise'; the list leaves it out, and rows logged before that too."""
    await seed(store)
    async with store.transaction() as tx:  # a row from before the marking
        await tx.execute("INSERT INTO messages (at, channel, sender, text, outcome, tenant)"
                         " VALUES (?, 'sms', 'old', 'quit', 'unanswered', ?)", utcnow().isoformat(), store.tenant)
    kinds = dict(await store.fetch("SELECT text, kind FROM messages"))
    texts = [q.text for q in await unanswered_questions(store, parse_since("1d"))]
    assert kinds["exit"] == "noise" and kinds["42"] == "noise" and kinds[DENTIST[0]] is None
    assert sorted(texts) == sorted(DENTIST + [GIBBERISH, "what time does tesco close"])


# ------------------------------------------------------------------ grouping

async def test_cli_groups_three_dentist_wordings_and_lists_no_noise(store: Store, small_kb: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """`editors unanswered --json`: the three dentist questions are one group of three, with an id; no small talk."""
    await seed(store)
    groups = await groups_of(capsys, store, small_kb)
    dentist = dentist_group(groups)
    assert dentist["count"] == 3 and sorted(dentist["examples"]) == sorted(DENTIST)
    assert re.fullmatch(r"g\d+", dentist["id"]) and dentist["channels"] and dentist["nearest"]
    listed = {x for g in groups for x in g["examples"]}
    assert not listed & set(NOISE) and "good private dentist for autistic children" not in listed
    assert len({g["id"] for g in groups}) == len(groups)
    assert await groups_of(capsys, store, small_kb) == groups  # the same ids on the next run


async def test_out_of_scope_catches_are_listed_on_request(store: Store, small_kb: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    """--include-out-of-scope adds what out-of-scope replies caught, marked as such."""
    await seed(store)
    caught = [g for g in await groups_of(capsys, store, small_kb, "--include-out-of-scope") if g["section"] == "caught"]
    assert [g["examples"] for g in caught] == [["good private dentist for autistic children"]]


def test_unrelated_questions_stay_apart(bundled_replies) -> None:
    """Questions that share only words common in SEND questions ("autistic", "hereford") are not grouped:
    the bundled knowledge base says which words are common."""
    texts = DENTIST + ["autistic friendly hairdresser in hereford", "my autistic son wont sleep",
                       "speech therapy waiting list hereford"]
    questions = [LoggedQuestion(i + 1, f"2026-12-01T10:00:{i:02d}+00:00", "sms", t) for i, t in enumerate(texts)]
    groups = group_questions(questions, bundled_replies.matcher)
    assert sorted(g.count for g in groups) == [1, 1, 1, 3]


def test_neighbour_graph_groups_as_all_pairs_do(monkeypatch: pytest.MonkeyPatch, small_kb: Path) -> None:
    """Beyond EXACT_LIMIT wordings faiss's HNSW graph finds the neighbours; on clear groups it agrees with all pairs."""
    topics = {"dentist": DENTIST, "badge": ["how do i get a blue badge", "blue badge for my car", "can my son get a blue badge"],
              "transport": ["school transport in the holidays", "holiday transport to school",
                            "transport to school in the holidays"]}
    syllables = [a + b for a in "bdfgklmnprstvz" for b in "aeiou"]
    pick = random.Random(0).choice
    filler = [" ".join(pick(syllables) + pick(syllables) + pick(syllables) for _ in range(3))
              for _ in range(300)]  # made-up words, three each: no group
    texts = [t for ts in topics.values() for t in ts] + filler
    questions = [LoggedQuestion(i + 1, f"2026-12-01T10:{i // 60:02d}:{i % 60:02d}+00:00", "sms", t)
                 for i, t in enumerate(texts)]
    matcher = build_replies(small_kb).matcher
    exact = {tuple(g.examples) for g in group_questions(questions, matcher, place_limit=0)}
    monkeypatch.setattr(grouping, "EXACT_LIMIT", 5)
    approximate = {tuple(g.examples) for g in group_questions(questions, matcher, place_limit=0)}
    assert approximate == exact


# ------------------------------------------------------------------ the CLI twins

async def test_cli_loop_add_phrasing_then_undo(store: Store, small_kb: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    """add-phrasing writes learned.yaml and the bot then answers; undo takes the phrasings out again."""
    await seed(store)
    dentist = dentist_group(await groups_of(capsys, store, small_kb))
    assert answer(small_kb, "is there an autism friendly dentist in hereford")["outcome"] == "unanswered"
    code, out, _ = await cli(capsys, store, small_kb, "add-phrasing", dentist["id"], "short-breaks")
    assert code == 0 and "3 phrasings added to learned.yaml" in out
    assert set(DENTIST) <= set(load_knowledge(small_kb).entry("short-breaks").questions)
    assert answer(small_kb, "is there an autism friendly dentist in hereford") == {"outcome": "answer",
                                                                                   "topic": "short-breaks"}
    assert all("dentist" not in g["examples"][0] for g in await groups_of(capsys, store, small_kb))
    action = int(re.search(r"Action (\d+)", out).group(1))
    code, out, _ = await cli(capsys, store, small_kb, "undo", str(action))
    assert code == 0 and "taken out of learned.yaml" in out
    assert not set(DENTIST) & set(load_knowledge(small_kb).entry("short-breaks").questions)
    assert dentist_group(await groups_of(capsys, store, small_kb))["id"] == dentist["id"]
    code, _, err = await cli(capsys, store, small_kb, "undo", str(action))
    assert code == 1 and "already undone" in err


@pytest.mark.parametrize("args, message", [
    (["dismiss", "g99999"], "there is no group 'g99999'"),
    (["add-phrasing", "GROUP", "no-such-entry"], "there is no entry 'no-such-entry'"),
    (["add-phrasing", "GROUP"], "usage: python main.py editors add-phrasing GROUP_ID ENTRY_ID"),
    (["out-of-scope", "GROUP", "short-breaks"], "'short-breaks' is not an out-of-scope entry"),
    (["undo", "12345"], "there is no action 12345"),
    (["undo", "first"], "is not an action id"),
])
async def test_cli_bad_ids_exit_non_zero_and_change_nothing(store: Store, small_kb: Path,
                                                            capsys: pytest.CaptureFixture, args: list[str],
                                                            message: str) -> None:
    """Each triage command refuses a bad group, entry or action id with a clear message and exit code 1."""
    await seed(store)
    dentist = dentist_group(await groups_of(capsys, store, small_kb))
    code, _, err = await cli(capsys, store, small_kb, *[dentist["id"] if a == "GROUP" else a for a in args])
    assert code == 1 and message in err
    assert not (small_kb / "learned.yaml").exists()
    assert await store.fetch("SELECT COUNT(*) FROM editor_actions") == [(0,)]


async def test_cli_dismiss_needs_answer_and_undo_order(store: Store, small_kb: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    """A dismissed group leaves the list; a gap stays listed as a gap; an undo waits for later actions' undo."""
    await seed(store)
    groups = await groups_of(capsys, store, small_kb)
    tesco = next(g for g in groups if g["examples"] == ["what time does tesco close"])
    assert (await cli(capsys, store, small_kb, "needs-answer", tesco["id"]))[0] == 0
    gap = next(g for g in await groups_of(capsys, store, small_kb) if g["id"] == tesco["id"])
    assert gap["section"] == "gaps" and gap["count"] == 1
    assert (await cli(capsys, store, small_kb, "dismiss", tesco["id"]))[0] == 0
    assert all(g["id"] != tesco["id"] for g in await groups_of(capsys, store, small_kb))
    code, _, err = await cli(capsys, store, small_kb, "undo", "1")
    assert code == 1 and "a later action (2) changed these questions" in err
    assert (await cli(capsys, store, small_kb, "undo", "2"))[0] == 0
    assert next(g for g in await groups_of(capsys, store, small_kb) if g["id"] == tesco["id"])["section"] == "gaps"
    code, out, _ = await cli(capsys, store, small_kb, "actions", "--json")
    recorded = json.loads(out)
    assert [a["action"] for a in recorded] == ["undo", "dismiss", "needs-answer"]
    assert recorded[1]["undone_by"] == recorded[0]["id"] and recorded[1]["editor"].startswith("cli:")


async def test_a_triage_transaction_that_fails_writes_nothing(store: Store) -> None:
    """An error inside the store's transaction rolls back what it wrote, and the store goes on working."""
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.execute("INSERT INTO editor_actions (at, editor, action, detail, tenant)"
                             " VALUES (?, 'cli:x', 'dismiss', '{}', ?)", utcnow().isoformat(), store.tenant)
            raise RuntimeError("half way")
    assert await store.read("SELECT COUNT(*) FROM editor_actions") == [(0,)]
    await seed(store)
    [(first,)] = await store.read("SELECT MIN(id) FROM messages")
    action = await record(store, "cli:x", "dismiss", [first])
    assert await store.read("SELECT id, action FROM editor_actions") == [(action.id, "dismiss")]


async def test_one_council_cannot_triage_or_undo_another_councils_questions(postgres_url: str) -> None:
    """On one PostgreSQL database, council A's store finds neither council B's questions nor B's actions by id."""
    a, b = await open_store(postgres_url, "council-a"), await open_store(postgres_url, "council-b")
    try:
        theirs = await b.log(LogRecord("sms", "p", "what time does tesco close", "unanswered"))
        action = await record(b, "page:b", "dismiss", [theirs])
        with pytest.raises(TriageError, match="no longer in the log"):
            await record(a, "page:a", "dismiss", [theirs])
        with pytest.raises(TriageError, match=f"there is no action {action.id}"):
            await get_action(a.read, a.tenant, action.id)
        assert await unanswered_questions(a, parse_since("1d"), "gaps") == []
        assert (await get_action(b.read, b.tenant, action.id)).message_ids == [theirs]
    finally:
        await a.close()
        await b.close()


async def test_erasing_a_sender_erases_their_triage_and_vectors(store: Store, small_kb: Path,
                                                                capsys: pytest.CaptureFixture) -> None:
    """FORGET removes the sender's triage state and sentence vector with their messages."""
    await seed(store)
    dentist = dentist_group(await groups_of(capsys, store, small_kb))  # keeps the sentence vectors
    assert (await cli(capsys, store, small_kb, "dismiss", dentist["id"]))[0] == 0
    await store.forget("p0")
    [(first,)] = await store.fetch("SELECT MIN(id) FROM messages")
    assert await store.fetch("SELECT COUNT(*) FROM triage") == [(2,)]
    for table in ("triage", "question_vectors"):
        assert await store.fetch(f"SELECT COUNT(*) FROM {table} WHERE message_id < ?", first) == [(0,)]


# ------------------------------------------------------------------ the page

@pytest.fixture(params=["sqlite", "postgresql"])
async def signpost(request: pytest.FixtureRequest, tmp_path: Path, small_kb: Path):
    db_url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    bot = await open_signpost(Settings(db_path=tmp_path / "log.sqlite3", db_url=db_url, secret="s" * 32,
                                       knowledge_dir=small_kb, editor_password_hash=HASH))
    await seed(bot.store)
    yield bot
    await bot.close()


def client_for(bot: Signpost) -> httpx.AsyncClient:
    app = Starlette(routes=web.editor_routes(bot))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", timeout=60)


async def logged_in(client: httpx.AsyncClient) -> str:
    form = await client.get("/editors")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    assert (await client.post("/editors/login", data={"csrf": token, "password": PASSWORD})).status_code == 303
    page = await client.get("/editors/unanswered")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def row_id(page: str, text: str) -> str:
    return re.search(r'<tr id="(g\d+)">(?:(?!</tr>).)*' + re.escape(text), page, re.S).group(1)


async def test_page_loop_add_phrasing_dismiss_undo(signpost: Signpost, small_kb: Path) -> None:
    """From the page: the dentist group becomes phrasings and the running bot answers; a row is dismissed; undo."""
    async with client_for(signpost) as client:
        csrf = await logged_in(client)
        page = (await client.get("/editors/unanswered")).text
        assert all(t in page for t in DENTIST) and "cheers mate" not in page and ">exit<" not in page
        assert "good private dentist for autistic children" in page  # the caught section
        group = row_id(page, DENTIST[0])
        done = await client.post("/editors/triage", data={"csrf": csrf, "since": "90d", "do": f"add-phrasing:{group}",
                                                          f"entry-{group}": "short-breaks"})
        assert done.status_code == 303, done.text
        page = (await client.get(done.headers["location"])).text
        assert "Done: added as phrasings of short-breaks (3 questions)" in page and f'<tr id="{group}">' not in page
        assert signpost.conversation.replies.respond("is there an autism friendly dentist in hereford").topic == \
            "short-breaks"  # the running bot reloaded
        noise = row_id(page, GIBBERISH)
        done = await client.post("/editors/triage", data={"csrf": csrf, "since": "90d", "do": f"dismiss:{noise}"})
        page = (await client.get(done.headers["location"])).text
        assert "Done: dismissed as noise (1 question)" in page and f'<tr id="{noise}">' not in page
        action = re.search(r'name="action" value="(\d+)">Undo action', page).group(1)
        undone = await client.post("/editors/undo", data={"csrf": csrf, "since": "90d", "action": action})
        page = (await client.get(undone.headers["location"])).text
        assert f"undid action {action}" in page and GIBBERISH in page


async def test_bulk_dismiss_of_ticked_rows(signpost: Signpost) -> None:
    """Ticked rows are triaged together, as one action that one undo reverses."""
    async with client_for(signpost) as client:
        csrf = await logged_in(client)
        page = (await client.get("/editors/unanswered")).text
        picked = [row_id(page, GIBBERISH), row_id(page, "what time does tesco close")]
        done = await client.post("/editors/triage", data={"csrf": csrf, "since": "90d", "group": picked,
                                                          "do": "dismiss:bulk-unanswered"})
        page = (await client.get(done.headers["location"])).text
        assert "dismissed as noise (2 questions)" in page
        assert all(f'<tr id="{g}">' not in page for g in picked)


async def test_an_edit_that_would_break_the_knowledge_writes_nothing(signpost: Signpost, small_kb: Path) -> None:
    """If the files on disk no longer have the entry, nothing is written, the page says why, the bot is unchanged."""
    entries = small_kb / "entries.yaml"
    entries.write_text(entries.read_text().replace("- id: short-breaks", "- id: short-breaks-renamed"))
    before = signpost.conversation.replies
    async with client_for(signpost) as client:
        csrf = await logged_in(client)
        group = row_id((await client.get("/editors/unanswered")).text, DENTIST[0])
        refused = await client.post("/editors/triage", data={"csrf": csrf, "since": "90d",
                                                             "do": f"add-phrasing:{group}", f"entry-{group}": "short-breaks"})
    assert refused.status_code == 409
    assert "Nothing was written" in refused.text and "there is no entry with this id" in refused.text
    assert not (small_kb / "learned.yaml").exists() and signpost.conversation.replies is before


@pytest.mark.parametrize("path, data", [("/editors/triage", {"do": "dismiss:g1"}), ("/editors/undo", {"action": "1"})])
async def test_new_forms_need_the_session_csrf_token(signpost: Signpost, path: str, data: dict) -> None:
    """Triage and undo refuse a post without the session's CSRF token, and a visitor with no session."""
    async with client_for(signpost) as client:
        assert (await client.post(path, data=data)).status_code == 403  # no session at all
        await logged_in(client)
        for token in (None, "forged"):
            response = await client.post(path, data={**data, **({"csrf": token} if token else {})})
            assert response.status_code == 403 and "zebra" not in response.text
        assert await signpost.store.fetch("SELECT COUNT(*) FROM editor_actions") == [(0,)]


async def test_logged_out_visitor_sees_no_questions(signpost: Signpost) -> None:
    """The triage page, its actions and their results show a stranger nothing from the log."""
    async with client_for(signpost) as client:
        for url in ("/editors/unanswered", "/editors/unanswered?done=1", "/editors"):
            response = await client.get(url)
            assert "dentist" not in response.text and "asdfgh" not in response.text


async def test_suggest_never_proposes_noise(store: Store, small_kb: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    """`editors suggest` drafts from real questions only: no command, number, greeting or thanks."""
    await seed(store)
    out = tmp_path / "suggestions.yaml"
    assert (await cli(capsys, store, small_kb, "suggest", "--out", str(out)))[0] == 0
    drafted = out.read_text()
    assert "dentist" in drafted and not any(f"- {text}\n" in drafted or f"'{text}'" in drafted for text in NOISE)


async def test_page_refuses_a_phrasing_without_an_entry(signpost: Signpost, small_kb: Path) -> None:
    """"Add as phrasings" with no entry picked changes nothing and says what to do."""
    async with client_for(signpost) as client:
        csrf = await logged_in(client)
        group = row_id((await client.get("/editors/unanswered")).text, DENTIST[0])
        refused = await client.post("/editors/triage", data={"csrf": csrf, "since": "90d",
                                                             "do": f"add-phrasing:{group}", f"entry-{group}": ""})
    assert refused.status_code == 400 and "pick the entry first" in refused.text
    assert not (small_kb / "learned.yaml").exists()


async def test_row_context_counts_a_no_that_followed(store: Store, small_kb: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """A "no, this did not help" from the same parent soon after the question shows in the group's context."""
    await store.log(LogRecord("telegram", "parent", DENTIST[0], "unanswered"))
    await store.log(LogRecord("telegram", "other", DENTIST[1], "unanswered"))
    answered = await store.log(LogRecord("telegram", "parent", "short breaks", "answer", "short-breaks", 0.9))
    assert await store.record_feedback(answered, "parent", helpful=False)
    group = dentist_group(await groups_of(capsys, store, small_kb))
    assert group["count"] == 2 and group["no_feedback"] == 1 and group["channel_counts"] == {"telegram": 2}


async def test_out_of_scope_with_and_without_an_entry(store: Store, small_kb: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    """With an out-of-scope entry the group's questions are caught by it from now on; without, it is not SEND."""
    (small_kb / "out-of-scope.yaml").write_text(
        "- id: oos-shops\n  kind: out-of-scope\n  title: Shops\n  questions: [supermarket opening hours]\n"
        "  answer: I can only help with SEND support. A shop's own website has its opening times.\n")
    await seed(store)
    groups = await groups_of(capsys, store, small_kb)
    tesco = next(g for g in groups if g["examples"] == ["what time does tesco close"])
    noise = next(g for g in groups if g["examples"] == [GIBBERISH])
    code, out, _ = await cli(capsys, store, small_kb, "out-of-scope", tesco["id"], "oos-shops")
    assert code == 0 and "marked out of scope, as oos-shops" in out
    assert build_replies(small_kb).respond("what time does tesco close").kind == "out-of-scope"
    code, out, _ = await cli(capsys, store, small_kb, "out-of-scope", noise["id"])
    assert code == 0 and "marked not SEND (ignored)" in out
    assert "oos-shops" in (small_kb / "learned.yaml").read_text() and GIBBERISH not in (small_kb / "learned.yaml").read_text()
