"""Exact quantities with units: money (元/万元/亿元), shares (股/万股/亿股), ratios (%).

Filings state money in 万元 or 亿元 and shares in 万股; a bare number is ambiguous.
A `Quantity` holds an exact rational value in base units (元, 股) and a `Dim` that
records the powers of money and shares, so `money / shares` is a price, `shares /
shares` is a ratio, and adding money to shares is a type error found when a rule is
loaded, not a wrong answer found in production.

Values are `fractions.Fraction`: sums of amounts stated to 0.01万元 and ratios such as
12,000,000 / 47,462,175 stay exact, so "不低于25%" is decided exactly at 25%.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True, order=True)
class Dim:
    """Powers of money and shares: money=1 is an amount, money=1 & shares=-1 a price."""

    money: int = 0
    shares: int = 0
    receipts: int = 0  # depositary receipts (存托凭证), counted in 份: never added to shares

    def __mul__(self, other: Dim) -> Dim:
        return Dim(self.money + other.money, self.shares + other.shares, self.receipts + other.receipts)

    def __truediv__(self, other: Dim) -> Dim:
        return Dim(self.money - other.money, self.shares - other.shares, self.receipts - other.receipts)

    def __pow__(self, exponent: int) -> Dim:
        return Dim(self.money * exponent, self.shares * exponent, self.receipts * exponent)

    @property
    def name(self) -> str:
        text = f"money^{self.money}·shares^{self.shares}" + (f"·receipts^{self.receipts}" if self.receipts else "")
        return DIM_NAMES.get(self, text)


MONEY = Dim(1, 0)
SHARES = Dim(0, 1)
PRICE = Dim(1, -1)
RATIO = Dim(0, 0)
RECEIPTS = Dim(0, 0, 1)
RECEIPT_PRICE = Dim(1, 0, -1)
RECEIPTS_PER_SHARE = Dim(0, -1, 1)
DIM_NAMES = {MONEY: "money", SHARES: "shares", PRICE: "price", RATIO: "ratio", RECEIPTS: "receipts",
             RECEIPT_PRICE: "receipt_price", RECEIPTS_PER_SHARE: "receipts_per_share"}
DIM_BY_NAME = {v: k for k, v in DIM_NAMES.items()}


@dataclass(frozen=True)
class Unit:
    """A written unit: its symbol, its factor to the base unit and its dimension."""

    symbol: str
    factor: Fraction
    dim: Dim


UNITS: dict[str, Unit] = {
    u.symbol: u
    for u in (
        Unit("元", Fraction(1), MONEY),
        Unit("万元", Fraction(10_000), MONEY),
        Unit("亿元", Fraction(100_000_000), MONEY),
        Unit("股", Fraction(1), SHARES),
        Unit("万股", Fraction(10_000), SHARES),
        Unit("亿股", Fraction(100_000_000), SHARES),
        Unit("元/股", Fraction(1), PRICE),
        Unit("份", Fraction(1), RECEIPTS),
        Unit("万份", Fraction(10_000), RECEIPTS),
        Unit("亿份", Fraction(100_000_000), RECEIPTS),
        Unit("元/份", Fraction(1), RECEIPT_PRICE),
        Unit("份/股", Fraction(1), RECEIPTS_PER_SHARE),
        Unit("股/份", Fraction(1), Dim(0, 1, -1)),
        Unit("%", Fraction(1, 100), RATIO),
        Unit("倍", Fraction(1), RATIO),
        # counts (patents, staff, investors) are plain numbers; the word is for the reader
        Unit("项", Fraction(1), RATIO),
        Unit("年", Fraction(1), RATIO),
        Unit("个月", Fraction(1), RATIO),
        Unit("人", Fraction(1), RATIO),
        Unit("名", Fraction(1), RATIO),
        Unit("家", Fraction(1), RATIO),
        Unit("", Fraction(1), RATIO),
    )
}
# Units a case file may declare once for the file, by dimension.
DEFAULT_UNIT_CHOICES = {
    "money": ("元", "万元", "亿元"),
    "shares": ("股", "万股", "亿股"),
    "price": ("元/股",),
    "ratio": ("%", "倍"),
}

_AMOUNT = re.compile(
    r"^(?P<sign>[+-]?)\s*(?:人民币)?\s*"
    r"(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<unit>[^\d\s,.+-][^\s]*)?$"
)


class UnitError(ValueError):
    """Text that is not an amount with a known unit, or of the wrong dimension."""


@dataclass(frozen=True)
class Quantity:
    """An exact value in base units (元, 股, or a plain ratio) with its dimension."""

    value: Fraction
    dim: Dim

    def __add__(self, other: Quantity) -> Quantity:
        return Quantity(self.value + other.value, _same_dim(self, other, "+"))

    def __sub__(self, other: Quantity) -> Quantity:
        return Quantity(self.value - other.value, _same_dim(self, other, "-"))

    def __mul__(self, other: Quantity) -> Quantity:
        return Quantity(self.value * other.value, self.dim * other.dim)

    def __truediv__(self, other: Quantity) -> Quantity:
        if other.value == 0:
            raise ZeroDivisionError("division by zero")
        return Quantity(self.value / other.value, self.dim / other.dim)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.dim)

    def __pow__(self, exponent: int) -> Quantity:
        return Quantity(self.value ** exponent, self.dim ** exponent)

    def in_unit(self, symbol: str) -> Fraction:
        """The value expressed in `symbol` (which must have this dimension)."""
        unit = UNITS[symbol]
        if unit.dim != self.dim:
            raise UnitError(f"cannot express {self.dim.name} in {symbol}")
        return self.value / unit.factor

    def __str__(self) -> str:
        return format_quantity(self)


def _same_dim(a: Quantity, b: Quantity, op: str) -> Dim:
    """The dimension of `a op b`; a unitless zero takes the other side's unit."""
    if a.dim == b.dim:
        return a.dim
    if b.dim == RATIO and b.value == 0:
        return a.dim
    if a.dim == RATIO and a.value == 0:
        return b.dim
    raise UnitError(f"cannot {op} {a.dim.name} and {b.dim.name}")


def normalize_text(text: str) -> str:
    """Full-width digits, signs and brackets to ASCII (NFKC), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def parse_amount(text: str, *, dim: Dim | None = None, default_unit: str | None = None) -> Quantity:
    """Parse `37,682.20万元`, `3.77亿元`, `1200万股`, `25%`, `63.70元/股` exactly.

    A number without a unit takes `default_unit` (declared once for the file); without
    one it is refused. `dim`, when given, is the dimension the field requires.
    """
    refuse_lookalike_digits(str(text))
    raw = normalize_text(str(text))
    match = _AMOUNT.match(raw)
    if not match:
        raise UnitError(f"'{text}' is not an amount (write e.g. 3,000万元, 1200万股, 25%)")
    symbol = match.group("unit") or ""
    if symbol == "" and default_unit is None and dim not in (None, RATIO):
        raise UnitError(f"'{text}' has no unit; write it with one (e.g. {_example(dim)}) "
                        f"or declare units.{dim.name} for the file")
    if symbol == "" and default_unit is not None:
        symbol = default_unit
    if symbol == "元" and dim == PRICE:
        symbol = "元/股"  # "63.70元" for a price per share
    if symbol == "元" and dim == RECEIPT_PRICE:
        symbol = "元/份"
    unit = UNITS.get(symbol)
    if unit is None:
        raise UnitError(f"unknown unit '{symbol}' in '{text}' (known: {', '.join(s for s in UNITS if s)})")
    if dim is not None and unit.dim != dim:
        raise UnitError(f"'{text}' is {unit.dim.name}, but {dim.name} is expected here")
    digits = match.group("number").replace(",", "")
    if len(digits.replace(".", "").lstrip("0")) > MAX_DIGITS:
        raise UnitError(f"'{_shorten(str(text))}' has more than {MAX_DIGITS} digits: no filing states a figure so precisely")
    whole, _, decimals = digits.partition(".")
    factor = unit.factor  # the digits over 10^decimals, times the unit's factor: one exact fraction
    numerator = int(whole + decimals) * factor.numerator
    return Quantity(Fraction(-numerator if match.group("sign") == "-" else numerator,
                             10 ** len(decimals) * factor.denominator), unit.dim)


MAX_DIGITS = 24  # 9,999,999,999,999.9999亿元 is already far beyond any issuer


def _shorten(text: str) -> str:
    return text if len(text) <= 40 else text[:20] + "…" + text[-10:]


_NO_LOOKALIKES = re.compile("[\x00-\x7f\u4e00-\u9fff]*")


def refuse_lookalike_digits(text: str) -> None:
    """Superscript, subscript, circled or fraction digits (a footnote mark copied from a PDF, e.g.
    '6.0²') would become plain digits under NFKC and silently change the number: refuse them."""
    if _NO_LOOKALIKES.fullmatch(text):  # the usual text: ASCII and CJK ideographs, none digit-like
        return
    for ch in text:
        decomposition = unicodedata.decomposition(ch)
        if decomposition.startswith(("<super>", "<sub>", "<circle>", "<fraction>")) or (
                unicodedata.category(ch) == "No"):
            raise UnitError(f"'{_shorten(text)}' contains '{ch}' ({unicodedata.name(ch, 'a digit-like mark')}), "
                            "which is not a digit of the amount (a footnote mark copied from a PDF?); remove it")


def from_number(number: int | Decimal, *, dim: Dim, unit: str | None) -> Quantity:
    """A bare YAML number in a field of dimension `dim`, with the file's declared unit."""
    if isinstance(number, bool):
        raise UnitError(f"{number!r} is not an amount")
    if isinstance(number, Decimal) and abs(number.adjusted()) > MAX_DIGITS or \
            len(str(abs(number)).replace(".", "").lstrip("0")) > MAX_DIGITS:
        raise UnitError(f"'{_shorten(str(number))}' has more than {MAX_DIGITS} digits: no filing states a figure so precisely")
    if unit is None:
        if dim == RATIO:
            return Quantity(Fraction(number), RATIO)
        raise UnitError(f"'{number}' has no unit; write it with one (e.g. {_example(dim)}) "
                        f"or declare units.{dim.name} for the file")
    return parse_amount(f"{number}{unit}", dim=dim)


def _example(dim: Dim | None) -> str:
    return {MONEY: "37,682.20万元", SHARES: "1200万股", PRICE: "63.70元/股", RECEIPTS: "7,040.917万份",
            RECEIPT_PRICE: "18.94元/份", RECEIPTS_PER_SHARE: "10份/股"}.get(dim, "25%")


# ---------------------------------------------------------------------------------
# Formatting: exact where the decimal expansion is finite, otherwise rounded with ≈.

def decimal_text(value: Fraction, max_places: int = 4, group: bool = True) -> str:
    """`value` as a decimal with thousands separators: exact if it terminates within
    `max_places` places (trailing zeros dropped), else rounded and prefixed with ≈."""
    exact = _terminating_decimal(value, max_places)
    if exact is not None:
        number, prefix = exact, ""
    else:  # round half away from zero, exactly, whatever the size
        scaled = abs(value) * 10 ** max_places
        rounded = int(scaled + Fraction(1, 2))
        number = Decimal(-rounded if value < 0 else rounded).scaleb(-max_places)
        prefix = "≈"
    text = f"{number:,f}" if group else f"{number:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text == "-0" and not prefix:
        text = "0"
    elif text in ("0", "-0") and prefix:
        text = "-0" if value < 0 else "0"  # a tiny value keeps its sign: ≈-0 is below zero
    return prefix + text


def _terminating_decimal(value: Fraction, max_places: int) -> Decimal | None:
    scaled = value * 10 ** max_places
    if scaled.denominator != 1:
        return None
    return Decimal(scaled.numerator).scaleb(-max_places)


def display_unit_for(q: Quantity) -> str:
    """The unit a filing would use for this quantity: 亿元 from 1亿, else 万元; 万股; %."""
    if q.dim == MONEY:
        return "亿元" if abs(q.value) >= 100_000_000 else "万元"
    if q.dim == SHARES:
        return "万股"
    if q.dim == PRICE:
        return "元/股"
    if q.dim == RECEIPTS:
        return "万份"
    if q.dim in (RECEIPT_PRICE, RECEIPTS_PER_SHARE):
        return {RECEIPT_PRICE: "元/份", RECEIPTS_PER_SHARE: "份/股"}[q.dim]
    if q.dim == RATIO:
        return "%"
    return ""


def fen_text(value: Fraction) -> str:
    """元 to the fen as filings write money: `3,023,340,547.50` (≈ when it does not end at a fen)."""
    text = decimal_text(value, 2)
    if text.startswith("≈"):
        return text
    whole, _, fen = text.partition(".")
    return f"{whole}.{fen:0<2}"


def format_quantity(q: Quantity, unit: str | None = None, signed: bool = False, max_places: int | None = None) -> str:
    """`4,746.2175万元`, `25.2833%` etc.; `unit` picks the unit, else the filing's usual one."""
    symbol = unit if unit is not None else display_unit_for(q)
    if symbol not in UNITS or UNITS[symbol].dim != q.dim:
        return f"{decimal_text(q.value)} ({q.dim.name})"
    places = max_places if max_places is not None else (4 if symbol in ("%", "万元", "万股", "万份") else 8 if symbol in ("亿元", "亿股", "亿份") else 4)
    text = decimal_text(q.in_unit(symbol), places)
    base = {"万元": "元", "亿元": "元", "万股": "股", "亿股": "股", "万份": "份", "亿份": "份"}.get(symbol)
    if text.startswith("≈") and base and max_places is None and _terminating_decimal(q.value, 2) is not None:
        # exact in 元 (to the fen) or whole shares: show that rather than a rounded 亿元
        symbol, text = base, (fen_text(q.value) if base == "元" else decimal_text(q.value, 2))
    if signed and not text.lstrip("≈").startswith("-") and q.value >= 0:
        text = ("≈+" + text[1:]) if text.startswith("≈") else "+" + text
    return f"{text}{symbol}"


def canonical_text(q: Quantity) -> str:
    """Base-unit exact text for machine output: `30000000`, `0.25`, or `12000000/47462175`."""
    exact = _terminating_decimal(q.value, 12)
    if exact is not None:
        text = f"{exact:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{q.value.numerator}/{q.value.denominator}"
