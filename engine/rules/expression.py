"""The small, safe expression language of rule files: parse once, type-check once.

    condition := or ; or := and ("or" and)* ; and := not ("and" not)*
    not       := "not" not | compare
    compare   := sum (("<" | "<=" | ">" | ">=" | "==" | "!=") sum)?
    sum       := product (("+" | "-") product)* ; product := unary (("*" | "/") unary)*
    unary     := "-" unary | power ; power := atom ("^" INTEGER)?
    atom      := AMOUNT | STRING | true | false | NAME | NAME "(" args ")" | "(" condition ")"
               | "if" condition "then" condition "else" condition

AMOUNT is a number with an optional unit written as filings write it: `3000万元`, `4亿元`,
`25%`, `1200万股`, `63.70元/股`, `50倍`. `≥ ≤ ≠` and full-width brackets are accepted.

Functions over fiscal years (the latest full audited years, never an interim period):
`latest(x)`, `year(k, x)` (k = 1 is the latest), `sum_latest(n, x)`, `all_latest(n, cond)`,
`any_latest(n, cond)`; `min(a, b, …)`, `max(a, b, …)`; and `first(a, b, …)`, the first
argument the case states (e.g. the issue price, else the lower bound of the price range).
Dates: `full_years(from, to)` complete years; `months_elapsed(from, to)` months as an exact
fraction (a month-end start counts to month-ends).

Nothing here calls `eval`; the parser is a recursive-descent parser with bounded input
size and depth. `check` types every node against a `Scope` (the names a rule may read)
and refuses unit mismatches such as money compared with shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from ..common.errors import ExpressionError
from ..input.units import MONEY, RATIO, UNITS, Dim, Quantity, normalize_text

MAX_EXPRESSION_LENGTH = 4000
MAX_DEPTH = 60
MAX_OPERATORS = 200  # bounds the tree's depth too: checking and evaluating recurse over it

# ---------------------------------------------------------------------------------
# Types


@dataclass(frozen=True)
class Type:
    """What an expression yields: a quantity of some dimension, a truth value, text or a date.

    `per_year` marks a figure that has one value per fiscal year (revenue); it must be
    reduced by a year function before it can be compared.
    """

    kind: str  # "quantity" | "bool" | "text" | "date"
    dim: Dim | None = None
    per_year: bool = False

    def describe(self) -> str:
        base = self.dim.name if self.kind == "quantity" and self.dim is not None else self.kind
        return f"{base} per fiscal year" if self.per_year else base


BOOL = Type("bool")
TEXT = Type("text")


def quantity(dim: Dim, per_year: bool = False) -> Type:
    return Type("quantity", dim, per_year)


class Scope(Protocol):
    """The names an expression may read, with their types."""

    def type_of(self, name: str) -> Type | None: ...

    def names(self) -> list[str]: ...


# ---------------------------------------------------------------------------------
# AST


@dataclass(frozen=True)
class Node:
    column: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Literal(Node):
    """A constant: a quantity (with the unit as written), text or a truth value."""

    value: Quantity | str | bool
    written: str


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # + - * / ^
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # < <= > >= == !=
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class If(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class YearRef(Node):
    """A per-year figure in the k-th latest fiscal year (k = 1 is the latest): made by expansion."""

    name: str
    k: int


COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
SYMBOL = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
YEAR_FUNCTIONS = ("latest", "year", "sum_latest", "all_latest", "any_latest")
FUNCTIONS = YEAR_FUNCTIONS + ("min", "max", "first", "floor", "full_years", "months_elapsed")
KEYWORDS = {"and", "or", "not", "if", "then", "else", "true", "false"}


# ---------------------------------------------------------------------------------
# Tokenizer

_UNIT_ALTERNATIVES = "|".join(re.escape(u) for u in sorted((u for u in UNITS if u), key=len, reverse=True))
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<amount>(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?(?:{_UNIT_ALTERNATIVES})?)
  | (?P<string>"[^"\n]*"|'[^'\n]*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|≤|≥|≠|[-+*/^(),<>])
    """,
    re.VERBOSE,
)
_OP_ALIASES = {"≤": "<=", "≥": ">=", "≠": "!="}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            raise ExpressionError(f"unexpected character '{text[position]}'", text, position + 1)
        kind = match.lastgroup or ""
        if kind != "ws":
            value = match.group(kind)
            if kind == "op":
                value = _OP_ALIASES.get(value, value)
            elif kind == "name" and value in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, value, position + 1))
        position = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


# ---------------------------------------------------------------------------------
# Parser


def clean_source(text: str) -> str:
    """The text the parser reads (and columns count in): NFKC, folded lines joined by one space."""
    return " ".join(normalize_text(text).split())


def parse(text: str) -> Node:
    """Parse an expression; `ExpressionError` with the column on any mistake."""
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    source = clean_source(text)
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters",
                              source[:60] + "…", MAX_EXPRESSION_LENGTH + 1)
    if not source:
        raise ExpressionError("empty expression")
    return _Parser(source).parse()


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0
        self.operators = 0

    def count(self, token: Token) -> None:
        """One more operator; refuse expressions too complex to check safely."""
        self.operators += 1
        if self.operators > MAX_OPERATORS:
            raise self.error(f"expression has more than {MAX_OPERATORS} operators; split it into figures", token)

    # helpers
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.peek()
        if token.kind == kind and (text is None or token.text == text):
            return self.take()
        return None

    def expect(self, kind: str, text: str, what: str) -> Token:
        token = self.accept(kind, text)
        if token is None:
            found = self.peek()
            raise ExpressionError(f"expected {what}, found {found.text or 'the end'}", self.text, found.column)
        return token

    def error(self, message: str, token: Token) -> ExpressionError:
        return ExpressionError(message, self.text, token.column)

    def parse(self) -> Node:
        node = self.condition()
        if self.peek().kind != "end":
            raise self.error(f"unexpected '{self.peek().text}'", self.peek())
        return node

    def nested(self, parse):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nested deeper than {MAX_DEPTH} levels", self.peek())
        try:
            return parse()
        finally:
            self.depth -= 1

    # grammar
    def condition(self) -> Node:
        return self.nested(self.or_)

    def or_(self) -> Node:
        first = self.peek()
        operands = [self.and_()]
        while token := self.accept("keyword", "or"):
            self.count(token)
            operands.append(self.and_())
        return operands[0] if len(operands) == 1 else BoolOp("or", tuple(operands), column=first.column)

    def and_(self) -> Node:
        first = self.peek()
        operands = [self.not_()]
        while token := self.accept("keyword", "and"):
            self.count(token)
            operands.append(self.not_())
        return operands[0] if len(operands) == 1 else BoolOp("and", tuple(operands), column=first.column)

    def not_(self) -> Node:
        token = self.accept("keyword", "not")
        if token:
            return Unary("not", self.nested(self.not_), column=token.column)
        return self.compare()

    def compare(self) -> Node:
        left = self.sum()
        token = self.peek()
        if token.kind == "op" and token.text in COMPARISONS:
            self.take()
            right = self.sum()
            if self.peek().kind == "op" and self.peek().text in COMPARISONS:
                raise self.error("chained comparisons are not allowed; join them with 'and'", self.peek())
            return Compare(token.text, left, right, column=token.column)
        return left

    def sum(self) -> Node:
        node = self.product()
        while self.peek().kind == "op" and self.peek().text in "+-":
            token = self.take()
            self.count(token)
            node = Binary(token.text, node, self.product(), column=token.column)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.peek().kind == "op" and self.peek().text in "*/":
            token = self.take()
            self.count(token)
            node = Binary(token.text, node, self.unary(), column=token.column)
        return node

    def unary(self) -> Node:
        token = self.accept("op", "-")
        if token:
            return Unary("-", self.nested(self.unary), column=token.column)
        return self.power()

    def power(self) -> Node:
        node = self.atom()
        token = self.accept("op", "^")
        if token:
            exponent = self.take()
            if exponent.kind != "amount" or not exponent.text.isdigit():
                raise self.error("the exponent of ^ must be a whole number", exponent)
            if int(exponent.text) > 12:
                raise self.error("exponents above 12 are not supported", exponent)
            node = Binary("^", node, Literal(Quantity(int(exponent.text), RATIO), exponent.text,
                                             column=exponent.column), column=token.column)
        return node

    def atom(self) -> Node:
        token = self.take()
        if token.kind == "amount":
            return _amount_literal(token, self.text)
        if token.kind == "string":
            return Literal(token.text[1:-1], token.text, column=token.column)
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Literal(token.text == "true", token.text, column=token.column)
        if token.kind == "keyword" and token.text == "if":
            condition = self.condition()
            self.expect("keyword", "then", "'then'")
            then = self.condition()
            self.expect("keyword", "else", "'else'")
            otherwise = self.condition()
            return If(condition, then, otherwise, column=token.column)
        if token.kind == "name":
            if self.accept("op", "("):
                if token.text not in FUNCTIONS:
                    raise self.error(f"unknown function '{token.text}' (known: {', '.join(FUNCTIONS)})", token)
                args = [] if self.peek().text == ")" else [self.condition()]
                while self.accept("op", ","):
                    args.append(self.condition())
                self.expect("op", ")", "')'")
                return Call(token.text, tuple(args), column=token.column)
            return Name(token.text, column=token.column)
        if token.kind == "op" and token.text == "(":
            node = self.condition()
            self.expect("op", ")", "')'")
            return node
        raise self.error(f"unexpected {token.text or 'end of expression'}", token)


def _amount_literal(token: Token, text: str) -> Literal:
    match = re.match(r"([\d,]+(?:\.\d+)?)(.*)$", token.text)
    assert match is not None
    number, symbol = match.group(1), match.group(2)
    from decimal import Decimal
    from fractions import Fraction

    unit = UNITS[symbol]
    value = Fraction(Decimal(number.replace(",", ""))) * unit.factor
    return Literal(Quantity(value, unit.dim), token.text, column=token.column)


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


# ---------------------------------------------------------------------------------
# Utilities on trees


def names_in(node: Node) -> set[str]:
    """Every figure name the expression reads (YearRef names included)."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, (Name, YearRef)):
            found.add(n.name)
        for child in children(n):
            walk(child)

    walk(node)
    return found


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, (Binary, Compare)):
        return (node.left, node.right)
    if isinstance(node, BoolOp):
        return node.operands
    if isinstance(node, Call):
        return node.args
    if isinstance(node, If):
        return (node.condition, node.then, node.otherwise)
    return ()


def rebuild(node: Node, f) -> Node:
    """A copy of `node` with `f` applied to each direct child (leaves are returned as they are)."""
    if isinstance(node, Unary):
        return Unary(node.op, f(node.operand), column=node.column)
    if isinstance(node, Binary):
        return Binary(node.op, f(node.left), f(node.right), column=node.column)
    if isinstance(node, Compare):
        return Compare(node.op, f(node.left), f(node.right), column=node.column)
    if isinstance(node, BoolOp):
        return BoolOp(node.op, tuple(f(o) for o in node.operands), column=node.column)
    if isinstance(node, Call):
        return Call(node.function, tuple(f(a) for a in node.args), column=node.column)
    if isinstance(node, If):
        return If(f(node.condition), f(node.then), f(node.otherwise), column=node.column)
    return node


_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "compare": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7, "^": 8}


def unparse(node: Node, parent: int = 0) -> str:
    """Readable text of a tree, with only the brackets precedence needs."""
    if isinstance(node, Literal):
        return node.written
    if isinstance(node, Name):
        return node.name
    if isinstance(node, YearRef):
        return f"year({node.k}, {node.name})"
    if isinstance(node, Call):
        return f"{node.function}(" + ", ".join(unparse(a) for a in node.args) + ")"
    if isinstance(node, If):
        text, own = f"if {unparse(node.condition)} then {unparse(node.then)} else {unparse(node.otherwise)}", 0
    elif isinstance(node, Unary):
        own = _PRECEDENCE["not" if node.op == "not" else "neg"]
        text = f"not {unparse(node.operand, own)}" if node.op == "not" else f"-{unparse(node.operand, own)}"
    elif isinstance(node, Binary):
        own = _PRECEDENCE[node.op]
        # a - (b + c) and a / (b * c) keep their brackets: the right side binds tighter
        # `^` does not chain (its exponent is a whole number): (a ^ 2) ^ 3 keeps its brackets too
        text = (f"{unparse(node.left, own + (node.op == '^'))} {node.op} "
                f"{unparse(node.right, own + (node.op in '-/^'))}")
    elif isinstance(node, Compare):
        own = _PRECEDENCE["compare"]
        text = f"{unparse(node.left, own + 1)} {node.op} {unparse(node.right, own + 1)}"
    elif isinstance(node, BoolOp):
        own = _PRECEDENCE[node.op]
        text = f" {node.op} ".join(unparse(o, own + 1) for o in node.operands)
    else:  # pragma: no cover
        raise TypeError(node)
    return f"({text})" if own < parent or (own == 0 and parent) else text
