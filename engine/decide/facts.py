"""Derived facts: the exact value of every figure a rule reads, or why it is missing.

Figures are defined in `rules/figures.yaml`; this module evaluates them for one case
with exact rational arithmetic. A figure the case cannot supply is a `Missing` value
carrying the names of the facts that are absent and why (not stated, fiscal year not
in the case, year not audited, division by zero), so a rule that needs it ends
*undetermined* with those facts listed, never a silent zero.

"The latest N years" are the N consecutive full fiscal years ending with the latest
fiscal year the case states (interim periods never count).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

from ..input.casefacts import INPUT_FACTS, CaseFacts
from ..input.units import RATIO, Quantity
from ..rules.expression import BoolOp, Binary, Call, Compare, If, Literal, Name, Node, Unary, YearRef
from ..rules.rulebook import Rulebook


@dataclass(frozen=True)
class Missing:
    """A value that cannot be computed; `facts` names what is absent, `reasons` says why."""

    facts: frozenset[str]
    reasons: tuple[str, ...]

    def __or__(self, other: Missing) -> Missing:
        reasons = self.reasons + tuple(r for r in other.reasons if r not in self.reasons)
        return Missing(self.facts | other.facts, reasons)


Value = Union[Quantity, bool, str, Any]
Outcome = Union[Value, Missing]


def _merge(values: list[Outcome]) -> Missing | None:
    missing = [v for v in values if isinstance(v, Missing)]
    if not missing:
        return None
    out = missing[0]
    for more in missing[1:]:
        out = out | more
    return out


class FactEnvironment:
    """The facts of one case, with derived figures computed on demand and cached."""

    def __init__(self, rulebook: Rulebook, facts: CaseFacts, overrides: dict[str, Any] | None = None,
                 required_latest_year: int | None = None, required_because: str = ""):
        """`overrides` gives values for names directly, derived figures included (a per-year
        figure as a {year: value} mapping): rule tests state only the figures a rule reads.

        `required_latest_year` is the oldest fiscal year that may be 最近一年 on the case's date
        (financial statements expire): when the case's latest stated year is older, the latest
        year is the required one, which the case does not state, so rules reading it are
        undetermined with that year named (`required_because` says why)."""
        self.rulebook = rulebook
        self.facts = facts
        self.overrides = overrides or {}
        stated = max(facts.years) if facts.years else None
        self.stale = required_latest_year is not None and (stated is None or stated < required_latest_year)
        self.latest_year = required_latest_year if self.stale else stated
        self.required_because = required_because
        self._cache: dict[tuple[str, int], Outcome] = {}
        self._terms: dict[int, Outcome] = {}  # operand values by the identity of their term (`operand`)

    # -- years ----------------------------------------------------------------
    def year_of(self, k: int) -> int | None:
        """The calendar year of the k-th latest fiscal year (1 = latest)."""
        return None if self.latest_year is None else self.latest_year - (k - 1)

    def years_used(self, n: int) -> list[int]:
        return [y for y in (self.year_of(k) for k in range(1, n + 1)) if y is not None]

    # -- names ----------------------------------------------------------------
    def lookup(self, name: str, k: int = 0) -> Outcome:
        """Value of `name`; `k` > 0 selects the k-th latest fiscal year for per-year figures."""
        key = (name, k)
        value = self._cache.get(key, _UNKNOWN)
        if value is _UNKNOWN:
            value = self._cache[key] = self._lookup(name, k)
        return value

    def _lookup(self, name: str, k: int) -> Outcome:
        if name in self.overrides:
            value = self.overrides[name]
            if not isinstance(value, dict):
                return value
            year = self.year_of(k) if k else None
            if year in value:
                return value[year]
            return Missing(frozenset([f"{name}[{year}]"]), (f"{name} for fiscal year {year}: not stated",))
        if name in self.rulebook.figures:
            return self.evaluate(self.rulebook.figures[name].expr, k)
        if name in self.rulebook.attestations:
            attestation = self.facts.attestations.get(name)
            if attestation is None:
                return Missing(frozenset([name]), (f"{name}: no attestation in the case",))
            return attestation.holds
        spec = INPUT_FACTS.get(name)
        if spec is None:  # pragma: no cover - the rule loader refuses unknown names
            return Missing(frozenset([name]), (f"{name}: unknown figure",))
        if not spec.per_year:
            if name == "latest_period_end" and self.stale:
                return Missing(frozenset([f"fiscal year {self.latest_year}"]),
                               (f"the case states no fiscal year {self.latest_year}; {self.required_because}",))
            if name in self.facts.scalars:
                return self.facts.scalars[name]
            if spec.default is not None:
                return spec.default
            return Missing(frozenset([name]), (f"{name}: not stated in the case",))
        year = self.year_of(k) if k else None
        if year is None:
            return Missing(frozenset([name]), (f"{name}: the case states no full fiscal year",))
        if year not in self.facts.years:
            why = f"; {self.required_because}" if self.stale else ""
            return Missing(frozenset([f"{name}[{year}]"]),
                           (f"fiscal year {year} is not in the case (needed as the {_ordinal(k)} latest year{why})",))
        if year in self.facts.unaudited_years:
            return Missing(frozenset([f"{name}[{year}]"]),
                           (f"fiscal year {year} is not audited (the rules count audited figures only)",))
        figures = self.facts.years[year]
        if name not in figures:
            return Missing(frozenset([f"{name}[{year}]"]), (f"{name} for fiscal year {year}: not stated in the case",))
        return figures[name]

    # -- expressions ----------------------------------------------------------
    def evaluate(self, node: Node, k: int = 0) -> Outcome:
        """Exact value of `node` (a term or a condition, Kleene logic for conditions)."""
        if k == 0 and self._terms:
            known = self._terms.get(id(node), _UNKNOWN)
            if known is not _UNKNOWN:
                return known
        try:
            method = _EVALUATE[type(node)]
        except KeyError:  # pragma: no cover - the parser makes no other node
            raise TypeError(f"cannot evaluate {type(node).__name__}") from None
        return method(self, node, k)

    def operand(self, term: Node) -> Outcome:
        """`evaluate(term)`, kept for this case: the exact cross-check of a condition that compares
        `term` reads the very value durable_rules was sent instead of computing it again. `term`
        must outlive this environment (a compiled rule's operand does), as it is known by identity."""
        value = self._terms.get(id(term), _UNKNOWN)
        if value is _UNKNOWN:
            value = self._terms[id(term)] = self.evaluate(term)
        return value

    def shared_operand(self, term: Node, aliases: tuple[Node, ...]) -> Outcome:
        """`operand(term)`, kept also for `aliases`, terms of the same text (so of the same value)
        that other rules compare: each is then known as the value sent, computed once."""
        value = self.operand(term)
        for alias in aliases:
            self._terms[id(alias)] = value
        return value

    def _literal(self, node: Literal, k: int) -> Outcome:
        return node.value

    def _name(self, node: Name, k: int) -> Outcome:
        return self.lookup(node.name, k)

    def _year_ref(self, node: YearRef, k: int) -> Outcome:
        return self.lookup(node.name, node.k)

    def _unary(self, node: Unary, k: int) -> Outcome:
        value = self.evaluate(node.operand, k)
        if isinstance(value, Missing):
            return value
        return (not value) if node.op == "not" else -value

    def _binary(self, node: Binary, k: int) -> Outcome:
        left, right = self.evaluate(node.left, k), self.evaluate(node.right, k)
        missing = _merge([left, right])
        if missing:
            return missing
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "^":
            return left ** int(right.value)
        if right.value == 0:
            return Missing(frozenset(), (f"division by zero in {_describe(node)}",))
        return left / right

    def _compare(self, node: Compare, k: int) -> Outcome:
        left, right = self.evaluate(node.left, k), self.evaluate(node.right, k)
        missing = _merge([left, right])
        if missing:
            return missing
        return compare(node.op, left, right)

    def _bool_op(self, node: BoolOp, k: int) -> Outcome:
        values = [self.evaluate(operand, k) for operand in node.operands]
        decisive = node.op == "or"  # the value that settles the result: True for or, False for and
        if any(v is decisive for v in values):
            return decisive
        missing = _merge(values)
        return missing if missing else (not decisive)

    def _if(self, node: If, k: int) -> Outcome:
        condition = self.evaluate(node.condition, k)
        if isinstance(condition, Missing):
            return condition
        return self.evaluate(node.then if condition else node.otherwise, k)

    def call(self, node: Call, k: int) -> Outcome:
        name, args = node.function, node.args
        if name in ("min", "max"):
            values = [self.evaluate(a, k) for a in args]
            missing = _merge(values)
            if missing:
                return missing
            pick = min if name == "min" else max
            return pick(values, key=lambda q: q.value)
        if name == "full_years":
            start, end = self.evaluate(args[0], k), self.evaluate(args[1], k)
            missing = _merge([start, end])
            if missing:
                return missing
            return Quantity(Fraction(full_years(start, end)), RATIO)
        if name == "months_elapsed":
            start, end = self.evaluate(args[0], k), self.evaluate(args[1], k)
            missing = _merge([start, end])
            if missing:
                return missing
            return Quantity(months_elapsed(start, end), RATIO)
        if name == "floor":
            value = self.evaluate(args[0], k)
            if isinstance(value, Missing):
                return value
            return Quantity(Fraction(math.floor(value.value)), value.dim)
        if name == "first":
            values = [self.evaluate(a, k) for a in args]
            for value in values:
                if not isinstance(value, Missing):
                    return value
            return _merge(values)
        if name == "latest":
            return self.evaluate(args[0], 1)
        count = int(args[0].value.value)  # type: ignore[union-attr]
        if name == "year":
            return self.evaluate(args[1], count)
        values = [self.evaluate(args[1], j) for j in range(1, count + 1)]
        if name == "sum_latest":
            missing = _merge(values)
            if missing:
                return missing
            total = values[0]
            for value in values[1:]:
                total = total + value
            return total
        decisive = name == "any_latest"
        if any(v is decisive for v in values):
            return decisive
        missing = _merge(values)
        return missing if missing else (not decisive)


_UNKNOWN = object()  # not computed yet (None and False are values)
_EVALUATE = {Literal: FactEnvironment._literal, Name: FactEnvironment._name, YearRef: FactEnvironment._year_ref,
             Unary: FactEnvironment._unary, Binary: FactEnvironment._binary, Compare: FactEnvironment._compare,
             BoolOp: FactEnvironment._bool_op, If: FactEnvironment._if, Call: FactEnvironment.call}


def compare(op: str, left: Any, right: Any) -> bool:
    """Exact comparison of two values of one type (quantities by their rational value)."""
    if isinstance(left, Quantity):
        left, right = left.value, right.value
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def anniversary(start: dt.date, years: int) -> dt.date:
    """The day `years` years after `start`; without such a day (29 February), the month's last day.

    民法典 第二百零二条: 按照年、月计算期间的，到期月的对应日为期间的最后一日；没有对应日的，月末日为期间的最后一日。
    """
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a common year
        return dt.date(start.year + years, 2, 28)


def full_years(start: dt.date, end: dt.date) -> int:
    """Complete years from `start` to `end`: n such that the n-th anniversary is on or before `end`
    (the period starts the day after `start` and its last day is the anniversary)."""
    if end < start:
        return -full_years(end, start)
    years = end.year - start.year
    while years > 0 and anniversary(start, years) > end:
        years -= 1
    return years


def add_months(start: dt.date, months: int) -> dt.date:
    """The day `months` months after `start`: the same day of the month, or the month's last day
    where there is none; from a month's last day, the last day of the target month (a period end
    of 30 June is six months later on 31 December, as financial statements are dated)."""
    total = start.year * 12 + start.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if start.day == calendar.monthrange(start.year, start.month)[1]:
        return dt.date(year, month, last)
    return dt.date(year, month, min(start.day, last))


def months_elapsed(start: dt.date, end: dt.date) -> Fraction:
    """Months from `start` to `end`, exactly: n whole months, then the days into the next month
    over that month's length (6 on the day six months after `start`, more the day after)."""
    if end < start:
        return -months_elapsed(end, start)
    months = (end.year - start.year) * 12 + end.month - start.month
    while months > 0 and add_months(start, months) > end:
        months -= 1
    base, following = add_months(start, months), add_months(start, months + 1)
    return Fraction(months) + Fraction((end - base).days, (following - base).days)


def required_latest_year(on: dt.date, months: int) -> int:
    """The oldest fiscal year that can be 最近一年 on `on`, when statements stay usable `months`
    months after their period end: the earliest quarter end still usable on `on` closes that
    year (a 31 December) or falls in the year after it."""
    year, month = on.year, (on.month - 1) // 3 * 3 + 3
    end = dt.date(year, month, calendar.monthrange(year, month)[1])
    if end > on:  # the last quarter end on or before `on`
        end = add_months(end, -3)
    while add_months(add_months(end, -3), months) >= on:
        end = add_months(end, -3)
    return end.year if end.month == 12 else end.year - 1


def _ordinal(k: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def _describe(node: Node) -> str:
    from ..rules.expression import unparse

    return unparse(node)
