"""Issue prices: the break-even price of every market-cap standard, and a sweep over prices.

Once priced, the market cap is issue price × post-issue total shares (rules/figures.yaml,
`market_cap_at_price`). The break-even price of a standard is the lowest price in whole fen
(0.01元) at which its rule holds. It is found from the rules themselves, never from thresholds
written in Python. When the rule's one price-dependent comparison is `figure >= threshold` (or
`>`) joined by `and`/`or` with conditions that do not depend on the price, and the figure is
linear in the price (the market cap: price × post-issue total shares), the candidate is the
threshold ÷ the figure per fen, rounded up to the fen; it is then verified by evaluating the rule
exactly at the candidate and one fen below (three exact evaluations at most). Any other rule falls
back to bisection over [0, MAX_PRICE_FEN] on exact evaluations, which is exact because every
standard's condition is monotone in the price. Either way the result is checked: the standard
holds at the price and fails one fen below it.

A sweep re-evaluates the whole case through the durable_rules engine at each price, so the
table shows exactly what `check-listing` would say at that price.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from ..input.case import Stage
from ..input.casefacts import case_facts
from ..input.caseload import LoadedCase
from ..input.units import PRICE, Quantity
from ..rules.expression import BoolOp, Call, Compare, Node, children, names_in
from ..rules.rulebook import Rule, Rulebook, RuleVersion
from .evaluation import Evaluator, exact_status
from .facts import FactEnvironment, Missing
from .results import BreakEven, CaseResult, Status, Verdict

FEN = Fraction(1, 100)
PRICE_FACT = "issue_price"
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
MAX_PRICE_FEN = 10**12  # 100亿元 per share: beyond it no standard is met by price alone
STANDARDS_GROUP = "listing-standards"
ABORT_PART = "abort"


def fen_price(fen: int) -> Quantity:
    return Quantity(Fraction(fen) * FEN, PRICE)


class _PricedFacts:
    """The exact facts of one case at any issue price (the case's own price ignored)."""

    def __init__(self, evaluator: Evaluator, loaded: LoadedCase, on: dt.date):
        self.evaluator, self.facts, self.on = evaluator, case_facts(loaded.case), on

    def at(self, fen: int) -> FactEnvironment:
        return self.evaluator.fact_environment(self.facts, self.on,
                                               {"issue_price": fen_price(fen), "stage": Stage.pricing.value})


def _status(priced: _PricedFacts, fen: int, version: RuleVersion) -> tuple[Status, Missing | None]:
    """The rule's exact status at a price: every evaluation a break-even search makes."""
    return exact_status(priced.at(fen), version.applies_when, version.condition)


def _holds(priced: _PricedFacts, fen: int, version: RuleVersion) -> bool:
    return _status(priced, fen, version)[0] == Status.passed


def _depends_on_price(node: Node, rulebook: Rulebook, seen: set[str] | None = None) -> bool:
    """Whether `node` reads the issue price, directly or through the figures it reads."""
    seen = set() if seen is None else seen
    for name in names_in(node) - seen:
        seen.add(name)
        figure = rulebook.figures.get(name)
        if name == PRICE_FACT or (figure is not None and _depends_on_price(figure.expr, rulebook, seen)):
            return True
    return False


def _price_comparison(condition: Node, rulebook: Rulebook) -> tuple[Node, str, Node] | None:
    """(figure, `>=` or `>`, threshold) when the condition's only price-dependent part is one
    comparison of a figure with a constant, reached through `and`/`or` alone; else None."""
    found: list[tuple[Node, str, Node]] = []

    def walk(node: Node) -> bool:  # False: the price is read somewhere the closed form cannot see
        if isinstance(node, BoolOp):
            return all(walk(operand) for operand in node.operands)
        if not _depends_on_price(node, rulebook):
            return True
        if not isinstance(node, Compare):
            return False
        left, right = _depends_on_price(node.left, rulebook), _depends_on_price(node.right, rulebook)
        term, op, threshold = (node.left, node.op, node.right) if left else (node.right, FLIPPED.get(node.op), node.left)
        if (left and right) or op not in (">=", ">") or names_in(threshold) or _has_call(threshold):
            return False
        found.append((term, op, threshold))
        return True

    return found[0] if walk(condition) and len(found) == 1 else None


def _has_call(node: Node) -> bool:
    return isinstance(node, Call) or any(_has_call(child) for child in children(node))


def _closed_form_candidate(priced: _PricedFacts, version: RuleVersion) -> int | None:
    """The lowest fen at which the price comparison holds, if its figure is linear in the price
    (value at 2元 twice the value at 1元); None when the closed form does not apply."""
    found = _price_comparison(version.condition, priced.evaluator.rulebook)
    if found is None:
        return None
    term, op, threshold_node = found
    at_one = priced.at(100)
    one, two, threshold = at_one.evaluate(term), priced.at(200).evaluate(term), at_one.evaluate(threshold_node)
    if not all(isinstance(v, Quantity) for v in (one, two, threshold)) or one.value <= 0 \
            or two.value != 2 * one.value:
        return None
    per_fen = one.value / 100
    exact = threshold.value / per_fen
    fen = math.ceil(exact) if op == ">=" else math.floor(exact) + 1
    return min(max(fen, 1), MAX_PRICE_FEN)


def _break_even(priced: _PricedFacts, rule: Rule, version: RuleVersion, chosen: bool) -> BreakEven:
    """The closed form where it applies (two exact evaluations: at the candidate and one fen
    below it, or at the candidate and the top price); bisection otherwise."""
    candidate = _closed_form_candidate(priced, version)
    if candidate is None:
        return _by_bisection(priced, rule, version, chosen)
    status, missing = _status(priced, candidate, version)
    if status == Status.not_applicable:
        return _outcome(rule, chosen, "not_applicable", f"does not apply: {version.applies_when_text}")
    if missing is not None:
        applicability = priced.at(candidate).evaluate(version.applies_when) if version.applies_when else True
        needs = "applicability needs " if isinstance(applicability, Missing) else "needs "
        return _outcome(rule, chosen, "undetermined", needs + ", ".join(sorted(missing.facts)))
    if status == Status.passed:
        if candidate == 1 or not _holds(priced, candidate - 1, version):
            return _priced(priced, rule, version, chosen, candidate)  # holds at the price, fails one fen below
    elif not _holds(priced, MAX_PRICE_FEN, version):
        return _no_price(rule, chosen)  # fails where the market cap holds, and at the top
    return _by_bisection(priced, rule, version, chosen)  # the price acts otherwise than linearly: search


def _by_bisection(priced: _PricedFacts, rule: Rule, version: RuleVersion, chosen: bool) -> BreakEven:
    if version.applies_when is not None:
        applies = priced.at(1).evaluate(version.applies_when)
        if isinstance(applies, Missing):
            return _outcome(rule, chosen, "undetermined",
                            "applicability needs " + ", ".join(sorted(applies.facts)))
        if applies is not True:
            return _outcome(rule, chosen, "not_applicable", f"does not apply: {version.applies_when_text}")
    top, missing = _status(priced, MAX_PRICE_FEN, version)
    if missing is not None:
        return _outcome(rule, chosen, "undetermined", "needs " + ", ".join(sorted(missing.facts)))
    if top != Status.passed:
        return _no_price(rule, chosen)
    low, high = 0, MAX_PRICE_FEN  # invariant: fails at `low` (0 fen is no price), holds at `high`
    while high - low > 1:
        middle = (low + high) // 2
        if _holds(priced, middle, version):
            high = middle
        else:
            low = middle
    assert _holds(priced, high, version) and (high == 1 or not _holds(priced, high - 1, version))
    return _priced(priced, rule, version, chosen, high)


def _outcome(rule: Rule, chosen: bool, outcome: str, reason: str) -> BreakEven:
    return BreakEven(rule.standard or rule.id, rule.id, rule.title.zh, outcome, None, None, reason, chosen)


def _no_price(rule: Rule, chosen: bool) -> BreakEven:
    return _outcome(rule, chosen, "no_price", "its conditions other than the market cap fail at every price")


def _priced(priced: _PricedFacts, rule: Rule, version: RuleVersion, chosen: bool, fen: int) -> BreakEven:
    market_cap = priced.at(fen).lookup("market_cap")
    return BreakEven(rule.standard or rule.id, rule.id, rule.title.zh, "price", fen_price(fen),
                     market_cap if isinstance(market_cap, Quantity) else None,
                     f"holds from {fen // 100}.{fen % 100:02d}元 per share", chosen)


def break_even_prices(evaluator: Evaluator, loaded: LoadedCase, on: dt.date) -> tuple[BreakEven, ...]:
    """The break-even price of every market-cap standard in force on `on`, in rulebook order."""
    priced = _PricedFacts(evaluator, loaded, on)
    out = []
    for rule in evaluator.rulebook.members(STANDARDS_GROUP):
        version = rule.version_on(on)
        if version is None or rule.kind != "check":
            continue
        out.append(_break_even(priced, rule, version, rule.standard == loaded.case.chosen_standard))
    return tuple(out)


def evaluate_priced(evaluator: Evaluator, loaded: LoadedCase, as_of: dt.date | None = None,
                    require: tuple[str, ...] = (), explain: bool = True) -> CaseResult:
    """`Evaluator.evaluate`, plus the break-even prices once the case is at pricing or later
    (explained results only: a batch row does not show them)."""
    result = evaluator.evaluate(loaded, as_of=as_of, require=require, explain=explain)
    if loaded.case.evaluation.stage == Stage.filing or not explain:
        return result
    return replace(result, break_even=break_even_prices(evaluator, loaded, result.as_of))


def at_price(loaded: LoadedCase, price: Decimal) -> LoadedCase:
    """The same case priced at `price` 元 per share (at the pricing stage if it was at filing)."""
    case = loaded.case
    offering = case.offering.model_copy(update={"issue_price": Quantity(Fraction(price), PRICE)})
    evaluation = case.evaluation
    if evaluation.stage == Stage.filing:
        evaluation = evaluation.model_copy(update={"stage": Stage.pricing})
    return replace(loaded, case=case.model_copy(update={"offering": offering, "evaluation": evaluation}))


def price_steps(start: Decimal, stop: Decimal, step: Decimal) -> list[Decimal]:
    """start, start+step, … up to stop inclusive, exactly (Decimal, no float drift)."""
    if step <= 0:
        raise ValueError("the step must be positive")
    if stop < start:
        raise ValueError("--to must not be below --from")
    count = int((stop - start) / step)
    if count > 10_000:
        raise ValueError(f"{count + 1} prices: choose a larger step (at most 10,001 prices)")
    return [start + i * step for i in range(count + 1)]


def sweep(evaluator: Evaluator, loaded: LoadedCase, prices: list[Decimal],
          as_of: dt.date | None = None) -> list[tuple[Decimal, CaseResult]]:
    """The whole case evaluated at each price, through durable_rules."""
    return [(price, evaluator.evaluate(at_price(loaded, price), as_of=as_of)) for price in prices]


def aborts(result: CaseResult) -> bool | None:
    """Whether an abort condition fires in this result (None: undetermined), read from the
    verdict of the rulebook's `abort` part."""
    part = next((p for p in result.parts if p.part == ABORT_PART), None)
    if part is None:
        return False
    return {Verdict.not_eligible: True, Verdict.undetermined: None}.get(part.verdict, False)
