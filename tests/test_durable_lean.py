"""durable_rules used leanly: a case meets only the rule versions in force on its date and at its
stage (one ruleset per such set, made when first needed), and the fact JSON is built from
fragments prepared at compile time that say exactly what `encode_number` says."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import Evaluator, load_case_text
from engine.decide.compiler import encode_number
from engine.input.units import MONEY, Quantity

from conftest import case_yaml


def _in_force(rulebook, on: dt.date, stage: str) -> tuple[str, ...]:
    return tuple(f"{r.id}@{r.versions.index(v)}" for r in rulebook.rules.values()
                 if r.kind == "check" and (v := r.version_on(on)) is not None and stage in r.stages)


def test_each_period_gets_its_own_ruleset_of_the_versions_in_force(rulebook):
    dates = [dt.date(2021, 5, 1), dt.date(2021, 5, 2), dt.date(2023, 6, 30)]
    assert _in_force(rulebook, dates[0], "filing") == _in_force(rulebook, dates[1], "filing")
    assert _in_force(rulebook, dates[0], "filing") != _in_force(rulebook, dates[2], "filing")
    with Evaluator(rulebook) as evaluator:
        for date in dates:
            evaluator.evaluate(load_case_text(case_yaml(evaluation={"date": date.isoformat(), "stage": "filing"}),
                                              "c.yaml"))
        assert list(evaluator._rulesets) == [_in_force(rulebook, dates[0], "filing"),
                                             _in_force(rulebook, dates[2], "filing")]
        evaluator.evaluate(load_case_text(case_yaml(evaluation={"date": "2023-06-30", "stage": "pricing"},
                                                    offering={"issue_price": "30.00元"}), "c.yaml"))
        assert list(evaluator._rulesets)[-1] == _in_force(rulebook, dates[2], "pricing")  # another stage
        assert len(evaluator._rulesets) == 3
    assert not evaluator._rulesets  # closed: every ruleset deleted


def test_fact_fragments_encode_operands_as_encode_number_does(rulebook):
    with Evaluator(rulebook) as evaluator:
        operands = [o for c in evaluator.compiled.rules.values() for o in c.operands if o.numeric]
        assert operands
        values = [Fraction(3 * 10**8), Fraction(3 * 10**8) - Fraction(1, 10**20), Fraction(1, 4), Fraction(-7, 3),
                  Fraction(10) ** 20]
        for operand in operands:
            constants = [c.value for c in operand.constants if isinstance(c, Quantity)]
            for value in values + [c for c in constants]:
                item = operand.json_item(Quantity(value, MONEY))
                assert item == f",{json.dumps(operand.field)}:{encode_number(value, constants)}"
        text = next(o for c in evaluator.compiled.rules.values() for o in c.operands if not o.numeric)
        assert text.json_item(True).endswith(":true") and text.json_item("文") .endswith(':"文"')


def _reference_encoding(value: Fraction, constants: list[Fraction]) -> str:
    """encode_number as first written: every constant compared exactly, no shortcut."""
    import math

    from engine.decide.compiler import DURABLE_MAGNITUDE, _positional_float

    bound = max([DURABLE_MAGNITUDE] + [abs(c) * 10 for c in constants])
    number = float(max(-bound, min(bound, value)))
    for constant in constants:
        c = float(constant)
        if value == constant:
            number = c
        elif value > constant and number <= c:
            number = math.nextafter(c, math.inf)
        elif value < constant and number >= c:
            number = math.nextafter(c, -math.inf)
    return _positional_float(number)


_TINY = Fraction(1, 10**22)
_BASES = st.sampled_from([Fraction(0), Fraction(1, 4), Fraction(1, 10), Fraction(3 * 10**8), Fraction(-5, 3),
                          Fraction(10) ** 16, Fraction(15, 100)])
_NEAR = st.builds(lambda base, k: base + k * _TINY, _BASES, st.integers(-3, 3))


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(_NEAR, st.lists(_NEAR, min_size=1, max_size=4))
def test_the_shortcut_encodes_exactly_as_comparing_every_constant(value, constants):
    assert encode_number(value, constants) == _reference_encoding(value, constants)


def test_the_exact_cross_check_reads_the_operand_values_sent_to_durable(rulebook, monkeypatch):
    """Each compound operand (a sum, a ratio) is computed once per case: the exact evaluation of the
    condition that compares it takes the value the fact carried, rather than computing it again."""
    from engine.decide import facts

    with Evaluator(rulebook) as evaluator:
        terms = {id(o.term) for c in evaluator.compiled.rules.values() for o in c.operands
                 if not isinstance(o.term, (facts.Name, facts.YearRef))}
        assert terms
        computed: list[int] = []

        def counted(method):
            def evaluate(env, node, k):
                computed.append(id(node))
                return method(env, node, k)
            return evaluate

        monkeypatch.setattr(facts, "_EVALUATE", {kind: counted(m) for kind, m in facts._EVALUATE.items()})
        evaluator.evaluate(load_case_text(Path("cases/qingcloud-filing.yaml").read_text(encoding="utf-8"), "q.yaml"),
                           explain=False)
        compound = [node for node in computed if node in terms]
        assert compound and len(compound) == len(set(compound))


def test_results_shared_between_cases_are_the_ones_a_fresh_evaluator_makes(rulebook):
    """Without explanations, a rule's result with no missing facts is made once and shared by the
    cases that reach it: the same objects, and equal to what a fresh evaluator builds."""
    first = load_case_text(case_yaml(), "a.yaml")
    second = load_case_text(case_yaml(chosen_standard="2.1.2(1)", offering={"expected_market_cap": "12亿元"}), "b.yaml")
    with Evaluator(rulebook) as warm, Evaluator(rulebook) as fresh:
        earlier = warm.evaluate(first, explain=False)
        shared = warm.evaluate(second, explain=False)
        assert shared.results == fresh.evaluate(second, explain=False).results
        again = warm.evaluate(first, explain=False)
        assert again.results == earlier.results
        assert sum(a is b for a, b in zip(again.results, earlier.results)) > len(earlier.results) // 2


def test_fired_rules_read_off_the_message_are_the_ones_its_json_names(rulebook):
    """A fired rule's name is read off the front of durable's message when it is one of the ruleset's;
    otherwise the message is parsed as JSON. Both ways give the same rules fired."""
    loaded = load_case_text(Path("cases/qingcloud-pricing.yaml").read_text(encoding="utf-8"), "q.yaml")
    with Evaluator(rulebook) as evaluator:
        by_name = evaluator.evaluate(loaded, explain=False)
        assert evaluator._keys
        evaluator._keys.clear()  # no name is known: every message goes through json.loads
        by_json = evaluator.evaluate(loaded, explain=False)
    fired = [r.durable_rules_fired for r in by_name.results]
    assert any(fired) and fired == [r.durable_rules_fired for r in by_json.results]


def test_a_durable_session_runs_with_interrupts_held(rulebook, monkeypatch):
    """SIGINT and SIGTERM are blocked from a session's first durable call to its deletion: a worker
    leaving on SIGTERM between assert_facts and the first action would delete a state whose context
    durable never set (it frees an uninitialised pointer and the process aborts). After the session
    the signal mask is as it was."""
    import signal

    import durable_rules_engine

    from engine.decide import evaluation

    masks: list[set[int]] = []

    def watched(name):
        real = getattr(durable_rules_engine, name)

        def call(*args):
            masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            return real(*args)
        return call

    for name in ("assert_facts", "start_action_for_state", "complete_and_start_action", "delete_state"):
        monkeypatch.setattr(evaluation.durable_rules_engine, name, watched(name))
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with Evaluator(rulebook) as evaluator:
        evaluator.evaluate(load_case_text(Path("cases/qingcloud-filing.yaml").read_text(encoding="utf-8"), "q.yaml"))
    assert len(masks) > 4 and all({signal.SIGINT, signal.SIGTERM} <= mask for mask in masks)
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
