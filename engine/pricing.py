"""Issue prices: the break-even price of every market-cap standard, and a sweep over prices.

Once priced, the market cap is issue price × post-issue total shares (rules/figures.yaml,
`market_cap_at_price`). The break-even price of a standard is the lowest price in whole fen
(0.01元) at which its rule holds. It is found from the rules themselves, never from thresholds
written in Python: the rule's condition is evaluated exactly at candidate prices and the
lowest passing fen is found by bisection. Bisection is exact here because every standard's
condition is monotone in the price: the market cap grows with the price and appears only on the
left of `>=` comparisons joined by `and`/`or` with conditions that do not depend on the price.
The result is checked: the standard holds at the price and fails one fen below it.

A sweep re-evaluates the whole case through the durable_rules engine at each price, so the
table shows exactly what `check-listing` would say at that price.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

from .case import LoadedCase, Stage, case_facts
from .evaluation import Evaluator, exact_status
from .facts import FactEnvironment, Missing
from .results import BreakEven, CaseResult, Status, Verdict
from .rulebook import Rule, RuleVersion
from .units import PRICE, Quantity

FEN = Fraction(1, 100)
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


def _holds(env: FactEnvironment, version: RuleVersion) -> bool:
    return exact_status(env, version.applies_when, version.condition)[0] == Status.passed


def _break_even(priced: _PricedFacts, rule: Rule, version: RuleVersion, chosen: bool) -> BreakEven:
    title = rule.title.zh
    standard = rule.standard or rule.id
    if version.applies_when is not None:
        applies = priced.at(1).evaluate(version.applies_when)
        if isinstance(applies, Missing):
            return BreakEven(standard, rule.id, title, "undetermined", None, None,
                             "applicability needs " + ", ".join(sorted(applies.facts)), chosen)
        if applies is not True:
            return BreakEven(standard, rule.id, title, "not_applicable", None, None,
                             f"does not apply: {version.applies_when_text}", chosen)
    top, missing = exact_status(priced.at(MAX_PRICE_FEN), version.applies_when, version.condition)
    if missing is not None:
        return BreakEven(standard, rule.id, title, "undetermined", None, None,
                         "needs " + ", ".join(sorted(missing.facts)), chosen)
    if top != Status.passed:
        return BreakEven(standard, rule.id, title, "no_price", None, None,
                         "its conditions other than the market cap fail at every price", chosen)
    low, high = 0, MAX_PRICE_FEN  # invariant: fails at `low` (0 fen is no price), holds at `high`
    while high - low > 1:
        middle = (low + high) // 2
        if _holds(priced.at(middle), version):
            high = middle
        else:
            low = middle
    assert _holds(priced.at(high), version) and (high == 1 or not _holds(priced.at(high - 1), version))
    market_cap = priced.at(high).lookup("market_cap")
    return BreakEven(standard, rule.id, title, "price", fen_price(high),
                     market_cap if isinstance(market_cap, Quantity) else None,
                     f"holds from {high // 100}.{high % 100:02d}元 per share", chosen)


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
                    require: tuple[str, ...] = ()) -> CaseResult:
    """`Evaluator.evaluate`, plus the break-even prices once the case is at pricing or later."""
    result = evaluator.evaluate(loaded, as_of=as_of, require=require)
    if loaded.case.evaluation.stage == Stage.filing:
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
