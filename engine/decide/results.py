"""Plain result objects: what evaluation found, ready for a report to format.

Reports never compute: every figure, threshold and margin a report prints is here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..input.units import Quantity
from ..rules.rulebook import Citation


class Status(str, Enum):
    """How a rule ended. Every rule ends in exactly one."""

    passed = "pass"
    failed = "fail"
    not_applicable = "not_applicable"  # in force, but not for this issuer or at this stage
    not_in_force = "not_in_force"  # no version of the rule is in force on the date (repealed, or not encoded)
    undetermined = "undetermined"


# Statuses that leave a rule out of its part's verdict.
NOT_COUNTED = (Status.not_applicable, Status.not_in_force)


class Verdict(str, Enum):
    eligible = "eligible"
    not_eligible = "not_eligible"
    undetermined = "undetermined"


@dataclass(frozen=True)
class FigureValue:
    """A figure the rule read: its value (or why it is missing) and how it is derived."""

    name: str
    title_zh: str | None
    value: Any  # Quantity | bool | str | None when missing
    formula: str | None
    missing_reason: str | None = None


@dataclass(frozen=True)
class Comparison:
    """One comparison of a rule's condition, as the law states it, with its outcome and margin."""

    text: str
    left: str
    op: str
    right: str
    left_value: Any
    right_value: Any
    holds: bool | None  # None: a side is missing
    margin: Quantity | None  # left − right for quantities
    relative_margin: Quantity | None  # margin / right, when right is a nonzero quantity
    display_unit: str | None  # the unit the threshold was written in
    selector: bool = False  # the condition of an `if` (chooses a branch; not itself a requirement)
    operands_key: str = ""  # "left ? right" with years as year(k, x): the same threshold in every case


@dataclass(frozen=True)
class RuleResult:
    rule_id: str
    part: str
    title_zh: str
    title_en: str
    status: Status
    reason: str
    citation: Citation | None
    version: str | None  # document and effective period of the version applied
    condition: str | None
    applies_when: str | None
    comparisons: tuple[Comparison, ...] = ()
    applicability: tuple[Comparison, ...] = ()
    figures: tuple[FigureValue, ...] = ()
    missing: tuple[str, ...] = ()
    group: str | None = None
    standard: str | None = None
    chosen: bool = False
    informational: bool = False  # an alternative not chosen: reported, not part of the verdict
    guideline: bool = False  # a 原则上 limit: exceeding it is reported and cited, never a failure
    durable_rules_fired: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attested:
    """An attested judgment the case states, shown with its evidence."""

    name: str
    title_zh: str
    holds: bool
    attested_by: str | None
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class PartResult:
    """The verdict of one part of the report (listing eligibility, sci-tech attributes…)."""

    part: str
    title_zh: str
    title_en: str
    verdict: Verdict
    summary: str
    counts: bool  # part of the overall verdict (decides it by the rulebook, or required by the user)
    consequences: bool = False  # its rules are consequences that apply (pass) or not (fail)
    applicable: bool = True  # False: no rule of the part applies on this date and stage
    encoded: bool = True  # False: no rule of the part is in force on the date (undetermined when it counts)


@dataclass(frozen=True)
class BreakEven:
    """The lowest issue price, in whole fen, at which one market-cap standard holds.

    `outcome` is "price" (then `price` and `market_cap` are set), "no_price" (its other
    conditions fail at every price), "not_applicable" or "undetermined" (facts missing).
    """

    standard: str
    rule_id: str
    title_zh: str
    outcome: str
    price: Quantity | None
    market_cap: Quantity | None
    reason: str
    chosen: bool = False


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    case_file: str
    case_sha256: str
    issuer: str
    stage: str
    case_date: dt.date
    as_of: dt.date
    chosen_standard: str | None
    rulebook_name: str
    rulebook_version: str
    rulebook_sha256: str
    verdict: Verdict
    summary: str
    results: tuple[RuleResult, ...]
    standards_holding: tuple[str, ...]
    attestations: tuple[Attested, ...] = ()
    versions_used: tuple[str, ...] = field(default=())
    parts: tuple[PartResult, ...] = ()
    break_even: tuple[BreakEven, ...] = ()  # at pricing and subscription (engine.pricing)
    warnings: tuple[str, ...] = ()  # what the reader must know about the date, the years or the rule set
    explained: bool = True  # False: a batch row's result, without comparisons, figures or break-even prices

    def is_consequence(self, rule: RuleResult) -> bool:
        return any(p.consequences and p.part == rule.part for p in self.parts)

    def counts_for_verdict(self, rule: RuleResult) -> bool:
        """Whether this rule's status entered the overall verdict: applicable, not a mere
        alternative, and in a part that decides (or was required)."""
        return _counts(rule, {p.part for p in self.parts if p.counts})

    def counted(self) -> tuple[bool, ...]:
        """`counts_for_verdict` of each of `results`, in order."""
        deciding = {p.part for p in self.parts if p.counts}
        return tuple(_counts(rule, deciding) for rule in self.results)

    def deciding_provenance(self) -> dict[str, int]:
        """How the texts of the rules that decided the verdict are known: count by provenance word."""
        counts: dict[str, int] = {}
        for rule in self.results:
            if rule.citation is not None and self.counts_for_verdict(rule):
                counts[rule.citation.provenance] = counts.get(rule.citation.provenance, 0) + 1
        return counts

    def result(self, rule_id: str) -> RuleResult:
        for item in self.results:
            if item.rule_id == rule_id:
                return item
        raise KeyError(rule_id)


def _counts(rule: RuleResult, deciding: set[str]) -> bool:
    return not rule.informational and not rule.guideline and rule.status not in NOT_COUNTED and rule.part in deciding
