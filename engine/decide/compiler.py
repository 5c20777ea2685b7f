"""Compile checked rules into one durable_rules ruleset (its JSON form).

Each version of each check rule becomes up to three durable rules over one fact
(`{"rule": <key>, <operand fields>…}`; `factgroups` then lets the rules of a period share a
few facts, with the tag and the fields renamed):

    <key>|pass   applies_when ∧ condition
    <key>|fail   applies_when ∧ ¬condition      (negation pushed down: ≥ ↔ <, and ↔ or)
    <key>|na     ¬applies_when

A comparison whose operand the case cannot supply leaves that field out of the fact;
durable then matches neither a comparison nor its negation, so `and`/`or` behave as
Kleene's three-valued logic and a rule with neither outcome is *undetermined*.

Arithmetic is not durable's job: each non-constant side of a comparison (a figure, or
`sum_latest(3, rd_investment) / sum_latest(3, revenue)`) is an *operand* computed
exactly by `facts`, and each comparison is normalised to `operand OP constant`
(`a ≥ b` between two figures becomes `a − b ≥ 0`). Durable compares doubles parsed
from text, so `encode_number` writes each operand as a positional decimal whose
double lies on the same side of every constant it is compared with as the exact
value does: comparisons at the boundary stay exact.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field as dataclass_field
from functools import cached_property
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..common.errors import RuleFileError, Problem
from ..input.casefacts import CaseFacts
from ..input.units import Quantity
from ..rules.expression import (BOOL, NEGATED, Binary, BoolOp, Call, Compare, If, Literal, Name, Node, Unary, YearRef,
                                is_constant, rebuild, unparse)
from ..rules.rulebook import Rule, Rulebook, RuleVersion
from .facts import FactEnvironment, Missing

RULESET_NAME = "star_listing"
FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
# Operands are clamped into this range (order against the constants is kept): durable
# reads integers beyond 2^53 inexactly and rejects numbers written in exponent form.
DURABLE_MAGNITUDE = Fraction(10) ** 15
_MAGNITUDE = float(DURABLE_MAGNITUDE)


@dataclass(frozen=True)
class Operand:
    """A non-constant side of a comparison: a fact field durable compares with constants.

    What encoding needs of the constants (exact and double values, the clamping bound) and
    the field's JSON key are computed once here, at compile time, not once per case."""

    field: str
    term: Node
    constants: tuple[Any, ...]
    # terms of the same text in other rules that read this field (`factgroups`): their exact
    # cross-check takes the value sent rather than computing it again
    aliases: tuple[Node, ...] = ()
    numeric: tuple[tuple[Fraction, float], ...] = dataclass_field(init=False, repr=False, compare=False)
    bound: Fraction = dataclass_field(init=False, repr=False, compare=False)
    json_key: str = dataclass_field(init=False, repr=False, compare=False)
    # (name, k) of a term that is one figure (k: the k-th latest year, or 0): read by `lookup`
    lookup_key: tuple[str, int] | None = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        term = self.term
        object.__setattr__(self, "lookup_key", (term.name, 0) if isinstance(term, Name) else
                           (term.name, term.k) if isinstance(term, YearRef) else None)
        numeric, bound = _numeric_constants([c.value for c in self.constants if isinstance(c, Quantity)])
        object.__setattr__(self, "numeric", numeric)
        object.__setattr__(self, "bound", bound)
        object.__setattr__(self, "json_key", "," + json.dumps(self.field, ensure_ascii=False) + ":")

    def json_item(self, value: Any) -> str:
        """`,"field":value` for the fact JSON: quantities by `encode_number` against this
        operand's constants, text and booleans as they are."""
        if isinstance(value, Quantity):
            return self.json_key + _encode(value.value, self.numeric, self.bound)
        if value is True or value is False:
            return self.json_key + ("true" if value else "false")
        if isinstance(value, str):
            return self.json_key + json.dumps(value, ensure_ascii=False)
        raise TypeError(f"cannot send {type(value).__name__} to durable_rules")


@dataclass(frozen=True)
class Atom:
    """One comparison as the rule states it (for explanations), and how durable sees it."""

    node: Compare
    field: str
    op: str
    constant: Any


@dataclass(frozen=True)
class CompiledRule:
    key: str
    rule: Rule
    version: RuleVersion
    condition: Node
    applies_when: Node | None
    operands: tuple[Operand, ...]
    atoms: tuple[Atom, ...]
    durable_names: tuple[str, ...]


@dataclass
class CompiledRulebook:
    rulebook: Rulebook
    rules: dict[tuple[str, int], CompiledRule]
    definition: dict[str, Any]
    # the durable ruleset of each period's checked versions (`factgroups.PeriodRuleset`), by their keys:
    # packed when first needed, or all of them ahead by the rule cache, which stores them with the rest
    periods: dict[tuple[str, ...], Any] = dataclass_field(default_factory=dict, repr=False, compare=False)

    def for_version(self, rule: Rule, version: RuleVersion) -> CompiledRule | None:
        return self.rules.get((rule.id, rule.versions.index(version)))

    def checked_on(self, on: dt.date, stage: str) -> list[CompiledRule]:
        """The compiled versions a case at `stage` is checked against on `on`, in rulebook order."""
        checked = []
        for rule in self.rulebook.rules.values():
            if rule.kind == "check" and stage in rule.stages:
                version = rule.version_on(on)
                if version is not None:
                    compiled = self.for_version(rule, version)
                    assert compiled is not None, f"{rule.id}: a version in force was not compiled"
                    checked.append(compiled)
        return checked

    @cached_property
    def definition_json(self) -> str:
        """The whole ruleset (every version of every rule) as durable_rules' JSON."""
        return _dumps(self.definition)


class _Num:
    """A number written into the ruleset JSON as exact positional text."""

    def __init__(self, text: str):
        self.text = text


def compile_rulebook(rulebook: Rulebook) -> CompiledRulebook:
    """Compile every version of every check rule; problems are `RuleFileError`s with places."""
    compiled: dict[tuple[str, int], CompiledRule] = {}
    definition: dict[str, Any] = {}
    problems: list[Problem] = []
    for rule in rulebook.rules.values():
        if rule.kind != "check":
            continue
        for index, version in enumerate(rule.versions):
            key = f"{rule.id}@{index}"
            try:
                item = _RuleCompiler(rulebook, rule, version, key).compile()
            except _CompileError as exc:
                problems.append(Problem(str(exc), file=rule.file, line=rule.line, rule_id=rule.id))
                continue
            compiled[(rule.id, index)] = item[0]
            definition.update(item[1])
    if problems:
        raise RuleFileError(problems)
    return CompiledRulebook(rulebook, compiled, definition)


class _CompileError(Exception):
    pass


class _RuleCompiler:
    def __init__(self, rulebook: Rulebook, rule: Rule, version: RuleVersion, key: str):
        self.rulebook = rulebook
        self.rule = rule
        self.version = version
        self.key = key
        self.operands: dict[str, Operand] = {}
        self.fields_by_text: dict[str, str] = {}
        self.atoms: list[Atom] = []
        self.constants_env = FactEnvironment(rulebook, CaseFacts({}, {}, {}, frozenset()))

    def compile(self) -> tuple[CompiledRule, dict[str, Any]]:
        condition = expand_years(self.version.condition, self.rulebook)
        applies = expand_years(self.version.applies_when, self.rulebook) if self.version.applies_when else None
        base = {"rule": self.key}
        pass_when = [base] + ([self.condition(applies, False)] if applies else []) + [self.condition(condition, False)]
        fail_when = [base] + ([self.condition(applies, False)] if applies else []) + [self.condition(condition, True)]
        rules = {f"{self.key}|pass": _rule(pass_when), f"{self.key}|fail": _rule(fail_when)}
        if applies is not None:
            rules[f"{self.key}|na"] = _rule([base, self.condition(applies, True)])
        compiled = CompiledRule(self.key, self.rule, self.version, condition, applies,
                                tuple(self.operands.values()), tuple(self.atoms), tuple(rules))
        return compiled, rules

    # -- boolean structure ----------------------------------------------------
    def condition(self, node: Node, negate: bool) -> dict[str, Any]:
        if isinstance(node, BoolOp):
            op = node.op if not negate else ("or" if node.op == "and" else "and")
            parts = [self.condition(operand, negate) for operand in node.operands]
            return {"$and" if op == "and" else "$or": parts}
        if isinstance(node, Unary) and node.op == "not":
            return self.condition(node.operand, not negate)
        if isinstance(node, If):
            branches = BoolOp("or", (BoolOp("and", (node.condition, node.then)),
                                     BoolOp("and", (Unary("not", node.condition), node.otherwise))))
            return self.condition(branches, negate)
        if isinstance(node, Literal) and isinstance(node.value, bool):
            holds = node.value != negate
            return {"$ex": {"rule": 1}} if holds else {"$nex": {"rule": 1}}
        if isinstance(node, (Name, YearRef)):
            return self.condition(Compare("==", node, Literal(True, "true")), negate)
        if isinstance(node, Compare):
            return self.comparison(node, negate)
        raise _CompileError(f"cannot compile `{unparse(node)}` as a condition")

    def comparison(self, node: Compare, negate: bool) -> dict[str, Any]:
        left_const, right_const = is_constant(node.left), is_constant(node.right)
        if right_const and not left_const:
            term, op, constant_node = node.left, node.op, node.right
        elif left_const and not right_const:
            term, op, constant_node = node.right, FLIPPED[node.op], node.left
        else:
            term_type = self.rulebook_type(node.left)
            if term_type is None or term_type.kind != "quantity":
                raise _CompileError(f"`{unparse(node)}`: compare a figure with a constant "
                                    "(two text or true/false figures cannot be compared)")
            term = Binary("-", node.left, node.right)
            op, constant_node = node.op, Literal(Quantity(Fraction(0), term_type.dim), "0")
        constant = self.constants_env.evaluate(constant_node)
        if isinstance(constant, Missing):  # pragma: no cover - constants read no facts
            raise _CompileError(f"`{unparse(constant_node)}` is not a constant")
        field = self.operand(term, constant)
        if not negate:
            self.atoms.append(Atom(node, field, op, constant))
        op = NEGATED[op] if negate else op
        value = _encode_constant(constant)
        if op == "==":
            return {field: value}
        return {DURABLE_OP[op]: {field: value}}

    def rulebook_type(self, node: Node):
        if isinstance(node, Literal):
            return BOOL if isinstance(node.value, bool) else None
        from ..rules.typecheck import check

        class _Scope:
            def type_of(_, name):  # noqa: N805 - tiny adapter
                return self.rulebook.type_of(name)

            def names(_):  # noqa: N805
                return self.rulebook.names()

        return check(node, _Scope())

    def operand(self, term: Node, constant: Any) -> str:
        text = unparse(term)
        field = self.fields_by_text.get(text)
        if field is None:
            field = _field_name(term, len(self.operands), set(self.operands))
            self.fields_by_text[text] = field
            self.operands[field] = Operand(field, term, ())
        current = self.operands[field]
        if constant not in current.constants:
            self.operands[field] = Operand(field, term, current.constants + (constant,))
        return field


def _rule(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"all": [{"m": {"$and": conditions}}]}


def _field_name(term: Node, index: int, taken: set[str]) -> str:
    if isinstance(term, Name):
        name = term.name
    elif isinstance(term, YearRef):
        name = f"{term.name}_y{term.k}"
    else:
        name = f"term{index}"
    while name in taken or name in ("rule", "sid", "id"):
        name += "_"
    return name


def expand_years(node: Node | None, rulebook: Rulebook) -> Node:
    """Rewrite the year functions into terms on `YearRef`s (the k-th latest fiscal year).

    `all_latest(2, net_profit > 0)` becomes `year(1, net_profit) > 0 and year(2, net_profit) > 0`,
    so durable sees each year's comparison; `sum_latest(3, x)` becomes a sum of three terms.
    """
    assert node is not None

    def per_year(name: str) -> bool:
        found = rulebook.type_of(name)
        return bool(found and found.per_year)

    def at_year(n: Node, k: int) -> Node:
        if isinstance(n, Name) and per_year(n.name):
            return YearRef(n.name, k, column=n.column)
        return rebuild(n, lambda child: at_year(child, k))

    def walk(n: Node) -> Node:
        if isinstance(n, Call) and n.function in ("latest", "year", "sum_latest", "all_latest", "any_latest"):
            if n.function == "latest":
                return at_year(n.args[0], 1)
            count = int(n.args[0].value.value)  # type: ignore[union-attr]
            if n.function == "year":
                return at_year(n.args[1], count)
            terms = [at_year(n.args[1], k) for k in range(1, count + 1)]
            if n.function == "sum_latest":
                total = terms[0]
                for term in terms[1:]:
                    total = Binary("+", total, term, column=n.column)
                return total
            return BoolOp("and" if n.function == "all_latest" else "or", tuple(terms), column=n.column)
        return rebuild(n, walk)

    return walk(node)


# ---------------------------------------------------------------------------------
# Values into durable's JSON


def _encode_constant(value: Any) -> Any:
    if isinstance(value, Quantity):
        return _Num(_positional(Fraction(value.value)))
    return value


def encode_number(value: Fraction, constants: list[Fraction]) -> str:
    """Positional text of a double that compares with each constant as `value` does.

    The double nearest `value` is used unless rounding moved it onto or across a
    constant (possible only when `value` is within ~1e-16 relative of it); then the
    adjacent double on the correct side is used. Values beyond ±10^15 are clamped
    (when every constant is smaller), since durable reads larger integers inexactly.
    """
    numeric, bound = _numeric_constants([Fraction(c) for c in constants])
    return _encode(Fraction(value), numeric, bound)


def _numeric_constants(constants: list[Fraction]) -> tuple[tuple[tuple[Fraction, float], ...], Fraction]:
    """Each constant exactly and as a double, and the bound operands are clamped to."""
    return (tuple((Fraction(c), float(c)) for c in constants),
            max([DURABLE_MAGNITUDE] + [abs(Fraction(c)) * 10 for c in constants]))


def _encode(value: Fraction, numeric: tuple[tuple[Fraction, float], ...], bound: Fraction) -> str:
    """`encode_number` with the constants prepared (`_numeric_constants`)."""
    number = float(value)
    if not -_MAGNITUDE < number < _MAGNITUDE:  # a double within ±10^15 is a value within the bound
        number = float(bound if value > bound else -bound if value < -bound else value)
    adjusted = False
    for constant, c in numeric:
        # Rounding (and clamping within the bound) keeps order: while `number` is the rounded
        # value, a double strictly on one side of the constant's double is an exact value on
        # that side, and no exact comparison is needed.
        if not adjusted and number != c:
            continue
        if value == constant:
            number = c
        elif value > constant and number <= c:
            number = math.nextafter(c, math.inf)
        elif value < constant and number >= c:
            number = math.nextafter(c, -math.inf)
        else:
            continue
        adjusted = True
    return _positional_float(number)


def _positional_float(number: float) -> str:
    """The shortest round-trip digits of a double, written without an exponent."""
    text = repr(number)
    if "e" in text or "n" in text:  # exponent form (or inf/nan): spell the digits out
        text = format(Decimal(text), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _positional(value: Fraction) -> str:
    """Exact positional decimal of a terminating fraction; the shortest round-trip text otherwise."""
    if not _terminates(value.denominator):
        return _positional_float(float(value))
    places = 0
    while (value * 10 ** places).denominator != 1:
        places += 1
    digits = str(abs(value.numerator * 10 ** places // value.denominator)).rjust(places + 1, "0")
    text = digits if places == 0 else digits[:-places] + "." + digits[-places:]
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("-" if value < 0 and text != "0" else "") + text


def _terminates(denominator: int) -> bool:
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _dumps(value: Any) -> str:
    """JSON text with `_Num` written verbatim (json.dumps would use exponent form)."""
    if isinstance(value, _Num):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)

