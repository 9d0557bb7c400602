"""The triage lists as HTML: one form per list, a row per group, buttons that post back.

No JavaScript: every button is a submit button whose value names the action and the
group ("dismiss:g12"), or "bulk" for the ticked rows. Every dynamic value is escaped.
"""
from __future__ import annotations

from ..knowledge import Entry
from .grouping import Group
from .pages import e, hidden_csrf
from .triage import Action

TITLES = {
    "unanswered": ("Unanswered questions, grouped", "What families asked that the bot could not answer. Add a group as "
                   "phrasings of an entry that answers it, mark it out of scope, keep it as a gap that needs a new "
                   "answer, or dismiss it as noise. Every action can be undone below."),
    "gaps": ("Gaps: questions that need a new answer", "Kept here, with how often they are asked, until an entry "
             "answers them: then add them as its phrasings."),
    "caught": ("What out-of-scope replies caught", "These got an out-of-scope reply (a pointer elsewhere). If one "
               "should have had an answer, add it as a phrasing of that entry, or keep it as a gap."),
}


def _context(group: Group) -> str:
    channels = ", ".join(f"{e(name)} {count}" for name, count in group.channel_counts.items())
    first, last = e(group.first_seen[:10]), e(group.last_seen[:10])
    when = first if first == last else f"{first} to {last}"
    no = (f'; <strong>{group.no_feedback} followed by a \u201cno, this did not help\u201d</strong>'
          if group.no_feedback else "")
    caught = f"; caught by <code>{e(group.caught_by)}</code>" if group.caught_by else ""
    return f'<p class="muted">Asked {group.count}\u00d7, {when}; {channels}{no}{caught}</p>'


def _nearest(group: Group) -> str:
    if not group.nearest:
        return "-"
    return '<ul class="examples">' + "".join(
        f'<li>{e(n["title"])} <span class="muted">{e(n["topic"])} ({n["score"]:.2f})</span></li>'
        for n in group.nearest) + "</ul>"


def _entry_options(entries: list[Entry], first: list[str]) -> str:
    by_id = {entry.id: entry for entry in entries}
    near = [by_id[i] for i in first if i in by_id]
    rest = sorted((x for x in entries if x.id not in first), key=lambda x: x.title.lower())
    def option(entry: Entry) -> str:
        return f'<option value="{e(entry.id)}">{e(entry.title)} ({e(entry.id)})</option>'
    nearest = f'<optgroup label="Nearest">{"".join(map(option, near))}</optgroup>' if near else ""
    # No entry is chosen for the editor: a click without a choice is refused, never a guess.
    return (f'<option value="">Pick the entry\u2026</option>{nearest}'
            f'<optgroup label="All entries">{"".join(map(option, rest))}</optgroup>')


def _scope_options(entries: list[Entry], first: str | None) -> str:
    ordered = sorted(entries, key=lambda x: (x.id != first, x.title.lower()))
    return ('<option value="">Not SEND: ignore</option>'
            + "".join(f'<option value="{e(x.id)}">Out of scope: {e(x.title)}</option>' for x in ordered))


def _controls(key: str, label: str, answering: list[Entry], scoping: list[Entry], nearest: list[str],
              caught_by: str | None, gap: bool) -> str:
    needs = "" if gap else f'<button type="submit" name="do" value="needs-answer:{e(key)}">Needs a new answer</button> '
    return (
        f'<label class="small" for="entry-{e(key)}">Entry that answers {label}</label>'
        f'<select id="entry-{e(key)}" name="entry-{e(key)}">{_entry_options(answering, nearest)}</select> '
        f'<button type="submit" name="do" value="add-phrasing:{e(key)}">Add as phrasings</button>'
        f'<label class="small" for="scope-{e(key)}">Or</label>'
        f'<select id="scope-{e(key)}" name="scope-{e(key)}">{_scope_options(scoping, caught_by)}</select> '
        f'<button type="submit" name="do" value="out-of-scope:{e(key)}">Mark</button><br>'
        f'{needs}<button type="submit" name="do" value="dismiss:{e(key)}">Dismiss as noise</button>'
    )


def _row(group: Group, answering: list[Entry], scoping: list[Entry]) -> str:
    examples = "".join(f"<li>{e(x)}</li>" for x in group.examples)
    more = len(group.wordings) - len(group.examples)
    more_line = f'<li class="muted">and {more} more wordings</li>' if more > 0 else ""
    controls = _controls(group.id, "these questions", answering, scoping, [n["topic"] for n in group.nearest],
                         group.caught_by, group.section == "gaps")
    return (f'<tr id="{e(group.id)}"><td><input type="checkbox" name="group" value="{e(group.id)}" '
            f'aria-label="Select group {e(group.id)}"></td><td class="n">{group.count}</td>'
            f'<td><ul class="examples">{examples}{more_line}</ul>{_context(group)}</td>'
            f"<td>{_nearest(group)}</td><td class=\"actions\">{controls}</td></tr>")


def section(name: str, groups: list[Group], entries: list[Entry], csrf: str, since: str, shown: int) -> str:
    """One list with its bulk bar; `shown` rows at most (the count says how many there are)."""
    title, about = TITLES[name]
    asked = sum(g.count for g in groups)
    head = f'<h2 id="{name}">{e(title)}</h2><p class="muted">{e(about)}</p>'
    if not groups:
        return head + "<p>None in this period.</p>"
    answering = [x for x in entries if x.answers]
    scoping = [x for x in entries if not x.answers]
    bulk = _controls(f"bulk-{name}", "the ticked groups", answering, scoping, [], None, name == "gaps")
    rows = "".join(_row(g, answering, scoping) for g in groups[:shown])
    cut = f'<p class="muted">Showing the {shown} biggest of {len(groups)} groups.</p>' if len(groups) > shown else ""
    counted = f"{_plural(asked, 'question')} in {_plural(len(groups), 'group')}"
    return (f'{head}<p><strong>{counted}.</strong></p>{cut}'
            f'<form method="post" action="/editors/triage">{hidden_csrf(csrf)}'
            f'<input type="hidden" name="since" value="{e(since)}">'
            f'<fieldset class="bulk"><legend>Ticked groups</legend>{bulk}</fieldset>'
            "<table><thead><tr><th>Pick</th><th>Asked</th><th>Questions (redacted) and context</th>"
            f"<th>Nearest entries (score)</th><th>Action</th></tr></thead><tbody>{rows}</tbody></table></form>")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def notice(done: Action | None, message: str | None, problems: list[str], csrf: str, since: str) -> str:
    """The outcome of the last action at the top of the page, with its undo button."""
    if problems or (message and done is None):
        items = "".join(f"<li>{e(p)}</li>" for p in problems)
        return (f'<div class="error" role="alert"><strong>{e(message or "Nothing was changed.")}</strong>'
                f"{'<ul>' + items + '</ul>' if items else ''}</div>")
    if done is None:
        return ""
    undo = "" if done.action == "undo" or done.undone_by else undo_button(done.id, csrf, since)
    return f'<div class="note" role="status">Done: {e(message or done.describe())} {undo}</div>'


def undo_button(action_id: int, csrf: str, since: str) -> str:
    return (f'<form class="inline" method="post" action="/editors/undo">{hidden_csrf(csrf)}'
            f'<input type="hidden" name="since" value="{e(since)}">'
            f'<button type="submit" name="action" value="{action_id}">Undo action {action_id}</button></form>')


def actions_table(actions: list[Action], csrf: str, since: str) -> str:
    if not actions:
        return '<h2 id="actions">Recent actions</h2><p>No actions yet.</p>'
    rows = "".join(
        f'<tr><td class="n">{a.id}</td><td class="nowrap">{e(a.at[:16].replace("T", " "))}</td><td>{e(a.editor)}</td>'
        f"<td>{e(a.describe())}</td><td>"
        + (f"undone by {a.undone_by}" if a.undone_by else "" if a.action == "undo" else undo_button(a.id, csrf, since))
        + "</td></tr>" for a in actions)
    return ('<h2 id="actions">Recent actions</h2><table><thead><tr><th>Action</th><th>When (UTC)</th><th>Who</th>'
            f"<th>What</th><th>Undo</th></tr></thead><tbody>{rows}</tbody></table>")
