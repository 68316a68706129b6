"""Escaping for the summary's markdown, shared by the change and the access sections.

Everything a person typed (reasons, file names, logins) passes through here, so it cannot
break a table or smuggle in markup, and a login in it pings nobody.
"""

from __future__ import annotations

MAX_REASON = 300
WITHHELD_REASON = "withheld: it may hold a value (see the problems below)"


def cell(text: object) -> str:
    """One markdown table cell: no pipes, no line breaks, no HTML, no mentions."""
    value = " ".join(str(text).split())
    for raw, safe in (
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("@", "@\u200b"),
        ("`", "'"),
    ):
        value = value.replace(raw, safe)
    return value or "—"


def table_code(text: str, *, in_table: bool = True) -> str:
    """A code span: shown literally by GitHub, so only backticks, line breaks and (inside a
    table) pipes need care; HTML entities would show up verbatim."""
    value = " ".join(str(text).split()).replace("`", "'")
    if in_table:
        value = value.replace("|", "\\|")
    return f"`{value}`" if value else "—"


def reason_text(text: str) -> str:
    # A reason is a sentence; a pasted essay must not push the decision off the page.
    flat = " ".join(text.split())
    return cell(flat if len(flat) <= MAX_REASON else flat[: MAX_REASON - 1] + "…")
