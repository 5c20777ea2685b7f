"""A spreadsheet cell → the value a case file's YAML would hold for it.

- The unit of a numeric cell comes from its column's header (`revenue_2019 [万元]`); a text cell may
  carry its own (`3.77亿元`). A number in an amount column with no unit in header or cell is refused.
- A numeric cell is a binary double: it is read as the shortest decimal that gives the same double
  (`repr`), and refused when that has more than 15 significant digits (Excel keeps 15 of what was
  typed, so more is an artefact of arithmetic such as 0.1+0.2, not a figure anyone stated).
  A cell formatted as a percentage holds the ratio itself (0.25 shown as 25%).
- Blank cells are not stated (never zero).
- Formulas are never evaluated: a formula cell counts by the value Excel cached when it last
  calculated the workbook; a formula with no cached value is an error at its cell.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .case import Evidence
from .sheetcolumns import Bound
from .units import Dim, normalize_text

MAX_DIGITS = 15  # significant digits Excel keeps of a typed number

# ---------------------------------------------------------------------------------
# Cells → the values a case file's YAML would hold


class CellError(ValueError):
    """A cell that cannot be read as its column needs."""


@dataclass(frozen=True)
class Cell:
    """A cell as read: its value (str, int, float, bool, date/datetime or None), whether it is
    formatted as a percentage, and a formula's problem (no cached value)."""

    value: Any
    percent: bool = False
    formula_without_value: bool = False


_BARE_NUMBER = re.compile(r"^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$|^[+-]?\.\d+$")


def exact_number(value: int | float) -> int | Decimal:
    """A numeric cell's exact value: an int, or the shortest decimal of a double (see module doc)."""
    if isinstance(value, int):
        return value
    if value != value or value in (float("inf"), float("-inf")):
        raise CellError(f"'{value}' is not a number")
    number = Decimal(repr(value))
    if len(number.normalize().as_tuple().digits) > MAX_DIGITS:
        raise CellError(f"the cell holds {value!r}, which has more than {MAX_DIGITS} significant digits: "
                        "an artefact of binary arithmetic, not an exact figure (round it, or type it as text)")
    return int(number) if number == number.to_integral_value() else number


def _number_text(number: int | Decimal) -> str:
    return f"{number:f}" if isinstance(number, Decimal) else str(number)


def cell_value(bound: Bound, cell: Cell) -> Any:
    """The value a case file would hold for this cell (None: not stated)."""
    value = cell.value
    if cell.formula_without_value:
        raise CellError("a formula with no cached value (the workbook was saved without calculating it): "
                        "type the value, or open and save the workbook in a spreadsheet program")
    if isinstance(value, str):
        value = value.strip()
        if value == "":
            return None
    if value is None:
        return None
    kind = bound.column.kind
    if kind == "amount":
        return _amount_value(bound, value, cell.percent)
    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("yes", "true", "是"):
            return True
        if isinstance(value, str) and value.lower() in ("no", "false", "否"):
            return False
        if isinstance(value, float):
            return exact_number(value)
        return value  # the model says what is wrong with it
    if kind == "date":
        if isinstance(value, dt.datetime):
            return value.date() if value.time() == dt.time(0) else value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise CellError(f"a date is expected (e.g. 2020-09-04 or a date cell), got the number {value!r}")
        return value
    if kind in ("lines", "evidence"):
        lines = [line.strip() for line in _text(value).splitlines() if line.strip()]
        return lines if kind == "lines" else [_evidence(line) for line in lines]
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _number_text(exact_number(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value).strip()


def _evidence(line: str) -> dict[str, Any]:
    parts = [p.strip() for p in line.split("|")]
    if len(parts) > len(Evidence.model_fields):
        raise CellError(f"evidence '{line}' has more than {len(Evidence.model_fields)} parts "
                        "(write document | page | note, one evidence a line)")
    item: dict[str, Any] = {}
    for name, part in zip(Evidence.model_fields, parts):
        if part:
            item[name] = int(part) if name == "page" and part.isdigit() and not part.startswith("0") else part
    return item


def _amount_value(bound: Bound, value: Any, percent: bool) -> Any:
    header = bound.column.header(bound.key).split(" [")[0]
    if isinstance(value, bool):
        return value  # the model refuses it
    if isinstance(value, (int, float)):
        number = exact_number(value)
        if percent:
            return f"{_number_text(Decimal(number) * 100)}%"
        text = _number_text(number)
    else:
        text = normalize_text(str(value))
        if not _BARE_NUMBER.match(text):
            return text  # carries its own unit (or is not an amount: the model says so)
    if bound.column.count:
        return Decimal(text.replace(",", "")) if "." in text else int(text.replace(",", ""))
    if bound.unit:
        return f"{text}{bound.unit}"
    if bound.column.dim == Dim(0, 0):
        return Decimal(text.replace(",", ""))
    raise CellError(f"'{text}' has no unit; write it in the cell (e.g. {text}{bound.column.unit}) "
                    f"or in the column header ({header} [{bound.column.unit}])")
