"""Echoed input made harmless to print, and bounded in length.

A case file is untrusted text, and reports and error messages echo parts of it (the issuer's
name, the case id, an attesting party, a file name, an unknown key). A newline in any of them
would let a case print a line of its own, such as a forged `Verdict: ELIGIBLE` under a report
that is not; BEL, NUL or a bidi override (U+202E) would ring, truncate or reorder what a
reader sees. `escape` writes every such character as a visible escape (`\\n`, `\\x07`,
`\\u202e`), so one echoed value stays one visible run of text on one line. It is idempotent:
its output contains no character it would escape.

`clip` bounds one message; `MAX_PROBLEMS` bounds how many problems one file reports.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; bidi embeddings, overrides, isolates and marks; the Unicode line
# and paragraph separators; zero-width characters and the BOM (invisible, they hide what is there).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

MAX_PROBLEMS = 50  # per file; then "and N more problems"
MAX_MESSAGE_CHARS = 1000  # per problem message
MAX_CELL_CHARS = 4000  # per stored error cell (Excel's limit is 32,767)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` with every control, bidi-control and invisible character written as an escape."""
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text


def is_safe(text: str) -> bool:
    """True when `escape` would leave `text` as it is."""
    return _UNSAFE.search(text) is None


def clip(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to about `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"
