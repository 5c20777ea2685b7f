"""Check that every quote in the rules is the reference text, verbatim.

The reference texts (`rules/reference/*.md`, copies of the team's research notes with
their sources) quote the articles in Markdown block quotes. A rule's quote, line by
line, must appear in them exactly (after removing the `> ` markers): a quote typed
from memory or "tidied up" is a lint error naming the rule, file and line.
"""

from __future__ import annotations

from pathlib import Path

from ..common.errors import Problem
from .rulebook import Rulebook


def reference_text(directory: Path) -> str:
    """All reference files as one text, block-quote markers removed."""
    parts = []
    for path in sorted(directory.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.lstrip()
            parts.append(stripped[1:].lstrip() if stripped.startswith(">") else line)
    return "\n".join(parts)


def check_quotes(rulebook: Rulebook, directory: Path | None = None) -> list[Problem]:
    """A problem for each quoted line of a rule or figure that is not in the reference texts."""
    directory = directory or rulebook.directory / "reference"
    if not directory.is_dir():
        return [Problem("reference texts not found", file=str(directory), expected="a folder of .md files")]
    text = reference_text(directory)
    problems = []
    for rule in rulebook.rules.values():
        for version in rule.versions:
            for line in _quote_lines(version.citation.quote):
                if line not in text:
                    problems.append(Problem(f"quote not found verbatim in {directory}: “{line}”",
                                            file=rule.file, line=rule.line, rule_id=rule.id,
                                            field=f"versions ({version.period()})"))
    for figure in rulebook.figures.values():
        if figure.citation:
            for line in _quote_lines(figure.citation.quote):
                if line not in text:
                    problems.append(Problem(f"quote not found verbatim in {directory}: “{line}”",
                                            file=figure.file, rule_id=figure.id,
                                            field="citation.quote"))
    return list(dict.fromkeys(problems))


def _quote_lines(quote: str) -> list[str]:
    return [line.strip() for line in quote.splitlines() if line.strip()]
