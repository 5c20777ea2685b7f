"""Type checking of expression trees: every name known to the `Scope`, units that agree (money is never
compared with shares), per-year figures reduced by a year function before they are compared.
"""

from __future__ import annotations

from ..common.errors import ExpressionError
from ..input.units import MONEY, RATIO, Dim, Quantity
from .expression import (BOOL, Binary, BoolOp, Call, Compare, If, Literal, Name, Node, Scope, TEXT, Type, Unary,
                         YearRef, quantity)
from .parser import clean_source

# ---------------------------------------------------------------------------------
# Type checking


def check(node: Node, scope: Scope, text: str = "") -> Type:
    """The type of `node` in `scope`; `ExpressionError` for unknown names or unit mismatches."""
    return _Checker(scope, clean_source(text) if text else "").check(node)


class _Checker:
    def __init__(self, scope: Scope, text: str):
        self.scope = scope
        self.text = text

    def fail(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(message, self.text, node.column or None)

    def check(self, node: Node) -> Type:
        if isinstance(node, Literal):
            if isinstance(node.value, bool):
                return BOOL
            if isinstance(node.value, str):
                return TEXT
            return quantity(node.value.dim)
        if isinstance(node, Name):
            found = self.scope.type_of(node.name)
            if found is None:
                import difflib

                guess = difflib.get_close_matches(node.name, self.scope.names(), n=1)
                hint = f"; did you mean '{guess[0]}'?" if guess else ""
                raise self.fail(f"unknown figure '{node.name}'{hint}", node)
            return found
        if isinstance(node, YearRef):
            found = self.scope.type_of(node.name)
            assert found is not None
            return Type(found.kind, found.dim, False)
        if isinstance(node, Unary):
            inner = self.check(node.operand)
            if node.op == "not":
                self.require_bool(inner, node.operand)
                return inner
            self.require_quantity(inner, node.operand)
            return inner
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Compare):
            return self.compare(node)
        if isinstance(node, BoolOp):
            types = [self.check(operand) for operand in node.operands]
            for operand, operand_type in zip(node.operands, types):
                self.require_bool(operand_type, operand)
            return Type("bool", per_year=any(t.per_year for t in types))
        if isinstance(node, If):
            condition = self.check(node.condition)
            self.require_bool(condition, node.condition)
            then, otherwise = self.check(node.then), self.check(node.otherwise)
            if (then.kind, then.dim) != (otherwise.kind, otherwise.dim):
                raise self.fail(f"the branches of if give {then.describe()} and {otherwise.describe()}", node)
            return Type(then.kind, then.dim, condition.per_year or then.per_year or otherwise.per_year)
        if isinstance(node, Call):
            return self.call(node)
        raise self.fail(f"unsupported expression {type(node).__name__}", node)  # pragma: no cover

    def require_bool(self, found: Type, node: Node) -> None:
        if found.kind != "bool":
            raise self.fail(f"a condition is expected here, not {found.describe()}", node)

    def require_quantity(self, found: Type, node: Node) -> None:
        if found.kind != "quantity":
            raise self.fail(f"a number or amount is expected here, not {found.describe()}", node)

    def binary(self, node: Binary) -> Type:
        left, right = self.check(node.left), self.check(node.right)
        self.require_quantity(left, node.left)
        self.require_quantity(right, node.right)
        assert left.dim is not None and right.dim is not None
        per_year = left.per_year or right.per_year
        if node.op in "+-" and _is_zero(node.right):
            return quantity(left.dim, per_year)
        if node.op in "+-" and _is_zero(node.left):
            return quantity(right.dim, per_year)
        if node.op in "+-":
            if left.dim != right.dim:
                raise self.fail(f"cannot {'add' if node.op == '+' else 'subtract'} "
                                f"{right.dim.name} {'to' if node.op == '+' else 'from'} {left.dim.name}", node)
            return quantity(left.dim, per_year)
        if node.op == "*":
            return quantity(left.dim * right.dim, per_year)
        if node.op == "/":
            return quantity(left.dim / right.dim, per_year)
        assert isinstance(node.right, Literal) and isinstance(node.right.value, Quantity)
        return quantity(left.dim ** int(node.right.value.value), per_year)

    def compare(self, node: Compare) -> Type:
        left, right = self.check(node.left), self.check(node.right)
        if left.kind != right.kind:
            raise self.fail(f"cannot compare {left.describe()} with {right.describe()}", node)
        if left.kind == "quantity" and left.dim != right.dim and not (_is_zero(node.left) or _is_zero(node.right)):
            raise self.fail(f"cannot compare {left.dim.name} with {right.dim.name}"
                            f" (unit mismatch: {_unit_hint(left.dim)} vs {_unit_hint(right.dim)})", node)
        if left.kind in ("bool", "text") and node.op not in ("==", "!="):
            raise self.fail(f"{left.kind} can only be compared with == or !=", node)
        return Type("bool", per_year=left.per_year or right.per_year)

    def call(self, node: Call) -> Type:
        name, args = node.function, node.args
        if name in ("min", "max", "first"):
            if len(args) < 2:
                raise self.fail(f"{name}() needs at least two arguments", node)
            types = [self.check(a) for a in args]
            if name == "first" and all(t.kind == "date" for t in types):
                return Type("date")
            for arg, arg_type in zip(args, types):
                self.require_quantity(arg_type, arg)
            if len({t.dim for t in types}) != 1:
                raise self.fail(f"{name}() arguments have different units", node)
            return quantity(types[0].dim, any(t.per_year for t in types))  # type: ignore[arg-type]
        if name in ("full_years", "months_elapsed"):
            # full_years: complete years from one date to another (民法典 第二百条–第二百零三条);
            # months_elapsed: months from a period end to a date, exactly (6 on the day six months later)
            if len(args) != 2:
                raise self.fail(f"{name}() takes 2 arguments: {name}(from_date, to_date)", node)
            for arg in args:
                if self.check(arg).kind != "date":
                    raise self.fail(f"{name}() needs dates, not {self.check(arg).describe()}", arg)
            return quantity(RATIO)
        if name == "floor":  # whole base units: shares are bought in whole shares (股)
            if len(args) != 1:
                raise self.fail("floor() takes 1 argument", node)
            arg_type = self.check(args[0])
            self.require_quantity(arg_type, args[0])
            return arg_type
        expected = 1 if name == "latest" else 2
        if len(args) != expected:
            hint = ""
            if any(isinstance(a, Literal) and "," in a.written for a in args):
                hint = "; a comma followed by digits reads as a thousands separator, so write a space after " \
                       "the argument comma (e.g. sum_latest(3, 100万元))"
            raise self.fail(f"{name}() takes {expected} argument{'s' if expected > 1 else ''}{hint}", node)
        if name != "latest":
            count = args[0]
            if not (isinstance(count, Literal) and isinstance(count.value, Quantity)
                    and count.value.dim == RATIO and count.value.value.denominator == 1
                    and 1 <= count.value.value <= 10):
                raise self.fail(f"the first argument of {name}() must be a whole number of years from 1 to 10", node)
        inner = self.check(args[-1])
        if not inner.per_year:
            raise self.fail(f"{name}() needs a per-year figure such as revenue, not {inner.describe()}", node)
        if name in ("all_latest", "any_latest"):
            self.require_bool(inner, args[-1])
            return BOOL
        self.require_quantity(inner, args[-1])
        return quantity(inner.dim)  # type: ignore[arg-type]


def _is_zero(node: Node) -> bool:
    """A unitless 0: zero in any unit, so `net_profit > 0` needs no `0元`."""
    return (isinstance(node, Literal) and isinstance(node.value, Quantity) and node.value.value == 0
            and node.value.dim == RATIO)


def _unit_hint(dim: Dim) -> str:
    return {MONEY: "元", Dim(0, 1): "股", RATIO: "%"}.get(dim, dim.name)
