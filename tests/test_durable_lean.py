"""durable_rules used leanly: a case meets only the rule versions in force on its date and at its
stage (one ruleset per such set, made when first needed), and the fact JSON is built from
fragments prepared at compile time that say exactly what `encode_number` says."""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

import pytest
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
        [(_, period)] = evaluator._rulesets.values()
        assert period.rule_keys
        period.rule_keys.clear()  # no name is known: every message goes through json.loads
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


# ---------------------------------------------------------------------------------
# Rules of a period share a few facts (`factgroups`)


def _periods(rulebook):
    """Every period in which no version starts or ends, at every stage: (date, stage)."""
    starts = sorted({v.effective_from for r in rulebook.rules.values() for v in r.versions}
                    | {v.effective_to + dt.timedelta(days=1) for r in rulebook.rules.values() for v in r.versions
                       if v.effective_to is not None})
    stages = sorted({s for r in rulebook.rules.values() for s in r.stages})
    assert starts == rulebook.period_starts() and stages == rulebook.stages()  # what the rule cache packs ahead
    return [(on, stage) for on in starts for stage in stages]


def test_every_rule_of_every_period_is_decided_on_one_fact_within_durables_bounds(rulebook):
    from engine.decide.alphastack import LIMIT, AlphaNetwork
    from engine.decide.factgroups import MAX_FACT_FIELDS

    with Evaluator(rulebook) as evaluator:
        compiled = evaluator.compiled
        fewer = 0
        for on, stage in _periods(rulebook):
            pending = evaluator._plan(on, stage).pending
            if not pending:
                continue
            _, period = evaluator._ruleset(pending)
            keys = [key for group in period.groups for key in group.keys]
            assert sorted(keys) == sorted(item.compiled.key for item in pending), (on, stage)
            definition = json.loads(period.definition_json)
            assert set(definition) == {n for item in pending for n in item.compiled.durable_names}
            for group in period.groups:
                rules = [compiled.rules[(k.rsplit("@", 1)[0], int(k.rsplit("@", 1)[1]))] for k in group.keys]
                network = AlphaNetwork()  # rebuilt from the ruleset's own JSON, as durable reads it
                for name in (n for r in rules for n in r.durable_names):
                    assert definition[name]["all"][0]["m"]["$and"][0] == {"rule": group.tag}
                    network.add(definition[name])
                assert network.depth() <= LIMIT or len(rules) == 1, (on, stage, group.tag, network.depth())
                assert len(group.operands) <= MAX_FACT_FIELDS
                fields = [o.field for o in group.operands]
                assert len(fields) == len(set(fields)) and not {"rule", "sid", "id"} & set(fields)
            fewer += len(period.groups) <= 3 < len(pending)
        assert fewer > 0  # the point of it: a case sends a few facts, not one per rule


def test_a_shared_field_encodes_against_the_union_of_its_rules_constants(rulebook):
    """A field several rules read is encoded against all their constants: encode_number's text for
    the union, which lies on the exact value's side of each rule's own constants."""
    from engine.rules.expression import unparse

    with Evaluator(rulebook) as evaluator:
        pending = evaluator._plan(dt.date(2026, 6, 1), "filing").pending
        _, period = evaluator._ruleset(pending)
        by_text: dict[str, set] = {}
        for item in pending:
            for operand in item.compiled.operands:
                by_text.setdefault(unparse(operand.term), set()).update(operand.constants)
        shared = [o for g in period.groups for o in g.operands if o.aliases and o.numeric]
        assert shared
        for operand in shared:
            constants = [c.value for c in operand.constants if isinstance(c, Quantity)]
            assert set(operand.constants) <= by_text[unparse(operand.term)]
            assert all(unparse(alias) == unparse(operand.term) for alias in operand.aliases)
            for value in constants + [c + Fraction(1, 10**20) for c in constants] + [Fraction(-1)]:
                assert operand.json_item(Quantity(value, MONEY)) == \
                    f",{json.dumps(operand.field)}:{encode_number(value, constants)}"


class _Stub:
    def __init__(self, key, operands):
        self.key, self.operands, self.durable_names = key, operands, ()


def test_constants_whose_doubles_touch_are_kept_in_separate_fields():
    """Two distinct constants with equal or adjacent doubles cannot share one encoded value (nudging
    it past one could cross the other): such operands take fields of their own."""
    from engine.decide.compiler import Operand
    from engine.decide.factgroups import _GroupBuilder
    from engine.rules.expression import Name

    def constant(value):
        return Quantity(Fraction(value), MONEY)

    base = Fraction(3 * 10**8)
    touching = base + Fraction(1, 10**20)  # the same double as 3e8
    assert float(touching) == float(base)
    builder = _GroupBuilder("g1", {})
    for key, value in (("a@0", base), ("b@0", 2 * base), ("c@0", touching), ("d@0", base)):
        rule = _Stub(key, (Operand("revenue", Name("revenue"), (constant(value),)),))
        builder._add(rule, builder._plan(rule))
    group = builder.group()
    assert [o.field for o in group.operands] == ["revenue", "revenue_"]
    assert [len(o.constants) for o in group.operands] == [2, 1]
    assert builder.fields_of == {"a@0": {"revenue": "revenue"}, "b@0": {"revenue": "revenue"},
                                 "c@0": {"revenue": "revenue_"}, "d@0": {"revenue": "revenue"}}


def _rule(*parts):
    return {"all": [{"m": {"$and": [{"rule": "g"}, *parts]}}]}


def test_the_alpha_network_shares_identical_tests_and_bounds_the_stack_under_them():
    from engine.decide.alphastack import AlphaNetwork

    def depth(*rules):
        network = AlphaNetwork()
        for rule in rules:
            network.add(rule)
        return network.depth()

    leaf = {"$gte": {"x": 0}}
    assert depth(_rule()) == 1
    assert depth(_rule(leaf, {"$lt": {"y": 3}})) == 1  # a chain: one node pending at a time
    assert depth(*[_rule({"$gte": {f"f{i}": 0}}) for i in range(5)]) == 5  # five siblings under `rule`
    assert depth(_rule(leaf), _rule(leaf), _rule(leaf)) == 1  # one shared node, not three
    # an or: its branches hang under its parent, each branch's end leads to a new forward node
    assert depth(_rule({"$or": [{"$gte": {"a": 0}}, {"$gte": {"b": 0}}, {"$gte": {"c": 0}}]})) == 3
    network = AlphaNetwork()
    network.add(_rule(leaf))
    mark = network.mark()
    network.add(_rule(leaf, {"$or": [{"$gte": {f"f{i}": 0}} for i in range(9)]}))
    assert network.depth() == 9
    network.undo(mark)
    assert network.depth() == 1 and network.children == [[1], []]


def _probe(rules: dict, fact: dict, name: str) -> str:
    """Assert `fact` into a ruleset of `rules`: "303" when durable's stack overflows, else the actions."""
    import durable_rules_engine

    handle = durable_rules_engine.create_ruleset(name, json.dumps(rules))
    try:
        try:
            _, state = durable_rules_engine.assert_facts(handle, json.dumps([fact]))
        except Exception as error:  # durable raises a bare Exception with its error code
            assert "303" in str(error)
            return "303"
        fired = 0
        message = durable_rules_engine.start_action_for_state(handle, state)
        message = message[1] if message else None
        while message:  # every action taken: durable may corrupt its heap deleting a state with dozens pending
            fired += 1
            message = durable_rules_engine.complete_and_start_action(handle, state)
        durable_rules_engine.delete_state(handle, fact["sid"])
        return f"{fired} fired"
    finally:
        durable_rules_engine.delete_ruleset(handle)


@pytest.mark.parametrize("shape, n", [("siblings", 64), ("siblings", 65), ("shared or", 32), ("shared or", 33),
                                      ("unshared or", 33)])
def test_the_modelled_stack_depth_is_durables_on_both_sides_of_its_limit(shape, n):
    """The model against durable itself, every test holding: 64 rules under one node fit and 65 do not;
    two rules sharing their first test, each then an or of n branches, put 2n nodes under the shared
    one (66 overflow) — while the same rules with different first tests need only n + 1."""
    from engine.decide.alphastack import MAX_STACK, AlphaNetwork

    if shape == "siblings":
        rules = {f"r{i}": _rule({"$gte": {f"f{i}": 0}}) for i in range(n)}
        fact = {"sid": "1", "rule": "g", **{f"f{i}": 1 for i in range(n)}}
    else:
        first = (lambda j: {"$gte": {"x": 0}}) if shape == "shared or" else (lambda j: {"$gte": {"x": j}})
        rules = {f"r{j}": _rule(first(j), {"$or": [{"$gte": {f"f{j}_{i}": 0}} for i in range(n)]}) for j in range(2)}
        fact = {"sid": "1", "rule": "g", "x": 1, **{f"f{j}_{i}": 1 for i in range(n) for j in range(2)}}
    network = AlphaNetwork()
    for rule in rules.values():
        network.add(rule)
    outcome = _probe(rules, fact, f"stack_probe_{shape.replace(' ', '_')}_{n}")
    assert (outcome == "303") == (network.depth() > MAX_STACK), (network.depth(), outcome)
    assert network.depth() == {("siblings", 64): 64, ("siblings", 65): 65, ("shared or", 32): 64,
                               ("shared or", 33): 66, ("unshared or", 33): 34}[(shape, n)]


def test_a_fact_durable_calls_already_observed_is_an_internal_error_after_its_actions_are_taken(rulebook,
                                                                                                monkeypatch):
    """durable's code 2 (a fact already observed) cannot happen in a fresh session; if it does, the
    case is an `InternalError`, raised once the session's actions are taken and the session deleted,
    and the evaluator goes on to judge the next case."""
    import durable_rules_engine

    from engine.common.errors import InternalError
    from engine.decide import evaluation

    loaded = load_case_text(Path("cases/qingcloud-filing.yaml").read_text(encoding="utf-8"), "q.yaml")
    taken: list[int] = []
    real_assert, real_next = durable_rules_engine.assert_facts, durable_rules_engine.complete_and_start_action

    def next_action(handle, state):
        taken.append(1)
        return real_next(handle, state)

    with Evaluator(rulebook) as evaluator:
        monkeypatch.setattr(evaluation.durable_rules_engine, "complete_and_start_action", next_action)
        expected = evaluator.evaluate(loaded, explain=False)
        actions, taken[:] = len(taken), []
        monkeypatch.setattr(evaluation.durable_rules_engine, "assert_facts",
                            lambda handle, payload: (2, real_assert(handle, payload)[1]))
        with pytest.raises(InternalError, match="already observed"):
            evaluator.evaluate(loaded, explain=False)
        assert len(taken) == actions > 30
        monkeypatch.undo()
        assert evaluator.evaluate(loaded, explain=False).results == expected.results
