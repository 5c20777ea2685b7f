"""The checked rulebook the engine uses: rules, their dated versions with citations and provenance,
the figures and attested judgments that make up the vocabulary of expressions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..input.casefacts import INPUT_FACTS
from .expression import BOOL, Node, Type, quantity
from .rulefiles import Attested, FigureCitation, InstrumentFile, LatestYearWindow, PROVENANCE_MEANING, Part, Title

# ---------------------------------------------------------------------------------
# Loaded, checked objects (what the engine uses)


@dataclass(frozen=True)
class Citation:
    """Where a rule comes from: instrument, edition (document number and date), article, item, text."""

    instrument_id: str
    instrument_title: Title
    document: str
    edition_id: str
    edition_date: dt.date
    article: str
    item: str | None
    quote: str  # as read (rules/reference keeps it so)
    provenance: str  # fulltext | quoted | summary | unverified
    source: str | None
    script: str = "simplified"  # of the quote as read
    display_quote: str = ""  # in simplified characters (the quote itself unless read in traditional)

    def provenance_note(self) -> str:
        """`summary — paraphrased by a source; …: T4, T5 (converted from traditional characters)`."""
        note = f"{self.provenance} — {PROVENANCE_MEANING[self.provenance]}"
        if self.source:
            note += f": {self.source}"
        if self.script == "traditional":
            note += " (read in traditional characters; shown converted to simplified by OpenCC)"
        return note

    def reference(self) -> str:
        """`《上海证券交易所科创板股票上市规则》(上证发〔2019〕53号) 2.1.1（二）`."""
        article = self.article + (self.item or "")
        return f"《{self.instrument_title.zh}》({self.document}) {article}"


@dataclass(frozen=True)
class RuleVersion:
    effective_from: dt.date
    effective_to: dt.date | None
    citation: Citation
    applies_when: Node | None
    applies_when_text: str | None
    condition: Node | None
    condition_text: str | None

    def in_force(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    def period(self) -> str:
        end = self.effective_to.isoformat() if self.effective_to else "…"
        return f"in force {self.effective_from.isoformat()}–{end}"

    def label(self) -> str:
        return f"{self.citation.document}, {self.period()}"


@dataclass(frozen=True)
class Rule:
    id: str
    title: Title
    part: str
    kind: str
    stages: tuple[str, ...]
    group: str | None
    standard: str | None
    alternatives: str | None
    versions: tuple[RuleVersion, ...]
    file: str
    line: int | None
    ended: str | None = None
    severity: str = "condition"  # or "guideline" (原则上): reported, never failing the verdict

    def version_on(self, on: dt.date) -> RuleVersion | None:
        for version in self.versions:
            if version.in_force(on):
                return version
        return None


@dataclass(frozen=True)
class Figure:
    id: str
    title: Title
    type: Type
    expr: Node
    expr_text: str
    citation: FigureCitation | None
    file: str


@dataclass
class Rulebook:
    """Every rule, figure and judgment of a rules directory, checked and ready to compile."""

    name: str
    version: str
    directory: Path
    rules: dict[str, Rule]
    figures: dict[str, Figure]
    attestations: dict[str, Attested]
    instruments: dict[str, InstrumentFile]
    sha256: str
    parts: dict[str, Part]
    known_as_of: dt.date | None = None
    latest_year: tuple[LatestYearWindow, ...] = ()

    def latest_year_window(self, on: dt.date) -> LatestYearWindow | None:
        """The statement-validity window in force on `on` (the latest starting on or before it)."""
        windows = [w for w in self.latest_year if w.effective_from <= on]
        return max(windows, key=lambda w: w.effective_from) if windows else None

    def type_of(self, name: str) -> Type | None:
        return vocabulary_type(name, self.figures, self.attestations)

    def names(self) -> list[str]:
        return sorted(set(INPUT_FACTS) | set(self.figures) | set(self.attestations))

    def members(self, group: str) -> list[Rule]:
        """The rules of an alternatives group, in file order."""
        return [r for r in self.rules.values() if r.group == group]

    def earliest_date(self) -> dt.date:
        return min(v.effective_from for r in self.rules.values() for v in r.versions)

    def period_starts(self) -> list[dt.date]:
        """The days on which some version comes into force or the day after one ends, in order: between
        two of them (and from the last on) the same versions are in force every day."""
        versions = [v for r in self.rules.values() for v in r.versions]
        return sorted({v.effective_from for v in versions}
                      | {v.effective_to + dt.timedelta(days=1) for v in versions if v.effective_to is not None})

    def stages(self) -> list[str]:
        """Every stage some rule applies at."""
        return sorted({stage for r in self.rules.values() for stage in r.stages})


def vocabulary_type(name: str, figures: dict[str, Figure], attestations: dict[str, Any]) -> Type | None:
    if name in INPUT_FACTS:
        spec = INPUT_FACTS[name]
        if spec.kind == "quantity":
            return quantity(spec.dim, spec.per_year)  # type: ignore[arg-type]
        return Type(spec.kind)
    if name in figures:
        return figures[name].type
    if name in attestations:
        return BOOL
    return None
