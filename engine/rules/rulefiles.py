"""What a rule author writes: the pydantic models of rule files (rulebook.yaml, figures.yaml, an
instrument's instrument.yaml, an article's rules with their dated versions), and their JSON Schema.

Layout of a rules directory (see README "Rule files"):

    rulebook.yaml                 name and version of the rule set
    figures.yaml                  derived figures and attested judgments (the vocabulary)
    <instrument>/instrument.yaml  the instrument: titles and its editions (document numbers, dates)
    <instrument>/<article>.yaml   the rules of one article, each with dated versions
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..common.interrupts import HeldBuild
from ..input.case import Stage, normalize_standard

# ---------------------------------------------------------------------------------
# File models (what a rule author writes)


class _Strict(HeldBuild, BaseModel):
    # Validators are built on first use, by the loader: a check that reads its compiled rules from
    # the cache unpickles a few of these models and validates none.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Title(_Strict):
    zh: str
    en: str


class Edition(_Strict):
    """One published version of an instrument."""

    id: str = Field(description="Short id used by rule versions, e.g. '2019-04'")
    document: str = Field(description="Document number, e.g. 上证发〔2019〕53号")
    date: dt.date = Field(description="Date issued / in force")
    date_verified: bool = Field(False, description="Whether the date was read in an official source")
    note: str | None = None


class InstrumentFile(_Strict):
    id: str
    title: Title
    issued_by: str
    editions: list[Edition] = Field(min_length=1)


class Attested(_Strict):
    """A judgment the engine cannot compute; a case states it with evidence."""

    id: str
    title: Title
    description: str | None = None


# How the text of a quote is known: read in a full copy of the instrument; quoted inside another
# document (an issuer filing, a news page, a Q&A); paraphrased by a source (the quote is that source's
# summary); or not read at all (the quote is an earlier edition's text, carried over).
Provenance = Literal["fulltext", "quoted", "summary", "unverified"]
PROVENANCE_MEANING: dict[str, str] = {
    "fulltext": "read in a full copy of the instrument",
    "quoted": "quoted inside another document",
    "summary": "paraphrased by a source; not the article's wording",
    "unverified": "not read; the text shown is an earlier edition's",
}
# Quotes read in traditional characters are shown in simplified characters (the official texts
# are simplified), converted by OpenCC; rules/reference keeps the text as read.
Script = Literal["simplified", "traditional"]


class FigureCitation(_Strict):
    instrument: str
    edition: str
    article: str
    quote: str
    text: Provenance = Field(description="How the quote is known: fulltext | quoted | summary | unverified")
    script: Script = Field("simplified", description="Script of the quote as read")
    source: str | None = Field(None, description="Where the quote was read (or why it was not)")


class FigureFile(_Strict):
    id: str
    title: Title
    unit: Literal["money", "shares", "price", "ratio", "receipts", "receipt_price", "receipts_per_share",
                  "bool", "text", "date"]
    per_year: bool = False
    expr: str
    citation: FigureCitation | None = None
    note: str | None = None


class FiguresFile(_Strict):
    figures: list[FigureFile] = Field(default_factory=list)
    attestations: list[Attested] = Field(default_factory=list)


class VersionFile(_Strict):
    """One version of a rule: its effective period, its source text and its logic."""

    effective_from: dt.date
    effective_to: dt.date | None = Field(None, description="Last day in force (inclusive); open if absent")
    instrument: str | None = Field(None, description="Instrument of this version, when not the article file's")
    article: str | None = Field(None, description="Article in that instrument, when not the article file's")
    edition: str = Field(description="Edition id of the instrument the quote is from")
    quote: str | None = Field(None, description="The article text this version encodes, verbatim "
                                                "(default: the rule's quote)")
    text: Provenance = Field(description="How the quote is known for this edition: fulltext (read in a full copy), "
                                         "quoted (inside another document), summary (a source's paraphrase), "
                                         "unverified (not read; an earlier edition's text)")
    script: Script = Field("simplified", description="Script of the quote as read; traditional quotes are shown "
                                                     "converted to simplified characters")
    source: str = Field(description="Where the quote was read, or why it was not")
    applies_when: str | None = Field(None, description="Overrides the rule's applies_when")
    condition: str | None = Field(None, description="Overrides the rule's condition")


class RuleFile(_Strict):
    id: str
    item: str | None = Field(None, description="Item of the article, e.g. （二）")
    title: Title
    kind: Literal["check", "chosen_standard"] = "check"
    stages: list[Stage] = Field(default_factory=lambda: list(Stage))
    group: str | None = Field(None, description="Alternatives group this rule belongs to (listing standards)")
    standard: str | None = Field(None, description="Label a case uses to choose this standard, e.g. 2.1.2（四）")
    alternatives: str | None = Field(None, description="For kind chosen_standard: the group whose chosen member must hold")
    quote: str | None = Field(None, description="The article text, verbatim, for versions that do not state their own")
    applies_when: str | None = None
    condition: str | None = None
    versions: list[VersionFile] = Field(min_length=1)
    severity: Literal["condition", "guideline"] = Field(
        "condition", description="guideline: a 原则上 limit (a presumption, not a bar); exceeding it is reported "
                                 "and cited, never a failure of the verdict")
    ended: str | None = Field(None, description="Why the last version ends (repealed by …, or not encoded after …): "
                                                "required when the last version has an effective_to")

    @field_validator("standard")
    @classmethod
    def _standard(cls, value: str | None) -> str | None:
        return None if value is None else normalize_standard(value)


class ArticleFile(_Strict):
    instrument: str
    article: str
    title: Title | None = None
    part: str = Field("eligibility", description="The part of the report these rules belong to (rulebook.yaml parts)")
    rules: list[RuleFile] = Field(min_length=1)


class Part(_Strict):
    """A part of the report with its own verdict, e.g. listing eligibility or sci-tech attributes."""

    id: str
    title: Title
    decides_verdict: bool = Field(description="Whether this part's verdict is part of the overall verdict "
                                              "(others count only when the user requires them)")
    consequences: bool = Field(False, description="Its rules state consequences (a special marking, a lock-up) "
                                                  "that apply when their condition holds; never part of a verdict")


@dataclass(frozen=True)
class LatestYearWindow:
    """From a date on: how many months after its period end a prospectus's financial statements
    stay usable (the validity plus the longest extension), which fixes 最近一年 on a case's date.
    Read from the versions of the rulebook's `latest_year_rule` (`figure <= N个月`)."""

    effective_from: dt.date
    months: int
    rule: str


class RulebookFile(_Strict):
    name: str
    version: str
    known_as_of: dt.date = Field(description="The day the rule set was last checked against the published editions: "
                                             "a case dated later is judged with a warning")
    latest_year_rule: str | None = Field(None, description="The rule whose versions say how many months financial "
                                                           "statements stay usable (`<figure> <= N个月`): it fixes "
                                                           "which fiscal year is 最近一年 on a case's date")
    description: str | None = None
    parts: list[Part] = Field(min_length=1)

def rule_file_json_schema() -> dict[str, Any]:
    """JSON Schema of an article's rule file, for editors."""
    schema = ArticleFile.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "STAR Market rule file (one article)"
    return schema
