"""Text to tree: the tokenizer and the recursive-descent parser of the expression language (its grammar
is in `expression`). Input size, operator count and depth are bounded; nothing calls `eval`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..common.errors import ExpressionError
from ..input.units import RATIO, UNITS, Quantity, normalize_text
from .expression import (Binary, BoolOp, COMPARISONS, Call, Compare, FUNCTIONS, If, KEYWORDS, Literal, MAX_DEPTH,
                         MAX_EXPRESSION_LENGTH, MAX_OPERATORS, Name, Node, Unary)

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
