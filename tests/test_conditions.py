"""The exact cross-check runs each rule's conditions as closures compiled once (`conditions`):
they must give what `FactEnvironment.evaluate` gives, `Missing` facts and reasons included, for
every condition of every rule version, on generated cases and on facts stated one by one."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

from engine import Evaluator, load_case_text
from engine.common.errors import InputError
from engine.decide.conditions import compile_condition
from engine.decide.facts import FactEnvironment, Missing
from engine.input.casefacts import CaseFacts, case_facts
from engine.input.generate import case_text
from engine.input.units import MONEY, Quantity
from engine.rules.parser import parse


def _conditions(evaluator):
    for compiled in evaluator.compiled.rules.values():
        yield compiled.condition
        if compiled.applies_when is not None:
            yield compiled.applies_when


def test_compiled_conditions_agree_with_evaluate_on_generated_cases(rulebook):
    with Evaluator(rulebook) as evaluator:
        nodes = list(_conditions(evaluator))
        constants = FactEnvironment(rulebook, CaseFacts({}, {}, {}, frozenset()))
        compiled = [(node, compile_condition(node, constants)) for node in nodes]
        outcomes = {"true": 0, "false": 0, "missing": 0}
        cases = 0
        for index in range(120):
            try:
                loaded = load_case_text(case_text(index, seed=3), f"case-{index}.yaml")
            except InputError:
                continue
            cases += 1
            env = evaluator.fact_environment(case_facts(loaded.case), loaded.case.evaluation.date)
            for node, closure in compiled:
                expected = env.evaluate(node)
                assert closure(env) == expected, (index, node)
                outcomes["missing" if isinstance(expected, Missing) else str(bool(expected)).lower()] += 1
        assert cases > 100 and min(outcomes.values()) > 100  # every kind of outcome was met


def _env(rulebook, **overrides):
    return FactEnvironment(rulebook, CaseFacts({}, {}, {}, frozenset()), overrides)


@pytest.mark.parametrize("text", [
    "red_chip or revenue >= 3亿元",
    "revenue >= 3亿元 or red_chip",
    "red_chip and revenue >= 3亿元",
    "not red_chip and revenue < 3亿元",
    "if red_chip then revenue >= 3亿元 else revenue >= 1亿元",
    "3亿元 <= revenue",
    "revenue - net_profit >= 0",
    "revenue >= 1亿元 * 3",
])
@pytest.mark.parametrize("facts", [
    {},
    {"red_chip": True},
    {"red_chip": False},
    {"revenue": Quantity(Fraction(3 * 10**8), MONEY)},
    {"revenue": Quantity(Fraction(3 * 10**8) - Fraction(1, 100), MONEY), "red_chip": True},
    {"revenue": Quantity(Fraction(2 * 10**8), MONEY), "net_profit": Quantity(Fraction(3 * 10**8), MONEY),
     "red_chip": False},
])
def test_compiled_conditions_agree_with_evaluate_on_each_fact_stated_or_not(rulebook, text, facts):
    node = parse(text)
    env = _env(rulebook, **facts)
    closure = compile_condition(node, _env(rulebook))
    assert closure(env) == env.evaluate(node)
