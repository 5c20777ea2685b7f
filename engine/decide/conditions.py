"""A rule's condition compiled once into Python closures, for the exact cross-check of each case.

`FactEnvironment.evaluate` walks a condition's tree for every case, looking up each node's
method by its type and computing its constant sides again. The tree is the same for every case,
so here it becomes nested closures made once per rule version that do only the case's part:
read each term through the environment (which caches it, and holds the very values sent to
durable_rules), compare it with a constant computed when compiling, combine the outcomes in
Kleene logic. The answer is `evaluate`'s, `Missing` facts and reasons included (a test holds
the two to it on every rule and many cases); an `and` or `or` stops at its first deciding part,
which changes nothing but the work, as `evaluate` decides on it whatever the other parts are.
"""

from __future__ import annotations

import operator
from typing import Callable

from ..input.units import Quantity
from ..rules.expression import BoolOp, Compare, If, Literal, Name, Node, Unary, YearRef, is_constant
from .facts import FactEnvironment, Missing, Outcome, _merge

Condition = Callable[[FactEnvironment], Outcome]
_OPERATOR = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
             ">=": operator.ge}


def compile_condition(node: Node, constants: FactEnvironment) -> Condition:
    """`lambda env: env.evaluate(node)`, made faster. `constants` evaluates the constant sides
    of comparisons (an environment without facts)."""
    if isinstance(node, Literal):
        value = node.value
        return lambda env: value
    if isinstance(node, Name):
        name = node.name
        return lambda env: env.lookup(name, 0)
    if isinstance(node, YearRef):
        name, k = node.name, node.k
        return lambda env: env.lookup(name, k)
    if isinstance(node, BoolOp):
        return _bool_op(node, constants)
    if isinstance(node, Unary) and node.op == "not":
        inner = compile_condition(node.operand, constants)

        def negation(env: FactEnvironment) -> Outcome:
            value = inner(env)
            return value if isinstance(value, Missing) else not value
        return negation
    if isinstance(node, If):
        return _if(node, constants)
    if isinstance(node, Compare):
        return _compare(node, constants)
    return lambda env: env.evaluate(node)  # a computed term: the environment keeps operands' values


def _bool_op(node: BoolOp, constants: FactEnvironment) -> Condition:
    parts = tuple(compile_condition(operand, constants) for operand in node.operands)
    decisive = node.op == "or"  # the value that settles the result: True for or, False for and

    def combined(env: FactEnvironment) -> Outcome:
        missing = None
        for part in parts:
            value = part(env)
            if value is decisive:
                return decisive
            if isinstance(value, Missing):
                missing = value if missing is None else missing | value
        return missing if missing is not None else not decisive
    return combined


def _if(node: If, constants: FactEnvironment) -> Condition:
    condition = compile_condition(node.condition, constants)
    then, otherwise = compile_condition(node.then, constants), compile_condition(node.otherwise, constants)

    def branch(env: FactEnvironment) -> Outcome:
        decided = condition(env)
        if isinstance(decided, Missing):
            return decided
        return then(env) if decided else otherwise(env)
    return branch


def _compare(node: Compare, constants: FactEnvironment) -> Condition:
    test = _OPERATOR[node.op]
    left = compile_condition(node.left, constants)
    if is_constant(node.right):
        right_value = constants.evaluate(node.right)
        if not isinstance(right_value, Missing):
            exact = right_value.value if isinstance(right_value, Quantity) else right_value

            def against_constant(env: FactEnvironment) -> Outcome:
                value = left(env)
                if isinstance(value, Missing):
                    return value
                return test(value.value, exact) if isinstance(value, Quantity) else test(value, exact)
            return against_constant
    right = compile_condition(node.right, constants)

    def comparison(env: FactEnvironment) -> Outcome:
        a, b = left(env), right(env)
        missing = _merge([a, b])
        if missing:
            return missing
        return test(a.value, b.value) if isinstance(a, Quantity) else test(a, b)
    return comparison
