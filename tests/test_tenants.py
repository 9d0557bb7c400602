"""Two councils on one deployment (SIGNPOST_TENANTS), through the real app on 127.0.0.1.

Each answers from its own knowledge on its own number, signed with its own Twilio token;
each council's rows carry its id; one council's editors never see the other's log; a
council whose knowledge files are broken is left out while the others answer. Then the same
two councils sharing one real PostgreSQL database: there too each council's editors, on the
page and in `editors unanswered --tenant`, see only their own council's questions.
"""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import textwrap
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.config import ConfigError, Settings
from bot.editors.auth import hash_password
from bot.tenants import load_tenants, open_tenants_app
from conftest import SMALL_KB, write_kb
from twilio_client import PATH, PUBLIC, bodies, running, sign, twilio_form

A_NUMBER, B_NUMBER = "+447700900001", "+447700900002"
A_TOKEN, B_TOKEN = "auth-token-of-council-a", "auth-token-of-council-b"
A_PASSWORD, B_PASSWORD = "council a editors password", "council b editors password"
A_QUESTION, B_QUESTION = "is there a zebra club for my son", "where can my daughter ride a camel"

A_KB = """
- id: a-swimming
  title: Adapted swimming in council A
  questions: [adapted swimming sessions, swimming for disabled children]
  answer: Council A runs adapted swimming on Saturdays.
"""
B_KB = """
- id: b-swimming
  title: Adapted swimming in council B
  questions: [adapted swimming sessions, swimming for disabled children]
  answer: Council B runs adapted swimming on Sundays.
"""
SERVICES = """
services:
  - id: sendiass
    name: SENDIASS
    phone: "01905 768153"
    checked: true
"""


def tenants_file(tmp_path: Path, broken_third: bool = False) -> Path:
    a_kb = write_kb(tmp_path / "a-kb", SMALL_KB + A_KB, services=SERVICES)
    b_kb = write_kb(tmp_path / "b-kb", SMALL_KB + B_KB, services=SERVICES)
    editors = lambda password: f"editors: {{password_hash: \"{hash_password(password, n=2**14)}\"}}"  # noqa: E731
    text = f"""
    tenants:
      - id: council-a
        host: a.example
        knowledge: {a_kb}
        secret: "a7f3c9e1b5d2486f0a1c3e5b7d9f2468ace13579"
        twilio: {{numbers: ["{A_NUMBER}"], auth_token: "{A_TOKEN}"}}
        {editors(A_PASSWORD)}
      - id: council-b
        host: b.example
        knowledge: {b_kb}
        secret: "b8e4d0f2a6c3597e1b2d4f6a8c0e1357bdf24680"
        retention_days: 30
        twilio: {{numbers: ["{B_NUMBER}"], auth_token: "{B_TOKEN}"}}
        {editors(B_PASSWORD)}
    """
    if broken_third:
        broken = tmp_path / "c-kb"
        broken.mkdir()
        (broken / "entries.yaml").write_text("- id: c\n  title: [not, a, title\n", encoding="utf-8")
        text += f"""
      - id: council-c
        knowledge: {broken}
        secret: "c9f5e1a3b7d4608f2c3e5a7b9d1f2468bdf13579"
        twilio: {{numbers: ["+447700900003"], auth_token: "auth-token-of-council-c"}}
    """
    path = tmp_path / "tenants.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def base_settings(tmp_path: Path, tenants: Path, db_url: str | None = None) -> Settings:
    return Settings(db_path=tmp_path / "data" / "signpost.sqlite3", db_url=db_url, secret="d" * 8 + "0123456789abcdef" * 2,
                    public_base_url=PUBLIC, tenants_file=tenants)


async def text(client: httpx.AsyncClient, base: str, body: str, to: str, token: str, sender: str = "+447700900555",
               ) -> httpx.Response:
    form = twilio_form(body, sender=sender, To=to)
    return await client.post(base + PATH, data=form, headers={"X-Twilio-Signature": sign(form, PUBLIC + PATH, token)})


def cookies_of(response: httpx.Response) -> dict[str, str]:
    """The cookies a response sets. They are Secure (the public URL is https), so the test carries them itself."""
    return dict(header.split(";", 1)[0].split("=", 1) for header in response.headers.get_list("set-cookie"))


async def editors_page(client: httpx.AsyncClient, base: str, host: str, password: str) -> str:
    """Log in to the editors' page on a council's host and return its unanswered questions page."""
    form = await client.get(base + "/editors", headers={"Host": host})
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf, form.text
    jar = cookies_of(form)
    cookie = lambda: "; ".join(f"{k}={v}" for k, v in jar.items())  # noqa: E731
    login = await client.post(base + "/editors/login", data={"csrf": csrf.group(1), "password": password},
                              headers={"Host": host, "Cookie": cookie()})
    jar.update(cookies_of(login))
    return (await client.get(base + "/editors/unanswered", headers={"Host": host, "Cookie": cookie()})).text


async def assert_each_council_sees_only_its_own(client: httpx.AsyncClient, base: str) -> None:
    """Each council's editors' page lists its own question only; council A's password on B's page sees neither."""
    a_page = await editors_page(client, base, "a.example", A_PASSWORD)
    b_page = await editors_page(client, base, "b.example", B_PASSWORD)
    assert A_QUESTION in a_page and B_QUESTION not in a_page
    assert B_QUESTION in b_page and A_QUESTION not in b_page
    async with httpx.AsyncClient(timeout=20) as stranger:
        wrong = await editors_page(stranger, base, "b.example", A_PASSWORD)
    assert B_QUESTION not in wrong and A_QUESTION not in wrong


@pytest.mark.timeout(120)
async def test_two_councils_answer_from_their_own_knowledge_and_keep_their_own_logs(tmp_path: Path) -> None:
    app = await open_tenants_app(base_settings(tmp_path, tenants_file(tmp_path)))
    async with running(app) as (base, _), httpx.AsyncClient(timeout=20) as client:
        [a] = bodies((await text(client, base, "adapted swimming sessions", A_NUMBER, A_TOKEN)).text)
        [b] = bodies((await text(client, base, "adapted swimming sessions", B_NUMBER, B_TOKEN)).text)
        assert "Council A" in a and "Council B" in b
        # Council B's token cannot speak for council A's number, nor can an unknown number reach anyone.
        assert (await text(client, base, "adapted swimming sessions", A_NUMBER, B_TOKEN)).status_code == 403
        assert (await text(client, base, "adapted swimming sessions", "+447700900099", A_TOKEN)).status_code == 404
        await text(client, base, A_QUESTION, A_NUMBER, A_TOKEN)
        await text(client, base, B_QUESTION, B_NUMBER, B_TOKEN)

        await assert_each_council_sees_only_its_own(client, base)
        health = (await client.get(base + "/healthz")).json()
    assert health == {"status": "ok", "councils": {"council-a": "ok", "council-b": "ok"}}
    for council, question in (("council-a", A_QUESTION), ("council-b", B_QUESTION)):
        with sqlite3.connect(tmp_path / "data" / f"{council}.sqlite3") as db:
            rows = db.execute("SELECT tenant, text FROM messages").fetchall()
        assert {tenant for tenant, _ in rows} == {council} and question in {t for _, t in rows}


@pytest.mark.timeout(120)
async def test_a_council_with_broken_knowledge_does_not_stop_the_others(tmp_path: Path) -> None:
    app = await open_tenants_app(base_settings(tmp_path, tenants_file(tmp_path, broken_third=True)))
    async with running(app) as (base, _), httpx.AsyncClient(timeout=20) as client:
        [a] = bodies((await text(client, base, "adapted swimming sessions", A_NUMBER, A_TOKEN)).text)
        assert "Council A" in a
        assert (await text(client, base, "hello", "+447700900003", "auth-token-of-council-c")).status_code == 404
        health = (await client.get(base + "/healthz")).json()
    assert health["status"] == "degraded" and health["councils"] == {
        "council-a": "ok", "council-b": "ok", "council-c": "down"}


@pytest.mark.timeout(180)
async def test_two_councils_on_one_postgresql_database(tmp_path: Path, postgres_url: str,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    """Both councils' rows in one database, each carrying its council; each council's editors, on its page
    and in the CLI report, see only its own questions."""
    import asyncpg

    tenants = tenants_file(tmp_path)
    app = await open_tenants_app(base_settings(tmp_path, tenants, postgres_url))
    async with running(app) as (base, _), httpx.AsyncClient(timeout=20) as client:
        await text(client, base, A_QUESTION, A_NUMBER, A_TOKEN)
        await text(client, base, B_QUESTION, B_NUMBER, B_TOKEN)
        [b] = bodies((await text(client, base, "adapted swimming sessions", B_NUMBER, B_TOKEN)).text)
        assert "Council B" in b
        await assert_each_council_sees_only_its_own(client, base)

    for name, value in (("SIGNPOST_TENANTS", str(tenants)), ("SIGNPOST_DB", postgres_url),
                        ("SIGNPOST_SECRET", "d" * 8 + "0123456789abcdef" * 2), ("PUBLIC_BASE_URL", PUBLIC)):
        monkeypatch.setenv(name, value)
    listed = {}
    for council in ("council-a", "council-b"):
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["editors", "unanswered", "--json", "--tenant", council]) == 0
        listed[council] = {x for group in json.loads(capsys.readouterr().out) for x in group["examples"]}
    assert listed == {"council-a": {A_QUESTION}, "council-b": {B_QUESTION}}
    assert await asyncio.to_thread(main, ["editors", "unanswered", "--json"]) == 1  # which council?
    assert "--tenant: one of council-a, council-b" in capsys.readouterr().err
    db = await asyncpg.connect(postgres_url)
    try:
        rows = await db.fetch("SELECT tenant, text FROM messages ORDER BY id")
        deliveries = await db.fetch("SELECT DISTINCT tenant FROM deliveries")
    finally:
        await db.close()
    assert [(r["tenant"], r["text"]) for r in rows][:2] == [("council-a", A_QUESTION), ("council-b", B_QUESTION)]
    assert {r["tenant"] for r in deliveries} == {"council-a", "council-b"}


def test_the_tenants_file_is_checked(tmp_path: Path) -> None:
    """Two councils on one number, or one without its own secret, is refused before anything starts."""
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent(f"""
        tenants:
          - id: one
            twilio: {{numbers: ["{A_NUMBER}"], auth_token: "x"}}
          - id: two
            secret: "b8e4d0f2a6c3597e1b2d4f6a8c0e1357bdf24680"
            twilio: {{numbers: ["{A_NUMBER}"], auth_token: "y"}}
        """), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_tenants(path, Settings(public_base_url=PUBLIC, db_path=tmp_path / "x.sqlite3"))
    problems = " | ".join(caught.value.problems)
    assert "tenant one: needs its own secret" in problems and f"same Twilio number for two councils: {A_NUMBER}" in problems
