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

This module holds the language's types, its tree and what works on trees (`names_in`,
`rebuild`, `unparse`). Nothing calls `eval`: `parser.parse` is a recursive-descent parser
with bounded input size and depth, and `typecheck.check` types every node against a `Scope`
(the names a rule may read), refusing unit mismatches such as money compared with shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..input.units import Dim, Quantity

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


def is_constant(node: Node) -> bool:
    """Whether the expression reads no figure and calls no function: its value is the same for every case."""
    return not names_in(node) and not isinstance(node, Call)


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
