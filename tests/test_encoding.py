"""encode_number: the positional text durable_rules reads for an operand must put the double
it denotes on the same side of every constant as the exact value is, and durable_rules
itself must fire accordingly at the boundaries."""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from fractions import Fraction

import durable_rules_engine
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from engine.decide.compiler import DURABLE_MAGNITUDE, _positional_float, encode_number

SETTINGS = settings(max_examples=200, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
POSITIONAL = re.compile(r"^-?\d+(\.\d+)?$")
TINY = Fraction(1, 10 ** 20)


def sign(x) -> int:
    return (x > 0) - (x < 0)


def assert_agrees(value: Fraction, constants: list[Fraction]) -> str:
    text = encode_number(value, constants)
    assert "e" not in text and "E" not in text, text
    assert POSITIONAL.match(text), text
    number = float(text)
    for constant in constants:
        assert sign(Fraction(number) - Fraction(float(constant))) == sign(value - constant), (
            f"value {value} vs constant {constant}: text {text} reads as {number!r}, constant as {float(constant)!r}")
    return text


# ---------------------------------------------------------------------------------
# Strategies

# Constants as rules write them: decimal amounts in base units (元, 股, ratios), some not terminating.
DECIMAL_CONSTANTS = st.builds(
    lambda digits, places, negative: Fraction(Decimal(digits).scaleb(-places)) * (-1 if negative else 1),
    st.integers(0, 10 ** 13), st.integers(0, 12), st.booleans())
RATIONAL_CONSTANTS = st.builds(lambda n, d: Fraction(n, d), st.integers(-10 ** 12, 10 ** 12), st.integers(1, 10 ** 9))
CONSTANTS = st.one_of(DECIMAL_CONSTANTS, RATIONAL_CONSTANTS,
                      st.sampled_from([Fraction(0), Fraction(1, 4), Fraction(1, 10), Fraction(3, 10),
                                       Fraction(30_000_000), Fraction(3_000_000_000), Fraction(1, 3)]))

# Offsets from a constant: none, 1e-20 either way, relative 1e-20, a few ulps, or anything.
OFFSETS = st.one_of(
    st.just(Fraction(0)),
    st.sampled_from([TINY, -TINY]),
    st.builds(lambda k: Fraction(k, 10 ** 30), st.integers(-10 ** 6, 10 ** 6)),
    st.builds(lambda n, e: Fraction(n, 10 ** e), st.integers(-1000, 1000), st.integers(0, 40)),
    st.fractions(min_value=Fraction(-10 ** 6), max_value=Fraction(10 ** 6), max_denominator=10 ** 12),
)


def near(constant: Fraction, offset: Fraction, relative: bool) -> Fraction:
    return constant + (offset * abs(constant) if relative and constant else offset)


# ---------------------------------------------------------------------------------
# Properties of encode_number


@SETTINGS
@given(CONSTANTS, OFFSETS, st.booleans())
@example(Fraction(1, 10), TINY, False)
@example(Fraction(1, 10), -TINY, False)
@example(Fraction(1, 4), Fraction(0), False)
@example(Fraction(1, 3), TINY, False)
@example(Fraction(1, 3), -TINY, False)
@example(Fraction(0), TINY, False)
@example(Fraction(0), -TINY, False)
@example(Fraction(0), Fraction(1, 10 ** 400), False)
@example(Fraction(3_000_000_000), TINY, True)
@example(Fraction(3_000_000_000), -TINY, True)
def test_value_near_a_constant_compares_as_the_exact_value_does(constant, offset, relative):
    assert_agrees(near(constant, offset, relative), [constant])


@SETTINGS
@given(CONSTANTS)
def test_value_equal_to_the_constant_reads_as_the_constant(constant):
    text = assert_agrees(constant, [constant])
    assert float(text) == float(constant)


@SETTINGS
@given(st.lists(st.integers(-10 ** 9, 10 ** 9), min_size=1, max_size=5, unique=True),
       st.integers(0, 4), st.integers(0, 4), OFFSETS)
def test_value_near_one_of_several_constants_compares_with_each(numerators, places, pick, offset):
    """Several well-separated constants (as one operand is compared with in a rule's versions)."""
    constants = [Fraction(n, 10 ** places) for n in numerators]
    constant = constants[pick % len(constants)]
    assert_agrees(constant + offset, constants)


@SETTINGS
@given(st.fractions(max_denominator=10 ** 15))
def test_value_with_no_constant_is_positional_and_near(value):
    assume(abs(value) < DURABLE_MAGNITUDE)
    text = assert_agrees(value, [])
    assert float(text) == float(value)


@SETTINGS
@given(st.integers(16, 60), st.booleans(), CONSTANTS)
def test_huge_values_are_clamped_but_stay_on_their_side(exponent, negative, constant):
    assume(abs(constant) < DURABLE_MAGNITUDE / 10)
    value = Fraction(10) ** exponent * (-1 if negative else 1) + Fraction(1, 3)
    text = assert_agrees(value, [constant])
    assert abs(Fraction(text)) <= DURABLE_MAGNITUDE


def test_clamped_text_is_within_the_range_durable_reads_exactly():
    assert encode_number(Fraction(10) ** 30, [Fraction(30_000_000)]) == "1000000000000000"
    assert encode_number(-Fraction(10) ** 30, [Fraction(30_000_000)]) == "-1000000000000000"


@pytest.mark.parametrize("value, constants", [
    (Fraction(1, 10) + TINY, [Fraction(1, 10)]),
    (Fraction(1, 10) - TINY, [Fraction(1, 10)]),
    (Fraction(1, 4), [Fraction(1, 4)]),
    (Fraction(12_000_000, 47_462_175), [Fraction(1, 4), Fraction(1, 10)]),
    (Fraction(0), [Fraction(0)]),
    (Fraction(-1, 10 ** 30), [Fraction(0)]),
    (Fraction(5, 10 ** 325), [Fraction(0)]),  # below the smallest double: still above zero
    (Fraction(10) ** 15 + TINY, [Fraction(10) ** 15]),
])
def test_boundary_values(value, constants):
    assert_agrees(value, constants)


def test_exact_equality_reads_as_equal_even_for_non_terminating_constants():
    third = Fraction(1, 3)
    assert float(encode_number(third, [third])) == float(third)


def test_a_value_just_below_a_terminating_constant_is_written_below_it():
    text = encode_number(Fraction(1, 4) - TINY, [Fraction(1, 4)])
    assert float(text) < 0.25
    text = encode_number(Fraction(1, 4) + TINY, [Fraction(1, 4)])
    assert float(text) > 0.25


# ---------------------------------------------------------------------------------
# End to end: durable_rules fires as the exact comparison says

OPERATORS = {
    "gte": ("$gte", lambda v, c: v >= c),
    "gt": ("$gt", lambda v, c: v > c),
    "lte": ("$lte", lambda v, c: v <= c),
    "lt": ("$lt", lambda v, c: v < c),
    "neq": ("$neq", lambda v, c: v != c),
    "eq": (None, lambda v, c: v == c),
}
_names = itertools.count(1)


def constant_text(constant: Fraction) -> str:
    """Exact positional text of a terminating constant, as a rule file's threshold is written."""
    text = format(Decimal(constant.numerator) / Decimal(constant.denominator), "f")
    assert Fraction(Decimal(text)) == constant, "constants in these tests must terminate"
    return text


class Ruleset:
    """A tiny durable ruleset: one rule per operator, each over fact field `x` against one constant."""

    def __init__(self, constant: Fraction):
        self.constant = constant
        rules = {}
        for name, (op, _) in OPERATORS.items():
            test = f'{{"x": {constant_text(constant)}}}' if op is None \
                else f'{{"{op}": {{"x": {constant_text(constant)}}}}}'
            rules[name] = f'{{"all": [{{"m": {{"$and": [{{"kind": "probe"}}, {test}]}}}}]}}'
        self.json = "{" + ",".join(f'"{k}": {v}' for k, v in rules.items()) + "}"
        json.loads(self.json)  # well-formed
        self.handle = durable_rules_engine.create_ruleset(f"encoding_probe_{next(_names)}", self.json)
        self.sessions = itertools.count(1)

    def fired(self, value_text: str) -> set[str]:
        sid = f"s{next(self.sessions)}"
        payload = f'[{{"sid": "{sid}", "kind": "probe", "x": {value_text}}}]'
        fired: set[str] = set()
        try:
            code, state = durable_rules_engine.assert_facts(self.handle, payload)
            assert code == 0
            result = durable_rules_engine.start_action_for_state(self.handle, state)
            while result:
                fired.update(json.loads(result[1]))
                following = durable_rules_engine.complete_and_start_action(self.handle, state)
                result = (result[0], following) if following else None
        finally:
            durable_rules_engine.delete_state(self.handle, sid)
        return fired

    def close(self) -> None:
        durable_rules_engine.delete_ruleset(self.handle)


def expected_firing(value: Fraction, constant: Fraction) -> set[str]:
    return {name for name, (_, holds) in OPERATORS.items() if holds(value, constant)}


BOUNDARY_CONSTANTS = [
    Fraction(1, 4),                 # 25%
    Fraction(1, 10),                # 10%: not a double
    Fraction(3, 10),
    Fraction(30_000_000),           # 3000万元
    Fraction(3_000_000_000),        # 30亿元
    Fraction(400_000_000),          # 4亿股
    Fraction(0),
    Fraction(-5_000_000),
    Fraction(376_822_001, 10),      # 37,682.2001万元 in 元
    Fraction(637, 10),              # 63.70元/股
]
OFFSETS_E2E = [Fraction(0), TINY, -TINY, Fraction(1, 10 ** 12), -Fraction(1, 10 ** 12), Fraction(1), -Fraction(1),
               Fraction(1, 3), -Fraction(1, 3)]


@pytest.mark.parametrize("constant", BOUNDARY_CONSTANTS, ids=[str(c) for c in BOUNDARY_CONSTANTS])
def test_durable_fires_as_the_exact_comparison_at_the_boundary(constant):
    ruleset = Ruleset(constant)
    try:
        for offset in OFFSETS_E2E:
            for relative in (False, True):
                value = near(constant, offset, relative)
                text = encode_number(value, [constant])
                assert ruleset.fired(text) == expected_firing(value, constant), (value, constant, text)
    finally:
        ruleset.close()


def test_durable_would_misjudge_the_naive_encoding():
    """The reason encode_number exists: the nearest double of a value 1e-20 above 10% reads as equal."""
    constant = Fraction(1, 10)
    value = constant + TINY
    ruleset = Ruleset(constant)
    try:
        naive = repr(float(value))
        assert ruleset.fired(naive) != expected_firing(value, constant)
        assert ruleset.fired(encode_number(value, [constant])) == expected_firing(value, constant)
    finally:
        ruleset.close()


@settings(max_examples=150, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(DECIMAL_CONSTANTS, OFFSETS, st.booleans())
def test_durable_agrees_with_exact_comparison_for_random_values(constant, offset, relative):
    value = near(constant, offset, relative)
    ruleset = Ruleset(constant)
    try:
        assert ruleset.fired(encode_number(value, [constant])) == expected_firing(value, constant)
    finally:
        ruleset.close()


@SETTINGS
@given(st.floats(allow_nan=False, allow_infinity=False))
@example(-0.0)
@example(5e-324)
@example(1e22)
def test_positional_text_of_a_double_reads_back_exactly(number):
    text = _positional_float(number)
    assert "e" not in text.lower() and text != "-0"
    assert float(text) == number
    assert text == "0" or not text.endswith("0") or "." not in text
