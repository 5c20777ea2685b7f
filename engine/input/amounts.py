"""Amount fields of the case model: exact quantities with their unit, validated by pydantic.

A bare number needs the file's `units:` for its dimension (a ratio always needs its unit: a filing's 3
may mean 3% or 300%). Each field type carries `AmountOf` (its dimension and an example), so other
readers of the model, such as sheet columns, know it without parsing validators.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from .units import (MONEY, PRICE, RATIO, RECEIPTS, SHARES, Dim, Quantity, UnitError, canonical_text, from_number,
                    normalize_text, parse_amount)

# ---------------------------------------------------------------------------------
# Amount fields


def _in_receipts(text: str) -> bool:
    return normalize_text(text).endswith("份")


def _receipts_as_shares(text: str, info: ValidationInfo) -> Quantity:
    """A placement or subscription figure a CDR filing states in 份, as the underlying shares it stands
    for (281.6366万份 at 10份/股 is 281,636.6 shares: a fraction of a share, kept exact)."""
    ratio = (info.context or {}).get("cdrs_per_share")
    if ratio is None:
        raise ValueError(f"'{text}' is in 份: state offering.depositary_receipts with its cdrs_per_share "
                         "(or shares_per_cdr) to convert it to underlying shares")
    receipts = parse_amount(text, dim=RECEIPTS)
    if receipts.value < 0 or receipts.value.denominator != 1:
        raise ValueError(f"a number of 份 must be whole and not negative, got '{text}'")
    return Quantity(receipts.value / ratio, SHARES)


def amount_validator(dim: Dim, *, non_negative: bool, positive: bool = False, whole: bool = False,
                      bare_ratio: bool = True, in_receipts: bool = False):
    """`whole`: a count of shares (or 份) must be a whole number. `in_receipts`: a share figure may be
    written in 份 (a CDR issue's placement), converted by the case's ratio. `bare_ratio`: whether a number
    without a unit may stand for a ratio (counts of patents or staff: yes; a ratio field: only
    with `units.ratio` declared, since a bare 3 could mean 3% or 300%)."""
    def validate(value: Any, info: ValidationInfo) -> Quantity:
        if isinstance(value, Quantity):
            quantity = value
        elif dim == SHARES and in_receipts and isinstance(value, str) and _in_receipts(value):
            return _receipts_as_shares(value, info)
        else:
            units = (info.context or {}).get("units", {})
            default = units.get(dim.name) if dim != RATIO or not bare_ratio else None
            if not bare_ratio and default is None and _is_bare(value):
                raise ValueError(f"'{value}' is a bare ratio: a filing's 3 may mean 3% or 300%; write it with "
                                 "its unit (e.g. 25% or 2,000倍) or declare units.ratio for the file")
            if isinstance(value, bool) or value is None:
                raise ValueError(f"expected an amount of {dim.name} with its unit, got {value!r}")
            try:
                if isinstance(value, str):
                    quantity = parse_amount(value, dim=dim, default_unit=default)
                elif isinstance(value, (int,)) or type(value).__name__ == "Decimal":
                    quantity = from_number(value, dim=dim, unit=default)
                else:
                    raise UnitError(f"expected an amount of {dim.name} with its unit, got {value!r}")
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        if positive and quantity.value <= 0:
            raise ValueError("must be greater than zero")
        if non_negative and quantity.value < 0:
            raise ValueError("must not be negative")
        if whole and quantity.value.denominator != 1:
            raise ValueError(f"a number of {'份' if quantity.dim == RECEIPTS else 'shares'} must be whole, got '{value}'")
        return quantity
    return validate


def _is_bare(value: Any) -> bool:
    """A number (or numeric text) written without any unit."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, Decimal)):
        return True
    return isinstance(value, str) and re.fullmatch(r"[+-]?\s*[0-9][0-9,]*(\.[0-9]+)?", normalize_text(value)) is not None


def _amount_schema(dim: Dim, example: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": r"^[+-]?\s*(人民币)?\s*[0-9,]+(\.[0-9]+)?\s*\S*$"},
            {"type": "number"},
        ],
        "description": f"An amount of {dim.name} with its unit, e.g. '{example}'. "
                       f"A bare number needs units.{dim.name} declared for the file.",
        "examples": [example],
    }


@dataclass(frozen=True)
class AmountOf:
    """Marks an amount field with its dimension and an example (whose unit is the usual one), so
    other readers of the model (spreadsheet columns) know it without parsing validators."""

    dim: Dim
    example: str
    count: bool = False


def Amount(dim: Dim, example: str, *, non_negative: bool = False, positive: bool = False, whole: bool = False,
           bare_ratio: bool = True, in_receipts: bool = False) -> Any:
    """An annotated `Quantity` field type of dimension `dim`."""
    return Annotated[
        Quantity,
        PlainValidator(amount_validator(dim, non_negative=non_negative, positive=positive, whole=whole,
                                         bare_ratio=bare_ratio, in_receipts=in_receipts)),
        PlainSerializer(canonical_text, return_type=str),
        WithJsonSchema(_amount_schema(dim, example)),
        AmountOf(dim, example),
    ]


Money = Amount(MONEY, "37,682.20万元")
NonNegativeMoney = Amount(MONEY, "37,682.20万元", non_negative=True)  # the example's unit heads sheet columns
ShareCount = Amount(SHARES, "1,200万股", non_negative=True, whole=True)
PositiveShareCount = Amount(SHARES, "1,200万股", positive=True, whole=True)
# placement and subscription figures: in shares, or in 份 for a CDR issue (converted to underlying shares)
OfferedCount = Amount(SHARES, "1,200万股 or 281.6366万份", non_negative=True, whole=True, in_receipts=True)
PositivePrice = Amount(PRICE, "63.70元/股", positive=True)
Ratio = Amount(RATIO, "25%", bare_ratio=False)
Multiple = Amount(RATIO, "2,000倍", bare_ratio=False)


def _whole_count(value: Any, info: ValidationInfo) -> Quantity:
    quantity = amount_validator(RATIO, non_negative=True)(value, info)
    if quantity.value.denominator != 1:
        raise ValueError(f"a count must be a whole number, got '{value}'")
    return quantity


Count = Annotated[Quantity, PlainValidator(_whole_count), PlainSerializer(canonical_text, return_type=str),
                  WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string"}],
                                  "description": "A whole count, e.g. 7 or '7项' / '120人'"}),
                  AmountOf(RATIO, "7", count=True)]
