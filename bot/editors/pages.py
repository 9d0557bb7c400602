"""The editors' pages as HTML strings: every dynamic value goes through html.escape.

Server-rendered HTML and SVG only: no JavaScript, no build step, and a Content Security
Policy that allows nothing but this page's own stylesheet (by its hash) and forms
posting back here.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape

from .grouping import Group
from .reports import EntryFeedback, WeekStats

STYLE = """
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#fafafa;line-height:1.45}
header{background:#1d4f91;color:#fff;padding:.8rem 1.5rem;display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
header a{color:#fff}header h1{font-size:1.2rem;margin:0 1rem 0 0}
main{max-width:72rem;margin:0 auto;padding:1rem 1.5rem 3rem}
table{border-collapse:collapse;width:100%;background:#fff;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d0d0;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}td.n{text-align:right;white-space:nowrap}
ul.examples{margin:0;padding-left:1.1rem}
.error{background:#fdecea;border:2px solid #b3261e;padding:.6rem 1rem;white-space:pre-wrap}
.note{background:#e8f4ea;border:1px solid #2e7d32;padding:.6rem 1rem}
.muted{color:#555}form.inline{display:inline}
button{font:inherit;padding:.35rem .9rem;cursor:pointer}
label{display:block;margin:.6rem 0 .2rem}input[type=password]{font:inherit;padding:.35rem;width:18rem}
label.small{display:inline;margin:0 .3rem 0 0;font-size:.9em}td.actions{min-width:24rem}
td.actions select,fieldset select{max-width:20rem;font:inherit}td.actions button{margin:.15rem 0}
.nowrap{white-space:nowrap}fieldset.bulk{background:#fff;border:1px solid #d0d0d0;margin:.5rem 0}
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
PERIODS = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"), ("52w", "a year"))


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def document(title: str, body: str, header: str = "") -> str:
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        f"<title>{e(title)} · SEND Signpost editors</title><style>{STYLE}</style></head>"
        f"<body><header><h1>SEND Signpost · editors</h1>{header}</header><main>{body}</main></body></html>"
    )


def hidden_csrf(token: str) -> str:
    return f'<input type="hidden" name="csrf" value="{e(token)}">'


def login_page(csrf: str, message: str | None = None) -> str:
    problem = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    return document("Log in", f"""
<h2>Log in</h2>{problem}
<form method="post" action="/editors/login">{hidden_csrf(csrf)}
<label for="password">Editors' password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required autofocus>
<p><button type="submit">Log in</button></p></form>""")


def not_set_up_page() -> str:
    return document("Not set up", "<p>The editors' page is not set up on this server.</p>")


def nav(csrf: str, since: str) -> str:
    links = "".join(f'<a href="{path}?since={e(since)}">{label}</a>' for path, label in
                    (("/editors", "Overview"), ("/editors/unanswered", "Unanswered"),
                     ("/editors/feedback", "Feedback"), ("/editors/stats", "Weekly stats")))
    return (f"{links}"
            f'<form class="inline" method="post" action="/editors/logout">{hidden_csrf(csrf)}'
            '<button type="submit">Log out</button></form>')


def periods(page: str, since: str) -> str:
    links = " · ".join(
        f"<strong>{label}</strong>" if value == since else f'<a href="{e(page)}?since={value}">{label}</a>'
        for value, label in PERIODS)
    return f'<p class="muted">Period: {links}</p>'


# ------------------------------------------------------------------ report blocks

def unanswered_table(groups: list[Group]) -> str:
    if not groups:
        return "<p>No unanswered questions in this period.</p>"
    rows = "".join(
        f'<tr><td class="n">{g.count}</td><td><ul class="examples">'
        + "".join(f"<li>{e(x)}</li>" for x in g.examples)
        + f"</ul></td><td>{e(g.nearest_title or '-')}<br><span class=\"muted\">{e(g.nearest_topic or '')}"
        f" ({g.nearest_score:.2f})</span></td><td>{e(', '.join(g.channels))}</td>"
        f'<td class="nowrap">{e(g.first_seen[:10])}<br>{e(g.last_seen[:10])}</td></tr>'
        for g in groups)
    return ("<table><thead><tr><th>Asked</th><th>Questions (redacted)</th><th>Nearest entry (score)</th>"
            f"<th>Channels</th><th>First / last</th></tr></thead><tbody>{rows}</tbody></table>")


def feedback_table(rows: list[EntryFeedback]) -> str:
    if not rows:
        return "<p>No \u201cdid this help?\u201d answers in this period.</p>"
    body = "".join(
        f'<tr><td>{e(r.title or r.topic)}<br><span class="muted">{e(r.topic)}</span></td>'
        f'<td class="n">{r.not_helpful}</td><td class="n">{r.helpful}</td><td><ul class="examples">'
        + "".join(f"<li>{e(q)}</li>" for q in r.no_questions) + '</ul></td><td><ul class="examples">'
        + "".join(f"<li>{e(m)}</li>" for m in r.missing) + "</ul></td></tr>"
        for r in rows)
    return ("<table><thead><tr><th>Answer</th><th>Not helpful</th><th>Helpful</th>"
            f"<th>Asked before a \u201cno\u201d</th><th>What was missing (parents\u2019 words)</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def stats_table(weeks: list[WeekStats]) -> str:
    if not weeks:
        return "<p>No messages in this period.</p>"
    outcomes = ("answer", "clarify", "unanswered", "smalltalk", "crisis")
    head = "".join(f"<th>{o}</th>" for o in outcomes)
    body = "".join(
        f"<tr><td>{e(w.week)}</td><td class=\"n\">{w.messages}</td>"
        + "".join(f'<td class="n">{w.outcomes[o]}</td>' for o in outcomes)
        + f'<td class="n">{"-" if w.answer_rate is None else f"{w.answer_rate:.0%}"}</td>'
        f"<td>{e(', '.join(f'{k} {v}' for k, v in w.channels.most_common()))}</td>"
        f"<td>{e(', '.join(f'{k} {v}' for k, v in w.topics.most_common(3)))}</td></tr>"
        for w in weeks)
    return (f"<table><thead><tr><th>Week</th><th>Messages</th>{head}<th>Answer rate</th><th>Channels</th>"
            f"<th>Top topics</th></tr></thead><tbody>{body}</tbody></table>")


def answer_rate_chart(weeks: list[WeekStats], width: int = 640, height: int = 220) -> str:
    """A bar per week of the share of questions answered (or offered a choice)."""
    rated = [w for w in weeks if w.answer_rate is not None]
    if not rated:
        return "<p>No questions in this period, so no answer rate to chart.</p>"
    left, bottom, top = 40, 30, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / len(rated)
    grid = "".join(
        f'<line x1="{left}" x2="{width - 10}" y1="{top + plot_h * (1 - f):.1f}" y2="{top + plot_h * (1 - f):.1f}"'
        f' stroke="#ccc"/><text x="{left - 6}" y="{top + plot_h * (1 - f) + 4:.1f}" text-anchor="end"'
        f' font-size="11">{f:.0%}</text>' for f in (0, 0.5, 1))
    bar = min(step * 0.7, 48.0)
    bars = "".join(
        f'<rect x="{left + i * step + (step - bar) / 2:.1f}" y="{top + plot_h * (1 - w.answer_rate):.1f}"'
        f' width="{bar:.1f}" height="{plot_h * w.answer_rate:.1f}" fill="#1d4f91">'
        f"<title>{e(w.week)}: {w.answer_rate:.0%} of {w.questions} questions</title></rect>"
        f'<text x="{left + i * step + step / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">'
        f"{e(w.week[-3:])}</text>" for i, w in enumerate(rated))
    summary = ", ".join(f"{w.week} {w.answer_rate:.0%}" for w in rated)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
            f' viewBox="0 0 {width} {height}" aria-label="Weekly answer rate: {e(summary)}">'
            f"<title>Weekly answer rate</title>{grid}{bars}</svg>")


def reload_status(error: str | None, result: str | None) -> str:
    """The outcome of the last reload, at the top of the page where it cannot be missed."""
    if error:
        return ('<h2>The last knowledge reload failed</h2><p>The bot is still answering from the knowledge '
                f'it had before. Fix these problems and reload again:</p><pre class="error">{e(error)}</pre>')
    if result == "ok":
        return '<p class="note" role="status">The knowledge files were reloaded.</p>'
    return ""


def reload_form(csrf: str) -> str:
    return (f'<h3>Knowledge files</h3><form method="post" action="/editors/reload">{hidden_csrf(csrf)}'
            '<button type="submit">Reload knowledge</button> <span class="muted">re-reads knowledge/ '
            "without a restart; a file with problems is refused and the old answers stay.</span></form>")
