"""The editors' web page: everything under /editors.

Switched off (404, "not set up") unless SIGNPOST_EDITOR_PASSWORD_HASH is set. A visitor
who has not logged in gets the login form and nothing from the log. Sessions are signed
cookies that expire; every form carries a CSRF token; a wrong password costs a delay.
"""
from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import time
from typing import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..knowledge import BUNDLED_DIR
from ..signpost import Signpost
from . import pages, triage_pages
from .auth import EditorAuth, PasswordHashError, Session, csrf_ok, parse_hash
from .desk import ACTIONS, Desk, Outcome
from .grouping import Group
from .reports import SECTIONS, EntryFeedback, ReportError, WeekStats, feedback_report, parse_since, weekly_stats
from .triage import Action, TriageError

log = logging.getLogger(__name__)

SESSION_COOKIE = "signpost_editors"
LOGIN_COOKIE = "signpost_editors_login"
WRONG_PASSWORD_DELAY = 1.0  # seconds for each wrong password; auth.LoginThrottle locks out repeated ones
DEFAULT_SINCE = "90d"
PAGE_ROWS = 100  # groups shown (and placed against the knowledge) per list; the count covers them all
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Content-Security-Policy": (f"default-src 'none'; style-src '{pages.STYLE_HASH}'; form-action 'self';"
                                " frame-ancestors 'none'; base-uri 'none'"),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

Handler = Callable[[Request], Awaitable[Response]]


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def html(body: str, status: int = 200) -> Response:
    return secured(HTMLResponse(body, status_code=status))


def redirect(url: str) -> Response:
    return secured(RedirectResponse(url, status_code=303))


def forbidden() -> Response:
    return html(pages.document("Form expired", "<p>This form has expired or did not come from this page. "
                               '<a href="/editors">Go back</a> and try again.</p>'), 403)


@dataclasses.dataclass
class Reports:
    groups: list[Group]  # the unanswered questions waiting for an editor
    feedback: list[EntryFeedback]
    weeks: list[WeekStats]
    sections: dict[str, list[Group]] = dataclasses.field(default_factory=dict)  # every list, by name
    actions: list[Action] = dataclasses.field(default_factory=list)


class EditorPages:
    def __init__(self, signpost: Signpost, auth: EditorAuth) -> None:
        self.signpost = signpost
        self.auth = auth
        # The council's own store: bound to its tenant, so its editors read and triage only its rows.
        self.desk = Desk(signpost.store, signpost.settings.knowledge_dir or BUNDLED_DIR,
                         lambda: signpost.conversation.replies, signpost.reload)
        self._triage_lock = asyncio.Lock()  # one knowledge change at a time from this process

    # ------------------------------------------------------------ sessions and cookies

    def session(self, request: Request) -> Session | None:
        return self.auth.session(request.cookies.get(SESSION_COOKIE))

    def _secure(self, request: Request) -> bool:
        base = self.signpost.settings.public_base_url or ""
        return request.url.scheme == "https" or base.startswith("https://") or self.signpost.settings.production

    def _set_cookie(self, response: Response, request: Request, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/editors", httponly=True,
                            samesite="strict", secure=self._secure(request))

    def login_form(self, request: Request, message: str | None = None, status: int = 200) -> Response:
        cookie, field = self.auth.new_login_form()
        response = html(pages.login_page(field, message), status)
        self._set_cookie(response, request, LOGIN_COOKIE, cookie, 3600)
        return response

    # ------------------------------------------------------------ reading the log

    def _since(self, request: Request) -> str:
        since = request.query_params.get("since", DEFAULT_SINCE)
        try:
            parse_since(since)
        except ReportError:
            return DEFAULT_SINCE
        return since

    async def _read(self, since: str, groups: bool = True, feedback: bool = True, weeks: bool = True,
                    sections: tuple[str, ...] = ("unanswered",)) -> Reports:
        start = parse_since(since)
        log = self.signpost.store
        replies = self.signpost.conversation.replies  # the knowledge loaded now, after any reload
        found = Reports([], await feedback_report(log, start) if feedback else [],
                        await weekly_stats(log, start) if weeks else [])
        if groups:
            shown = PAGE_ROWS if len(sections) > 1 else 10  # the overview shows the ten biggest
            found.sections = await self.desk.groups(since, sections, place_limit=shown)
            found.groups = found.sections["unanswered"]
            found.actions = await self.desk.actions() if len(sections) > 1 else []
        for row in found.feedback:
            entry = replies.knowledge.entry(row.topic)
            row.title = entry.title if entry else None
        return found

    async def _page(self, request: Request, title: str, render: Callable[[Reports, str, str], str],
                    status: int = 200, since: str | None = None, **wanted) -> Response:
        session = self.session(request)
        if session is None:
            return redirect("/editors")
        since = since or self._since(request)
        reports = await self._read(since, **wanted)
        return html(pages.document(title, render(reports, session.csrf, since), pages.nav(session.csrf, since)), status)

    # ------------------------------------------------------------ routes

    async def home(self, request: Request) -> Response:
        if self.session(request) is None:
            return self.login_form(request)

        def render(reports: Reports, csrf: str, since: str) -> str:
            questions = sum(w.questions for w in reports.weeks)
            answered = sum(w.answered for w in reports.weeks)
            rate = f"{answered / questions:.0%}" if questions else "-"
            crisis = sum(w.crisis for w in reports.weeks)
            return (
                pages.reload_status(self.signpost.reload_error, request.query_params.get("reload"))
                + "<h2>Overview</h2>" + pages.periods("/editors", since)
                + f"<p>{sum(w.messages for w in reports.weeks)} messages, {questions} questions, "
                f"answer rate {rate}, {crisis} crisis replies.</p>"
                + "<h3>Weekly answer rate</h3>" + pages.answer_rate_chart(reports.weeks)
                + f"<h3>Most asked unanswered questions</h3><p>{waiting(reports.groups)}</p>"
                + pages.unanswered_table(reports.groups[:10])
                + '<p><a href="/editors/unanswered?since=' + pages.e(since) + '">Triage the unanswered questions</a></p>'
                + f"<h3>Least helpful answers</h3>{pages.feedback_table(reports.feedback[:5])}"
                + pages.reload_form(csrf)
            )

        return await self._page(request, "Overview", render)

    async def unanswered(self, request: Request, outcome: Outcome | None = None, status: int = 200,
                         since: str | None = None) -> Response:
        done = outcome.action if outcome else await self._done(request)
        message = outcome.message if outcome else None
        problems = outcome.problems if outcome else []
        entries = list(self.signpost.conversation.replies.knowledge.entries)
        return await self._page(request, "Unanswered", lambda r, csrf, since: (
            triage_pages.notice(done, message, problems, csrf, since)
            + pages.periods("/editors/unanswered", since) + f"<p>{waiting(r.groups)}</p>"
            + "".join(triage_pages.section(name, r.sections.get(name, []), entries, csrf, since, PAGE_ROWS)
                      for name in SECTIONS)
            + triage_pages.actions_table(r.actions, csrf, since)),
            status=status, since=since, feedback=False, weeks=False, sections=SECTIONS)

    async def _done(self, request: Request) -> Action | None:
        """The action named in ?done=, to show what happened after the redirect."""
        wanted = request.query_params.get("done", "")
        if not wanted.isdigit():
            return None
        return next((a for a in await self.desk.actions(50) if a.id == int(wanted)), None)

    async def triage(self, request: Request) -> Response:
        """One row's button ("dismiss:g12") or the bulk bar's ("dismiss:bulk-unanswered") with the ticked rows."""
        form = await request.form()
        session = self.session(request)
        if not csrf_ok(session, str(form.get("csrf") or "")):
            return forbidden()
        since = self._valid_since(str(form.get("since") or DEFAULT_SINCE))
        action, _, key = str(form.get("do") or "").partition(":")
        groups = [str(g) for g in form.getlist("group")] if key.startswith("bulk-") else [key]
        field = "entry" if action == "add-phrasing" else "scope"
        entry = str(form.get(f"{field}-{key}") or "") or None
        try:
            if action not in ACTIONS:
                raise TriageError("That button did not name an action.")
            async with self._triage_lock:
                outcome = await self.desk.act(_who(session), action, groups, entry, since)
        except TriageError as exc:
            return await self.unanswered(request, Outcome(None, str(exc)), 400, since)
        if not outcome.ok:
            return await self.unanswered(request, outcome, 409, since)
        return redirect(f"/editors/unanswered?since={since}&done={outcome.action.id}")

    async def undo(self, request: Request) -> Response:
        form = await request.form()
        session = self.session(request)
        if not csrf_ok(session, str(form.get("csrf") or "")):
            return forbidden()
        since = self._valid_since(str(form.get("since") or DEFAULT_SINCE))
        try:
            async with self._triage_lock:
                outcome = await self.desk.undo(_who(session), str(form.get("action") or ""))
        except TriageError as exc:
            return await self.unanswered(request, Outcome(None, str(exc)), 400, since)
        if not outcome.ok:
            return await self.unanswered(request, outcome, 409, since)
        return redirect(f"/editors/unanswered?since={since}&done={outcome.action.id}")

    @staticmethod
    def _valid_since(since: str) -> str:
        try:
            parse_since(since)
        except ReportError:
            return DEFAULT_SINCE
        return since

    async def feedback(self, request: Request) -> Response:
        return await self._page(request, "Feedback", lambda r, csrf, since: (
            "<h2>Did the answers help?</h2>" + pages.periods("/editors/feedback", since)
            + pages.feedback_table(r.feedback)), groups=False, weeks=False)

    async def stats(self, request: Request) -> Response:
        return await self._page(request, "Weekly stats", lambda r, csrf, since: (
            "<h2>Weekly stats</h2>" + pages.periods("/editors/stats", since)
            + pages.answer_rate_chart(r.weeks) + pages.stats_table(r.weeks)), groups=False, feedback=False)

    async def login(self, request: Request) -> Response:
        client = request.client.host if request.client else "unknown"  # the proxy's word only if trusted
        if wait := self.auth.throttle.wait(client):
            minutes = max(1, round(wait / 60))
            return self.login_form(request, f"Too many wrong passwords. Try again in {minutes} minute"
                                            f"{'s' if minutes > 1 else ''}.", 429)
        form = await request.form()
        if not self.auth.login_form_ok(request.cookies.get(LOGIN_COOKIE), str(form.get("csrf") or "")):
            return forbidden()
        password = str(form.get("password") or "")
        # Counted before checking, so guesses sent in parallel cannot all slip in before the lockout.
        self.auth.throttle.failed(client)
        started = time.monotonic()
        ok = bool(password) and await run_in_threadpool(self.auth.verify, password)
        if not ok:  # the delay is this request's own: no queue that a real editor must wait behind
            await asyncio.sleep(max(0.0, WRONG_PASSWORD_DELAY - (time.monotonic() - started)))
            log.warning("editors' login refused: wrong password")
            return self.login_form(request, "That password is not right.", 401)
        self.auth.throttle.succeeded(client)
        token, _ = self.auth.new_session()
        response = redirect("/editors")
        self._set_cookie(response, request, SESSION_COOKIE, token, self.auth.session_seconds)
        response.delete_cookie(LOGIN_COOKIE, path="/editors")
        log.info("editors' login")
        return response

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        session = self.session(request)
        if not csrf_ok(session, str(form.get("csrf") or "")):
            return forbidden()
        self.auth.end_session(session)  # type: ignore[arg-type] - csrf_ok is False without a session
        response = redirect("/editors")
        response.delete_cookie(SESSION_COOKIE, path="/editors")
        return response

    async def reload(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(self.session(request), str(form.get("csrf") or "")):
            return forbidden()
        problems = await run_in_threadpool(self.signpost.reload)
        return redirect("/editors?reload=" + ("failed" if problems else "ok"))


def _who(session: Session | None) -> str:
    """Editors share one password, so a session is told apart by a tag of its CSRF token, never the token."""
    tag = hashlib.sha256((session.csrf if session else "").encode()).hexdigest()[:8]
    return f"page:{tag}"


def waiting(groups: list[Group]) -> str:
    """The one count of unanswered questions, the same on every page."""
    asked = sum(g.count for g in groups)
    return (f"<strong>{asked} unanswered question{'' if asked == 1 else 's'}</strong> waiting for an editor, "
            f"in {len(groups)} group{'' if len(groups) == 1 else 's'} (small talk, commands and questions "
            "already triaged are not counted).")


async def not_set_up(request: Request) -> Response:
    return html(pages.not_set_up_page(), 404)


PATHS = {"home": ("/editors", "GET"), "unanswered": ("/editors/unanswered", "GET"),
         "feedback": ("/editors/feedback", "GET"), "stats": ("/editors/stats", "GET"),
         "login": ("/editors/login", "POST"), "logout": ("/editors/logout", "POST"),
         "reload": ("/editors/reload", "POST"), "triage": ("/editors/triage", "POST"),
         "undo": ("/editors/undo", "POST")}


def editor_routes(signpost: Signpost) -> list[BaseRoute]:
    """The /editors routes; each answers 404 "not set up" when there is no usable password hash."""
    password_hash = signpost.settings.editor_password_hash
    handlers: dict[str, Handler] = {name: not_set_up for name in PATHS}
    if password_hash:
        try:
            parse_hash(password_hash)
        except PasswordHashError as exc:
            log.error("SIGNPOST_EDITOR_PASSWORD_HASH is not usable (%s): the editors' page is off. "
                      "Make one with `python main.py editors password-hash`.", exc)
        else:
            editor = EditorPages(signpost, EditorAuth(signpost.secret, password_hash))
            handlers = {name: getattr(editor, name) for name in PATHS}
    return [Route(path, handlers[name], methods=[method]) for name, (path, method) in PATHS.items()]
