"""Impact of a revision: which rules changed between two dates (or two rule directories),
and which cases' verdicts flip because of it, with the rules that flipped them.

    check-listing rules diff --old 2024-04-29 --new 2024-04-30 cases/
    check-listing rules diff --old-rules old/rules --new-rules rules cases/
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..input.caseload import LoadedCase
from ..rules.rulebook import Rule, Rulebook, RuleVersion
from .evaluation import Evaluator
from .results import CaseResult


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    old: str | None  # version label, None when not in force
    new: str | None
    details: tuple[str, ...]


@dataclass(frozen=True)
class StatusFlip:
    rule_id: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class CaseImpact:
    case_id: str
    case_file: str
    old_verdict: str
    new_verdict: str
    flips: tuple[StatusFlip, ...]

    @property
    def verdict_flips(self) -> bool:
        return self.old_verdict != self.new_verdict


def changed_rules(old_book: Rulebook, old_date: dt.date, new_book: Rulebook, new_date: dt.date) -> list[RuleChange]:
    """Rules whose version in force differs between (old_book, old_date) and (new_book, new_date)."""
    changes = []
    for rule_id in list(dict.fromkeys(list(old_book.rules) + list(new_book.rules))):
        old_version = _version(old_book.rules.get(rule_id), old_date)
        new_version = _version(new_book.rules.get(rule_id), new_date)
        details = _differences(old_version, new_version)
        if details:
            changes.append(RuleChange(rule_id, old_version.label() if old_version else None,
                                      new_version.label() if new_version else None, tuple(details)))
    return changes


def _version(rule: Rule | None, on: dt.date) -> RuleVersion | None:
    return rule.version_on(on) if rule else None


def _differences(old: RuleVersion | None, new: RuleVersion | None) -> list[str]:
    if old is None and new is None:
        return []
    if old is None:
        return ["comes into force"]
    if new is None:
        return ["no longer in force"]
    details = []
    if old.condition_text != new.condition_text:
        details.append(f"condition: {_flat(old.condition_text)} → {_flat(new.condition_text)}")
    if old.applies_when_text != new.applies_when_text:
        details.append(f"applies when: {_flat(old.applies_when_text)} → {_flat(new.applies_when_text)}")
    if old.citation.quote != new.citation.quote:
        details.append("quoted text changed")
    if old.citation.document != new.citation.document:
        details.append(f"source: {old.citation.document} → {new.citation.document}")
    return details


def _flat(text: str | None) -> str:
    return " ".join(text.split()) if text else "—"


def case_impacts(old: Evaluator, old_date: dt.date | None, new: Evaluator, new_date: dt.date | None,
                 cases: list[LoadedCase], require: tuple[str, ...] = ()) -> list[CaseImpact]:
    """Each case judged before and after; the rules whose status changed. A date of None
    keeps each case's own date; `require` counts reported-only parts for the verdict."""
    return [case_impact(loaded, old.evaluate(loaded, as_of=old_date, require=require),
                        new.evaluate(loaded, as_of=new_date, require=require)) for loaded in cases]


def case_impact(loaded: LoadedCase, before: CaseResult, after: CaseResult) -> CaseImpact:
    """One case's impact from its two results (for a caller that has evaluated them already)."""
    return CaseImpact(loaded.case_id, loaded.source.file, before.verdict.value, after.verdict.value,
                      _flips(before, after))


def _flips(before: CaseResult, after: CaseResult) -> tuple[StatusFlip, ...]:
    old_status = {r.rule_id: r for r in before.results}
    flips = []
    for result in after.results:
        previous = old_status.get(result.rule_id)
        old = previous.status.value if previous else "absent"
        if old != result.status.value:
            flips.append(StatusFlip(result.rule_id, old, result.status.value, result.reason))
    return tuple(flips)


def format_diff(changes: list[RuleChange], impacts: list[CaseImpact], old_label: str, new_label: str) -> str:
    lines = [f"Rules changed from {old_label} to {new_label}: {len(changes)}"]
    for change in changes:
        lines.append(f"  {change.rule_id}: {change.old or 'not in force'} → {change.new or 'not in force'}")
        lines += [f"      {detail}" for detail in change.details]
    flipped = [i for i in impacts if i.verdict_flips]
    lines += ["", f"Cases: {len(impacts)} evaluated, {len(flipped)} change verdict"]
    for impact in impacts:
        if not impact.flips:
            continue
        marker = "VERDICT " if impact.verdict_flips else ""
        lines.append(f"  {marker}{impact.case_id} ({impact.case_file}): {impact.old_verdict} → {impact.new_verdict}")
        for flip in impact.flips:
            lines.append(f"      {flip.rule_id}: {flip.old} → {flip.new} — {flip.reason}")
    return "\n".join(lines) + "\n"


def case_paths(paths: tuple[Path, ...]) -> list[Path]:
    """Case files named directly or found (*.yaml) in the folders named, sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.yaml") if not p.name.endswith(".test.yaml"))
        else:
            found.append(path)
    return found
