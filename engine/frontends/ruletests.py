"""Rule tests in YAML, beside the rules they test, and the coverage they reach.

`rules/<instrument>/<article>.test.yaml`:

    defaults: {date: 2021-06-30, stage: filing}       # merged into every test
    tests:
      - name: share capital exactly 3000万元 passes   # 不低于 includes the number
        facts: {post_issue_share_capital: 3000万元}    # inputs or derived figures, by name
        expect: {listing.2.1.1.2: pass}

A test states only the facts its rules read: input facts, derived figures (which then
are not derived), attested judgments (true/false), per-year figures as {year: amount},
`chosen_standard`, and `unaudited_years`. An expectation is a status (`pass`, `fail`,
`not_applicable`, `undetermined`) or {status:, missing: [facts…]}.

Coverage: per rule, which statuses the tests reach (pass, fail, undetermined, and not
applicable for rules with `applies_when`), and per threshold (every comparison of a
rule, whichever way it is written) whether tests put its left side below, on and above
its right side.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..common.errors import InputError, Problem
from ..decide.evaluation import Evaluator, operands_key
from ..decide.facts import FactEnvironment
from ..decide.results import RuleResult, Status
from ..input.case import normalize_standard
from ..input.casefacts import INPUT_FACTS, CaseFacts
from ..input.caseload import problems_from_validation
from ..input.units import RATIO, Quantity, UnitError, from_number, parse_amount
from ..input.yamlsource import SourceMap, load_file
from ..output.report import format_comparison
from ..rules.expression import Compare, children, names_in
from ..rules.rulebook import Rulebook

STATUSES = {s.value: s for s in Status}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expectation(_Strict):
    status: str
    missing: list[str] | None = None


class TestDefaults(_Strict):
    date: dt.date | None = None
    stage: str | None = None


class TestCase(_Strict):
    name: str
    date: dt.date | None = None
    stage: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    unaudited_years: list[int] = Field(default_factory=list)
    expect: dict[str, str | Expectation] = Field(min_length=1)


class TestFile(_Strict):
    defaults: TestDefaults = Field(default_factory=TestDefaults)
    tests: list[TestCase] = Field(min_length=1)


@dataclass(frozen=True)
class RuleTest:
    """One loaded test: its place, its facts and its expectations."""

    name: str
    file: str
    line: int | None
    date: dt.date
    stage: str
    facts: CaseFacts
    overrides: dict[str, Any]
    chosen_standard: str | None
    expect: dict[str, Expectation]

    @property
    def test_id(self) -> str:
        return f"{Path(self.file).name}:{self.line}: {self.name}"


@dataclass
class TestOutcome:
    test: RuleTest
    failures: list[str]
    results: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


# ---------------------------------------------------------------------------------
# Loading


def load_rule_tests(rulebook: Rulebook, directory: Path | None = None) -> list[RuleTest]:
    """Every `*.test.yaml` under the rules directory; an `InputError` lists every problem."""
    directory = directory or rulebook.directory
    problems: list[Problem] = []
    tests: list[RuleTest] = []
    for path in sorted(directory.glob("**/*.test.yaml")):
        try:
            document = load_file(path)
            parsed = TestFile.model_validate(document.data)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        except ValidationError as exc:
            problems.extend(problems_from_validation(exc, document.source, model=TestFile))
            continue
        for index, case in enumerate(parsed.tests):
            try:
                tests.append(_build(rulebook, case, parsed.defaults, document.source, index))
            except _TestError as exc:
                problems.append(exc.problem)
    if problems:
        raise InputError(problems)
    return tests


class _TestError(Exception):
    def __init__(self, problem: Problem):
        super().__init__(problem.render())
        self.problem = problem


def _build(rulebook: Rulebook, case: TestCase, defaults: TestDefaults, source: SourceMap, index: int) -> RuleTest:
    where = ("tests", index)
    line, _ = source.locate(where)

    def fail(path: tuple, message: str, expected: str | None = None) -> _TestError:
        return _TestError(source.problem(where + path, message, expected=expected, rule_id=case.name, kind="test"))

    date = case.date or defaults.date
    stage = case.stage or defaults.stage or "filing"
    if date is None:
        raise fail(("date",), "no date (set it on the test or under defaults)")
    scalars: dict[str, Any] = {"stage": stage, "evaluation_date": date}
    years: dict[int, dict[str, Quantity]] = {}
    overrides: dict[str, Any] = {}
    chosen = None
    for name, raw in case.facts.items():
        if name == "chosen_standard":
            chosen = normalize_standard(str(raw))
            scalars[name] = chosen  # rules read it too (e.g. the standard-五 carve-out)
            continue
        found = rulebook.type_of(name)
        if found is None:
            guess = difflib.get_close_matches(name, rulebook.names(), n=1)
            raise fail(("facts", name), f"unknown fact '{name}'" + (f"; did you mean '{guess[0]}'?" if guess else ""))
        try:
            if found.per_year:
                if not isinstance(raw, dict):
                    raise fail(("facts", name), f"{name} is per fiscal year: give {{year: amount}}")
                value = {int(year): _value(v, found) for year, v in raw.items()}
                for year in value:
                    years.setdefault(year, {})
            else:
                value = _value(raw, found)
        except (UnitError, ValueError) as exc:
            raise fail(("facts", name), str(exc)) from None
        if name in INPUT_FACTS and not INPUT_FACTS[name].per_year:
            scalars[name] = value
        elif name in INPUT_FACTS:
            for year, amount in value.items():
                years[year][name] = amount
        else:
            overrides[name] = value
    expect: dict[str, Expectation] = {}
    for rule_id, wanted in case.expect.items():
        if rule_id not in rulebook.rules:
            guess = difflib.get_close_matches(rule_id, list(rulebook.rules), n=1)
            raise fail(("expect", rule_id), f"unknown rule '{rule_id}'" + (f"; did you mean '{guess[0]}'?" if guess else ""))
        expectation = Expectation(status=wanted) if isinstance(wanted, str) else wanted
        if expectation.status not in STATUSES:
            raise fail(("expect", rule_id), f"unknown status '{expectation.status}'", expected=", ".join(STATUSES))
        expect[rule_id] = expectation
    facts = CaseFacts(scalars, years, {}, frozenset(case.unaudited_years))
    return RuleTest(case.name, source.file, line, date, stage, facts, overrides, chosen, expect)


def _value(raw: Any, found) -> Any:
    if found.kind == "bool":
        if not isinstance(raw, bool):
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw
    if found.kind == "text":
        return str(raw)
    if found.kind == "quantity":
        if isinstance(raw, str):
            return parse_amount(raw, dim=found.dim)
        return from_number(raw, dim=found.dim, unit=None) if found.dim == RATIO else parse_amount(str(raw), dim=found.dim)
    if found.kind == "date":
        if isinstance(raw, dt.date):
            return raw
        return dt.date.fromisoformat(str(raw))
    raise ValueError(f"cannot state a {found.kind} in a test")


# ---------------------------------------------------------------------------------
# Running


def run_rule_tests(evaluator: Evaluator, tests: list[RuleTest]) -> list[TestOutcome]:
    outcomes = []
    for test in tests:
        env = FactEnvironment(evaluator.rulebook, test.facts, test.overrides)
        results = evaluator.evaluate_rules(env, test.date, test.stage, test.chosen_standard)
        by_id = {r.rule_id: r for r in results}
        failures = []
        for rule_id, expectation in test.expect.items():
            got = by_id[rule_id]
            if got.status.value != expectation.status:
                failures.append(f"{rule_id}: expected {expectation.status}, got {got.status.value} — {got.reason}"
                                + _figures_text(got))
            elif expectation.missing is not None and sorted(expectation.missing) != sorted(got.missing):
                failures.append(f"{rule_id}: expected missing {sorted(expectation.missing)}, got {sorted(got.missing)}")
        outcomes.append(TestOutcome(test, failures, results))
    return outcomes


def _figures_text(result: RuleResult) -> str:
    lines = [format_comparison(c) for c in result.applicability + result.comparisons]
    return "".join(f"\n        {line}" for line in lines)


# ---------------------------------------------------------------------------------
# Coverage

SIDES = ("below", "on", "above")


@dataclass
class RuleCoverage:
    rule_id: str
    article: str
    required_statuses: tuple[str, ...]
    statuses: set[str] = field(default_factory=set)
    thresholds: dict[str, set[str]] = field(default_factory=dict)
    versions: dict[str, bool] = field(default_factory=dict)  # each dated version: reached by a test?

    def items(self) -> tuple[int, int]:
        """(covered, total) items: each required status, each side of each threshold, each version."""
        total = len(self.required_statuses) + 3 * len(self.thresholds) + len(self.versions)
        covered = (len(self.statuses & set(self.required_statuses)) + sum(len(s) for s in self.thresholds.values())
                   + sum(self.versions.values()))
        return covered, total


def coverage(rulebook: Rulebook, outcomes: list[TestOutcome]) -> list[RuleCoverage]:
    """What the tests reach, rule by rule (thresholds of every version of the rule)."""
    from ..decide.compiler import compile_rulebook

    compiled = compile_rulebook(rulebook)
    table: dict[str, RuleCoverage] = {}
    for rule in rulebook.rules.values():
        has_applicability = any(v.applies_when is not None for v in rule.versions)
        required = ("pass", "fail", "undetermined") + (("not_applicable",) if has_applicability else ())
        article = rule.versions[0].citation.instrument_id + " " + rule.versions[0].citation.article
        entry = RuleCoverage(rule.id, article, required)
        entry.versions = {_version_label(v): False for v in rule.versions}
        for index in range(len(rule.versions)):
            item = compiled.rules.get((rule.id, index))
            if item is None:
                continue
            for node in [item.condition] + ([item.applies_when] if item.applies_when is not None else []):
                for comparison in _comparisons(node):
                    if _is_quantity(comparison, rulebook):
                        entry.thresholds.setdefault(operands_key(comparison), set())
        table[rule.id] = entry
    for outcome in outcomes:
        for result in outcome.results:
            if result.rule_id not in outcome.test.expect:
                continue  # only what a test asserts counts as tested
            entry = table[result.rule_id]
            entry.statuses.add(result.status.value)
            version = rulebook.rules[result.rule_id].version_on(outcome.test.date)
            if version is not None:
                entry.versions[_version_label(version)] = True
            for comparison in result.applicability + result.comparisons:
                if comparison.margin is None or comparison.operands_key not in entry.thresholds:
                    continue
                sign = comparison.margin.value
                entry.thresholds[comparison.operands_key].add("below" if sign < 0 else "on" if sign == 0 else "above")
    return list(table.values())


def _version_label(version) -> str:
    return f"{version.citation.edition_id} from {version.effective_from.isoformat()}"


def _comparisons(node) -> list[Compare]:
    found = [node] if isinstance(node, Compare) else []
    for child in children(node):
        found += _comparisons(child)
    return found


def _is_quantity(node: Compare, rulebook: Rulebook) -> bool:
    """Whether a comparison is between amounts (a threshold), not text or true/false."""
    for name in sorted(names_in(node)):
        found = rulebook.type_of(name)
        if found is not None:
            return found.kind == "quantity"
    return False


def format_outcomes(outcomes: list[TestOutcome]) -> str:
    lines = []
    for outcome in outcomes:
        if not outcome.passed:
            lines.append(f"FAIL {outcome.test.test_id}")
            lines += [f"    {failure}" for failure in outcome.failures]
    passed = sum(o.passed for o in outcomes)
    lines.append(f"{passed} passed, {len(outcomes) - passed} failed")
    return "\n".join(lines) + "\n"


def format_coverage(entries: list[RuleCoverage]) -> str:
    """Per rule and per article: statuses reached, threshold sides reached, and the total."""
    lines = ["Coverage of rules by their YAML tests", ""]
    by_article: dict[str, list[RuleCoverage]] = defaultdict(list)
    for entry in entries:
        by_article[entry.article].append(entry)
    grand_covered = grand_total = 0
    for article, items in by_article.items():
        covered = sum(e.items()[0] for e in items)
        total = sum(e.items()[1] for e in items)
        grand_covered += covered
        grand_total += total
        lines.append(f"{article}: {_percent(covered, total)} ({covered}/{total})")
        for entry in items:
            c, t = entry.items()
            statuses = " ".join(f"{s}{'✓' if s in entry.statuses else '✗'}" for s in entry.required_statuses)
            lines.append(f"  {entry.rule_id}: {_percent(c, t)}  statuses: {statuses}")
            for key, sides in entry.thresholds.items():
                marks = " ".join(f"{s}{'✓' if s in sides else '✗'}" for s in SIDES)
                lines.append(f"      {key.replace(' ? ', ' vs ')}: {marks}")
            lines.append("      versions: " + " ".join(f"{label}{'✓' if hit else '✗'}"
                                                       for label, hit in entry.versions.items()))
    lines += ["", f"TOTAL: {_percent(grand_covered, grand_total)} ({grand_covered}/{grand_total})"]
    return "\n".join(lines) + "\n"


def coverage_percent(entries: list[RuleCoverage]) -> float:
    covered = sum(e.items()[0] for e in entries)
    total = sum(e.items()[1] for e in entries)
    return 100.0 * covered / total if total else 100.0


def _percent(covered: int, total: int) -> str:
    return f"{100 * covered // total if total else 100}%"
