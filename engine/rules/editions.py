"""The editions a rule set knows, and how well each rule version's text is known.

`check-listing rules editions [--as-of DATE]` prints, per instrument, its editions
(document number, date, whether the date was read) and, per rule version, its
provenance and source: the verification to-do list of a rule author. With `--as-of`
only the versions in force on that date are listed, so the list says what a case of that
date rests on. The same data, as JSON, feeds the README's "What is and is not verified".
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from .rulebook import Rulebook
from .rulefiles import PROVENANCE_MEANING

PROVENANCE_ORDER = ("fulltext", "quoted", "summary", "unverified")


@dataclass(frozen=True)
class VersionEntry:
    rule_id: str
    part: str
    article: str
    period: str
    edition: str
    provenance: str
    script: str
    source: str | None


@dataclass(frozen=True)
class EditionEntry:
    id: str
    document: str
    date: dt.date
    date_verified: bool
    note: str | None


@dataclass(frozen=True)
class InstrumentEntry:
    id: str
    title: str
    issued_by: str
    editions: tuple[EditionEntry, ...]
    versions: tuple[VersionEntry, ...]


def editions(rulebook: Rulebook, as_of: dt.date | None = None) -> tuple[InstrumentEntry, ...]:
    """Every instrument with its editions and the rule versions citing it (in force on `as_of`, if given)."""
    versions: dict[str, list[VersionEntry]] = {}
    for rule in rulebook.rules.values():
        for version in rule.versions:
            if as_of is not None and not version.in_force(as_of):
                continue
            c = version.citation
            versions.setdefault(c.instrument_id, []).append(VersionEntry(
                rule.id, rule.part, c.article + (c.item or ""), version.period(), c.edition_id, c.provenance,
                c.script, c.source))
    out = []
    for instrument in sorted(rulebook.instruments.values(), key=lambda i: i.id):
        listed = tuple(EditionEntry(e.id, e.document, e.date, e.date_verified, e.note)
                       for e in sorted(instrument.editions, key=lambda e: e.date))
        out.append(InstrumentEntry(instrument.id, instrument.title.zh, instrument.issued_by, listed,
                                   tuple(versions.get(instrument.id, ()))))
    return tuple(out)


def provenance_counts(entries: tuple[InstrumentEntry, ...]) -> dict[str, int]:
    counts = {word: 0 for word in PROVENANCE_ORDER}
    for instrument in entries:
        for version in instrument.versions:
            counts[version.provenance] += 1
    return counts


def format_editions(entries: tuple[InstrumentEntry, ...], rulebook: Rulebook, as_of: dt.date | None) -> str:
    scope = f"rule versions in force on {as_of.isoformat()}" if as_of else "every rule version"
    known = rulebook.known_as_of.isoformat() if rulebook.known_as_of else "not stated"
    counts = provenance_counts(entries)
    lines = [f"Rule set {rulebook.name} {rulebook.version} ({rulebook.directory}); editions known as of {known}",
             f"{scope}: " + ", ".join(f"{word} {counts[word]}" for word in PROVENANCE_ORDER),
             "  " + "; ".join(f"{word} = {PROVENANCE_MEANING[word]}" for word in PROVENANCE_ORDER)]
    for instrument in entries:
        lines += ["", f"{instrument.title} [{instrument.id}] — {instrument.issued_by}"]
        for edition in instrument.editions:
            date = edition.date.isoformat() + ("" if edition.date_verified else " (date not verified)")
            lines.append(f"  edition {edition.id}: {edition.document}, {date}")
        for version in instrument.versions:
            script = ", read in traditional characters" if version.script == "traditional" else ""
            lines.append(f"    {version.provenance:<10} {version.rule_id} {version.article} ({version.edition}, "
                         f"{version.period}{script}) — {version.source or 'no source given'}")
        if not instrument.versions:
            lines.append("    (no rule version cites this instrument" + (" on that date)" if as_of else ")"))
    return "\n".join(lines) + "\n"


def editions_json(entries: tuple[InstrumentEntry, ...], rulebook: Rulebook, as_of: dt.date | None) -> str:
    data: dict[str, Any] = {
        "rulebook": {"name": rulebook.name, "version": rulebook.version,
                     "known_as_of": rulebook.known_as_of.isoformat() if rulebook.known_as_of else None},
        "as_of": as_of.isoformat() if as_of else None,
        "provenance_counts": provenance_counts(entries),
        "instruments": [{
            "id": i.id, "title": i.title, "issued_by": i.issued_by,
            "editions": [{"id": e.id, "document": e.document, "date": e.date.isoformat(),
                          "date_verified": e.date_verified, "note": e.note} for e in i.editions],
            "versions": [{"rule": v.rule_id, "part": v.part, "article": v.article, "period": v.period,
                          "edition": v.edition, "provenance": v.provenance, "script": v.script,
                          "source": v.source} for v in i.versions],
        } for i in entries],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
