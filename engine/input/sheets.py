"""Issuers as rows of a spreadsheet (.xlsx or .csv): the columns, reading rows into cases, and back.

The columns are generated from the case model (`engine.case`), never listed by hand: every leaf
field of `Case` is one column, named after the fact it provides (`new_shares`, `evaluation_date`,
`price_range_low`), a fiscal-year figure is one column a period (`revenue_2019`, `audited_2019`,
`revenue_2020H1`), and every attested judgment of the rulebook is three (`issuance_conditions_met`
yes/no, `…_attested_by`, `…_evidence`). A field added to the model is a column without more code.

A row becomes the same plain dict a case file's YAML would give, validated by the same model, with
a source map that places every problem at its cell (`issuers!D7`), so every rule of the case format
holds by construction. What the sheet adds is how a cell's value is read:

- The unit of a numeric cell comes from its column's header (`revenue_2019 [万元]`); a text cell may
  carry its own (`3.77亿元`). A number in an amount column with no unit in header or cell is refused.
- A numeric cell is a binary double: it is read as the shortest decimal that gives the same double
  (`repr`), and refused when that has more than 15 significant digits (Excel keeps 15 of what was
  typed, so more is an artefact of arithmetic such as 0.1+0.2, not a figure anyone stated).
  A cell formatted as a percentage holds the ratio itself (0.25 shown as 25%).
- Blank cells are not stated (never zero). A column the model does not know is refused, with a
  "did you mean", in every row that puts a value in it.
- Formulas are never evaluated: a formula cell counts by the value Excel cached when it last
  calculated the workbook; a formula with no cached value is an error at its cell.
- Only the first sheet of a workbook holds issuers (the template's second sheet describes the columns).
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import functools
import hashlib
import io
import json
import os
import re
import types
import typing
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from pydantic import BaseModel

from ..common.bundled import bundled_dir, expected_place
from ..common.errors import CaseError, InputError, Problem
from .amounts import AmountOf
from .case import _CURRENCIES, Attestation, Case, Evidence, FinancialPeriod, ForeignParValue, Stage
from .casefacts import INPUT_FACTS
from .caseload import LoadedCase, _validate
from .units import UNITS, Dim, Quantity, decimal_text, normalize_text
from .yamlsource import Document, Path_, SourceMap, dotted

SHEET_SUFFIXES = (".xlsx", ".csv")
MAX_SHEET_BYTES = 64 * 1024 * 1024
MAX_DIGITS = 15  # significant digits Excel keeps of a typed number
FIXED_TIME = dt.datetime(2000, 1, 1)  # workbook timestamps: the same bytes on every run

# ---------------------------------------------------------------------------------
# Columns, from the case model


@dataclass(frozen=True)
class Column:
    """One column (or, with a `{period}` / `{attestation}` in its name, one family of columns).

    `path` is where its value goes in the case dict; `kind` how a cell is read: amount, bool,
    date, text, lines (one item a line), evidence (one `document | page | note` a line)."""

    name: str
    path: tuple[str, ...]
    kind: str
    description: str = ""
    dim: Dim | None = None
    unit: str = ""  # the unit the template writes in the header
    count: bool = False
    required: str = ""  # "yes", or when it is: "with its period", "with its judgment", "with price_range"
    fact: str | None = None  # the rule-expression name it provides (INPUT_FACTS or an attestation)
    choices: tuple[str, ...] = ()
    default: Any = None  # the model's value when the cell is blank (a flag's False): written blank
    unit_note: str = ""  # the model's example (e.g. '1,200万股 or 281.6366万份')

    def header(self, key: str = "") -> str:
        name = self.name.replace("{period}", key).replace("{attestation}", key)
        return f"{name} [{self.unit}]" if self.unit else name


def _amount_of(annotation: Any, metadata: Iterable[Any] = ()) -> AmountOf | None:
    for item in list(metadata) + list(getattr(annotation, "__metadata__", ())):
        if isinstance(item, AmountOf):
            return item
    for arg in typing.get_args(annotation):
        found = _amount_of(arg)
        if found is not None:
            return found
    return None


def _plain(annotation: Any) -> set[Any]:
    """The non-None types of an annotation (`bool | None` → {bool})."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {a for a in args if a is not type(None)}
    return {annotation}


def _unit_of(example: str) -> str:
    """The unit of an example such as '1,200万股' (of its first amount, for '1,200万股 or 281.6366万份')."""
    match = re.match(r"^[+-]?[\d,.]*(\S*)", example)
    return match.group(1) if match else ""


def _leaf(name: str, path: tuple[str, ...], info: Any, fact: str | None, within: str | None = "yes") -> Column:
    """`within`: what the field is required within ("yes": the case itself; None: optional there)."""
    description = info.description or ""
    required = (within or "") if info.is_required() else ""
    default = None if info.is_required() else info.default
    amount = _amount_of(info.annotation, info.metadata)
    if amount is not None:
        return Column(name, path, "amount", description, amount.dim, _unit_of(amount.example), amount.count,
                      required, fact, unit_note=amount.example)
    types = _plain(info.annotation)
    if types == {bool}:
        return Column(name, path, "bool", description, required=required, fact=fact, choices=("yes", "no"),
                      default=default)
    if types == {dt.date}:
        return Column(name, path, "date", description, required=required, fact=fact)
    if len(types) == 1 and isinstance(next(iter(types)), type) and issubclass(next(iter(types)), Stage):
        return Column(name, path, "text", description, required=required, fact=fact,
                      choices=tuple(s.value for s in Stage))
    if types == {list[str]}:
        return Column(name, path, "lines", description + " (one a line)", required=required, fact=fact)
    if types == {list[Evidence]}:
        return Column(name, path, "evidence", "Evidence, one a line: document | page | note", required=required)
    if types <= {str, int}:
        return Column(name, path, "text", description, required=required, fact=fact)
    raise TypeError(f"no spreadsheet column for case field {dotted(path)} ({info.annotation})")


def _model_columns(model: type[BaseModel], path: tuple[str, ...], within: str | None = "yes") -> list[Column]:
    out: list[Column] = []
    for name, info in model.model_fields.items():
        here = path + (name,)
        types = _plain(info.annotation)
        sub = next((t for t in types if isinstance(t, type) and issubclass(t, BaseModel)), None)
        if _amount_of(info.annotation, info.metadata) is not None:
            sub = None  # an amount (a par value may also be a foreign-currency model): one column
        if name == "units" and not path:
            continue  # a header states its unit: nothing to declare for the file
        if name == "financials" and not path:
            out += _period_columns()
        elif name == "attestations" and not path:
            out += _attestation_columns()
        elif sub is not None:
            out += _model_columns(sub, here, within if info.is_required() else f"with {name}")
        else:
            name, _, fact = _column_name(here)
            out.append(_leaf(name, here, info, fact, within))
    return out


def _column_name(path: tuple[str, ...]) -> tuple[str, tuple[str, ...], str | None]:  # noqa: D401
    """A leaf's column: the fact name it provides (`evaluation_date`, `price_range_low`, `stage`),
    else the field's name qualified by its section (`issuer_name`)."""
    parent, leaf = (path[-2] if len(path) > 1 else ""), path[-1]
    for candidate in (f"{parent}_{leaf}" if parent else leaf, leaf):
        if candidate in INPUT_FACTS:
            return candidate, path, candidate
    return (f"{parent}_{leaf}" if parent else leaf), path, None


def _period_columns() -> list[Column]:
    out = []
    for name, info in FinancialPeriod.model_fields.items():
        if name == "period":
            continue
        column = _leaf(f"{name}_{{period}}", ("financials", "{period}", name), info,
                       name if name in INPUT_FACTS else None, "with its period")
        out.append(column)
    return out


def _attestation_columns() -> list[Column]:
    out = []
    for name, info in Attestation.model_fields.items():
        column_name = "{attestation}" if name == "holds" else f"{{attestation}}_{name}"
        out.append(_leaf(column_name, ("attestations", "{attestation}", name), info, None, "with its judgment"))
    return out


COLUMNS: tuple[Column, ...] = tuple(_model_columns(Case, ()))
SCALAR_COLUMNS = {c.name: c for c in COLUMNS if "{" not in c.name}
PERIOD_COLUMNS = tuple(c for c in COLUMNS if "{period}" in c.name)
ATTESTATION_COLUMNS = tuple(c for c in COLUMNS if "{attestation}" in c.name)


@dataclass(frozen=True)
class Vocabulary:
    """What the rulebook adds to the columns: the attested judgments a case may state (name → title),
    the standard labels a case may choose, and the rules that read each fact."""

    attestations: Mapping[str, str] = field(default_factory=dict)
    standards: tuple[str, ...] = ()
    readers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------
# Headers


@dataclass(frozen=True)
class Bound:
    """A header cell bound to its column: the period or judgment it is for, and the header's unit."""

    column: Column
    key: str
    unit: str
    path: tuple[str, ...]


_HEADER = re.compile(r"^(?P<name>[^\[\]]*?)\s*(?:\[(?P<unit>[^\[\]]*)\])?$")
_PERIOD_TAIL = re.compile(r"_(\d{4}\w*)$")


@functools.lru_cache(maxsize=8192)  # every row of a sheet has the same header
def _bind(text: str, attestations: tuple[str, ...]) -> Bound | str:
    return bind_header(text, attestations)


def bind_header(text: str, attestations: Iterable[str]) -> Bound | str:
    """The column a header names, or why it names none (a message)."""
    match = _HEADER.match(normalize_text(text))
    if not match or not match.group("name"):
        return f"'{text}' is not a column header such as new_shares [万股]"
    name, unit = match.group("name"), normalize_text(match.group("unit") or "")
    attestations = set(attestations)
    found: tuple[Column, str] | None = None
    if name in SCALAR_COLUMNS:
        found = (SCALAR_COLUMNS[name], "")
    else:
        for column in sorted(PERIOD_COLUMNS, key=lambda c: -len(c.name)):
            prefix = column.name.replace("{period}", "")
            rest = name[len(prefix):]
            if name.startswith(prefix) and rest[:1].isdigit():
                found = (column, rest)
                break
        for column in ATTESTATION_COLUMNS:
            suffix = column.name.replace("{attestation}", "")
            base = name[:len(name) - len(suffix)] if suffix else name
            if found is None and (not suffix or name.endswith(suffix)) and base in attestations:
                found = (column, base)
    if found is None:
        return _unknown(name, attestations)
    column, key = found
    if unit and column.kind != "amount":
        return f"column '{name}' takes no unit, but its header says [{unit}]"
    if unit:
        symbol = "元/股" if unit == "元" and column.dim == Dim(1, -1) else unit
        if symbol not in UNITS or UNITS[symbol].dim != column.dim:
            return f"the header of '{name}' gives the unit [{unit}], which is not a unit of {column.dim.name}"
        unit = symbol
    path = tuple(key if part in ("{period}", "{attestation}") else part for part in column.path)
    return Bound(column, key, unit, path)


def _unknown(name: str, attestations: set[str]) -> str:
    known = list(SCALAR_COLUMNS) + [c.name.replace("{attestation}", a) for c in ATTESTATION_COLUMNS
                                    for a in sorted(attestations)]
    period = _PERIOD_TAIL.search(name)
    known += [c.name.replace("{period}", period.group(1) if period else "2019") for c in PERIOD_COLUMNS]
    guess = difflib.get_close_matches(name, known, n=1)
    return f"unknown column '{name}'" + (f"; did you mean '{guess[0]}'?" if guess else "")


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


# ---------------------------------------------------------------------------------
# One row → a validated case


class SheetSource(SourceMap):
    """A source map whose places are cells: problems read `issuers.xlsx:issuers!D7`."""

    def __init__(self, file: str, sheet: str, row: int, columns: dict[Path_, tuple[int, str]]):
        super().__init__(file)
        self.sheet, self.row, self.columns = sheet, row, columns

    def problem(self, path: Path_, message: str, expected: str | None = None,
                rule_id: str | None = None, kind: str = "rule") -> Problem:
        path = tuple(path)
        while path and path not in self.columns:
            path = path[:-1]
        index, header = self.columns.get(path, (1, dotted(path) or ""))
        return Problem(message=message, file=self.file, line=self.row, column=index, field=header or None,
                       expected=expected, rule_id=rule_id, kind=kind,
                       cell=f"{self.sheet}!{column_letter(index)}{self.row}")


def column_letter(index: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


@dataclass(frozen=True)
class SheetRow:
    """One issuer's row, as read (the header and its cells); `load()` builds and validates its case.

    Picklable, so rows can be evaluated in worker processes like case files."""

    file: str
    sheet: str
    row: int
    header: tuple[str, ...]
    cells: tuple[Cell, ...]
    problem: str | None = None  # the whole sheet could not be read

    @property
    def label(self) -> str:
        return f"{self.file}:{self.sheet}!A{self.row}"

    def __str__(self) -> str:
        return self.label

    @property
    def sha256(self) -> str:
        data = json.dumps([self.header, [(c.value, c.percent, c.formula_without_value) for c in self.cells],
                           self.problem], default=str, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def build(self, attestations: Iterable[str]) -> tuple[dict[str, Any], SheetSource]:
        """The case dict a YAML file would hold, and where each value came from."""
        if self.problem:
            raise InputError([Problem(self.problem, file=self.file)])
        attestations = tuple(attestations)
        data: dict[str, Any] = {}
        places: dict[Path_, tuple[int, str]] = {}
        problems: list[Problem] = []
        period_places: dict[str, dict[str, tuple[int, str]]] = {}  # period → field → (column, header)
        period_values: dict[str, dict[str, Any]] = {}  # only the periods this row states a value for
        source = SheetSource(self.file, self.sheet, self.row, places)
        for index, (text, cell) in enumerate(zip(self.header, self.cells), start=1):
            stated = cell.value not in (None, "") or cell.formula_without_value
            if text is None or str(text).strip() == "":
                if stated:
                    problems.append(_cell_problem(self, index, "", "a value under a column with no header"))
                continue
            place = (index, str(text))
            bound = _bind(str(text), attestations)
            if isinstance(bound, str):
                if stated:
                    problems.append(_cell_problem(self, index, str(text), bound))
                continue
            try:
                value = cell_value(bound, cell)
            except CellError as error:
                problems.append(_cell_problem(self, index, str(text), str(error)))
                continue
            if bound.path[0] == "financials":
                period_places.setdefault(bound.key, {})[bound.path[2]] = place
                if value is not None:
                    period_values.setdefault(bound.key, {})[bound.path[2]] = value
                continue
            for depth in range(1, len(bound.path)):  # a problem with a judgment as a whole: its first column
                places.setdefault(bound.path[:depth], place)
            places[bound.path] = place
            if value is not None:
                target = data
                for part in bound.path[:-1]:
                    target = target.setdefault(part, {})
                target[bound.path[-1]] = value
        for slot, (period, values) in enumerate(period_values.items()):
            data.setdefault("financials", []).append({"period": period, **values})
            cells = period_places[period]
            places[("financials", slot)] = places[("financials", slot, "period")] = next(iter(cells.values()))
            for name, place in cells.items():
                places[("financials", slot, name)] = place
        if problems:
            raise CaseError(problems)
        for column in SCALAR_COLUMNS.values():  # a required column absent from the sheet: place it on the row
            places.setdefault(column.path, (1, column.header()))
        return data, source

    def load(self, attestations: Iterable[str]) -> LoadedCase:
        """The validated case of this row (`CaseError` with every problem at its cell)."""
        data, source = self.build(attestations)
        default_id = f"{Path(self.file).stem}-row{self.row}"
        return _validate(Document(data, source), default_id=default_id, digest=self.sha256)


def _cell_problem(row: SheetRow, index: int, header: str, message: str) -> Problem:
    return Problem(message=message, file=row.file, line=row.row, column=index, field=header or None,
                   cell=f"{row.sheet}!{column_letter(index)}{row.row}")


# ---------------------------------------------------------------------------------
# Reading a sheet


def read_sheet(path: str | Path) -> list[SheetRow]:
    """The issuer rows of a workbook's first sheet or of a CSV file (a row of blanks is skipped).
    A file that cannot be read at all is one row carrying the problem."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_SHEET_BYTES:
            raise CellError(f"file is larger than {MAX_SHEET_BYTES // (1024 * 1024)} MiB")
        sheet, rows = _read_csv(path) if path.suffix.lower() == ".csv" else _read_xlsx(path)
    except (CellError, OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        if isinstance(error, UnicodeDecodeError):
            reason = "not UTF-8 text (save the CSV as UTF-8)"
        elif isinstance(error, (zipfile.BadZipFile, KeyError)):
            reason = f"not an .xlsx workbook ({reason})"
        return [SheetRow(str(path), path.stem, 1, (), (), problem=f"cannot read the sheet: {reason}")]
    if not rows:
        return []
    header = tuple("" if c.value is None else str(c.value) for c in rows[0][1])
    out = []
    for number, cells in rows[1:]:
        if all(c.value in (None, "") and not c.formula_without_value for c in cells):
            continue
        width = max(len(header), len(cells))
        out.append(SheetRow(str(path), sheet, number, header + ("",) * (width - len(header)),
                            tuple(cells) + (Cell(None),) * (width - len(cells))))
    return out


def _read_csv(path: Path) -> tuple[str, list[tuple[int, list[Cell]]]]:
    text = path.read_bytes().decode("utf-8-sig")
    rows = [(n, [Cell(v) for v in values]) for n, values in enumerate(csv.reader(io.StringIO(text, newline="")), 1)]
    return path.stem, rows  # a spreadsheet program names a CSV's sheet after the file


def _read_xlsx(path: Path) -> tuple[str, list[tuple[int, list[Cell]]]]:
    import openpyxl

    def rows_of(data_only: bool) -> tuple[str, list[tuple[int, list[Any]]]]:
        book = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        try:
            sheet = book.worksheets[0]
            sheet.reset_dimensions()  # a writer's stated dimensions may be wrong: read every cell there is
            return sheet.title, [(number, list(row)) for number, row in enumerate(sheet.iter_rows(), start=1)]
        finally:
            book.close()

    title, raw = rows_of(data_only=False)
    formulas = {(n, i) for n, row in raw for i, c in enumerate(row) if getattr(c, "data_type", None) == "f"}
    cached = dict(rows_of(data_only=True)[1]) if formulas else {}
    rows = []
    for number, row in raw:
        cells = []
        for index, cell in enumerate(row):
            value, percent = getattr(cell, "value", None), "%" in str(getattr(cell, "number_format", "") or "")
            if (number, index) in formulas:
                cached_cell = cached[number][index] if index < len(cached.get(number, ())) else None
                value = getattr(cached_cell, "value", None)
                cells.append(Cell(value, percent, formula_without_value=value is None))
            else:
                cells.append(Cell(value, percent))
        rows.append((number, cells))
    return title, rows


def is_sheet(path: Path) -> bool:
    return path.suffix.lower() in SHEET_SUFFIXES


# ---------------------------------------------------------------------------------
# A case → a row (convert, the template's example, the bundled issuers sheet)


def case_headers(cases: Iterable[Case], vocabulary: Vocabulary) -> list[tuple[Column, str]]:
    """The columns a sheet of these cases needs, in model order: every scalar column, the periods
    the cases state (sorted), and every judgment of the rulebook."""
    periods = sorted({str(p.period) for case in cases for p in case.financials})
    out: list[tuple[Column, str]] = []
    for column in COLUMNS:
        if "{period}" in column.name:
            continue
        if "{attestation}" in column.name:
            continue
        out.append((column, ""))
    for period in periods:
        out += [(column, period) for column in PERIOD_COLUMNS]
    for name in vocabulary.attestations:
        out += [(column, name) for column in ATTESTATION_COLUMNS]
    return out


def case_cells(case: Case, headers: list[tuple[Column, str]], numbers: bool) -> list[Any]:
    """The row of `case` under `headers`: amounts in each header's unit (numbers when `numbers` and
    exact within 15 digits, else text with the unit), yes/no, dates, one item a line.
    ValueError when a value cannot be written so that it reads back the same."""
    periods = {str(p.period): p for p in case.financials}
    out: list[Any] = []
    for column, key in headers:
        if column.path[0] == "financials":
            period = periods.get(key)
            value = getattr(period, column.path[2]) if period is not None else None
        elif column.path[0] == "attestations":
            attestation = case.attestations.get(key)
            value = getattr(attestation, column.path[2]) if attestation is not None else None
        else:
            value: Any = case
            for part in column.path:
                value = getattr(value, part, None) if value is not None else None
        cdr = getattr(case.offering, "depositary_receipts", None)
        if (cdr is not None and isinstance(value, Quantity) and value.dim == Dim(0, 1)
                and value.value.denominator != 1 and "份" in column.unit_note):
            out.append(f"{decimal_text(value.value * cdr.ratio, 12, group=False)}份")  # as stated: in 份
            continue
        out.append(_written(column, value, numbers))
    return out


def _written(column: Column, value: Any, numbers: bool) -> Any:
    if value is None or value == [] or (column.default is not None and value == column.default):
        return None
    if isinstance(value, Quantity):
        unit = column.unit
        text = decimal_text(Fraction(value.in_unit(unit) if unit else value.value), 12, group=False)
        if text.startswith("≈"):
            raise ValueError(f"{column.name}: {value} is not an exact decimal in {unit or 'a plain number'}")
        number = Decimal(text)
        if numbers and len(number.as_tuple().digits) <= MAX_DIGITS:
            return int(number) if number == number.to_integral_value() else float(number)
        return text  # more digits than a numeric cell keeps exactly: text, read in the header's unit
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, ForeignParValue):  # kept as stated: the text the case file would hold
        return f"{value.amount:f}{next(s for s, c in _CURRENCIES.items() if c == value.currency and s[-1] == '元')}"
    if isinstance(value, Stage):
        return value.value
    if isinstance(value, dt.date):
        return value if numbers else value.isoformat()
    if column.kind == "lines":
        for line in value:
            _check_text(column, line)
        return "\n".join(value)
    if column.kind == "evidence":
        lines = []
        for evidence in value:
            parts = ["" if getattr(evidence, n) is None else str(getattr(evidence, n)) for n in Evidence.model_fields]
            for part in parts:
                _check_text(column, part, bar=True)
            lines.append(" | ".join(parts).rstrip(" |"))
        return "\n".join(lines)
    _check_text(column, str(value))
    return str(value)


def _check_text(column: Column, text: str, bar: bool = False) -> None:
    if "\n" in text or "\r" in text or (bar and "|" in text) or text != text.strip():
        raise ValueError(f"{column.name}: '{text}' cannot be written to a cell so that it reads back the same "
                         "(a line break, a '|' in evidence, or spaces at either end)")


# ---------------------------------------------------------------------------------
# Writing sheets: the template, a converted folder


def write_sheet(path: Path, headers: list[tuple[Column, str]], rows: list[list[Any]], vocabulary: Vocabulary,
                reference: bool = False) -> None:
    """An issuers sheet at `path` (.xlsx or .csv), atomically. A workbook gets data validation on the
    stage, standard and yes/no columns, a frozen header, and with `reference` a second sheet
    describing every column."""
    titles = [column.header(key) for column, key in headers]
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(titles)
        for row in rows:
            writer.writerow(["" if v is None else v.isoformat() if isinstance(v, dt.date) else
                             _number_text(exact_number(v)) if isinstance(v, float) else v for v in row])
        write_bytes_atomically(path, buffer.getvalue().encode("utf-8"))
        return
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "issuers"
    sheet.append(titles)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for number, row in enumerate(rows, start=2):  # (max_row rescans every cell: quadratic)
        for index, value in enumerate(row, start=1):
            cell = sheet.cell(number, index)
            set_value(cell, value)
            if isinstance(value, str) and "\n" in value:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            elif isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    lists: dict[str, list[str]] = {}
    for index, (column, key) in enumerate(headers, start=1):
        choices = vocabulary.standards if column.name == "chosen_standard" else column.choices
        if choices:
            letter = column_letter(index)
            lists.setdefault(",".join(choices), []).append(f"{letter}2:{letter}1048576")
        sheet.column_dimensions[column_letter(index)].width = min(max(len(column.header(key)) + 2, 12), 40)
    for choices, ranges in sorted(lists.items()):
        validation = DataValidation(type="list", formula1=f'"{choices}"', allow_blank=True,
                                    error=f"one of {choices}", errorTitle="not a choice", showErrorMessage=True)
        validation.sqref = " ".join(ranges)  # type: ignore[assignment]
        sheet.add_data_validation(validation)
    if reference:
        columns = book.create_sheet("columns")
        columns.append(list(REFERENCE_HEADER))
        for cell in columns[1]:
            cell.font = Font(bold=True)
        for number, line in enumerate(column_reference(vocabulary), start=2):
            for index, value in enumerate(line, start=1):
                set_value(columns.cell(number, index), value)
        for letter, width in zip("ABCDE", (40, 70, 10, 10, 60)):
            columns.column_dimensions[letter].width = width
        columns.freeze_panes = "A2"
    save_workbook(book, path)


def set_value(cell: Any, value: Any) -> None:
    """Put `value` in an openpyxl cell; text is always text (a leading '=' never becomes a formula)."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def save_workbook(book: Any, path: Path) -> None:
    """Save a workbook atomically, byte-identical for the same content (see `workbook_bytes`)."""
    write_bytes_atomically(path, workbook_bytes(book))


def workbook_bytes(book: Any) -> bytes:
    """The .xlsx bytes of a workbook, the same for the same content: its created and modified times
    are fixed, and every zip entry gets a fixed date."""
    book.properties.created = FIXED_TIME
    book.properties.creator = "check-listing"
    buffer = io.BytesIO()
    book.save(buffer)
    return canonical_zip(buffer.getvalue())


_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")


def canonical_zip(data: bytes) -> bytes:
    """The same zip with fixed entry dates and the workbook's modified time fixed."""
    out = io.BytesIO()
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(rb"\g<1>" + stamp + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            target.writestr(entry, content)
    return out.getvalue()


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Whole or not at all: a temporary file beside the target, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------
# The column reference (the template's second sheet and the README's table)

REFERENCE_HEADER = ("column", "meaning", "unit", "required", "read by rules")
_KIND_NOTE = {"bool": "yes / no", "date": "date (2020-09-04)", "lines": "text, one item a line",
              "evidence": "document | page | note, one a line", "text": "text"}


def column_reference(vocabulary: Vocabulary) -> list[tuple[str, str, str, str, str]]:
    """One line per column (families once, with `<period>` / `<judgment>`), from the model."""
    out = []
    for column in COLUMNS:
        name = column.name.replace("{period}", "<period>").replace("{attestation}", "<judgment>")
        meaning = column.description or column.name
        if "{period}" in column.name:
            meaning += "; one column a fiscal year (2019) or interim period (2020H1, 2020Q3, 2020M1-9)"
        if "{attestation}" in column.name:
            meaning = {"holds": "The judgment holds (yes) or not (no)", "attested_by": meaning,
                       "evidence": meaning}.get(column.path[-1], meaning)
        if column.choices or column.name == "chosen_standard":
            choices = vocabulary.standards if column.name == "chosen_standard" else column.choices
            if choices and column.kind != "bool":
                meaning += f" — one of {', '.join(choices)}"
        unit = (f"[{column.unit}]" if column.unit else "count" if column.count else "ratio") \
            if column.kind == "amount" else _KIND_NOTE[column.kind]
        fact = column.fact or (column.path[-1] if column.path[0] == "financials" else None)
        readers = ", ".join(vocabulary.readers.get(fact, ())) if fact else ""
        if "{attestation}" in column.name and column.path[-1] == "holds":
            readers = "the rules that read the judgment (below)"
        out.append((f"{name} [{column.unit}]" if column.unit else name, meaning, unit,
                    column.required, readers))
    for name, title in vocabulary.attestations.items():
        out.append((name, f"Judgment: {title}", "yes / no", "", ", ".join(vocabulary.readers.get(name, ()))))
    return out


def reference_markdown(vocabulary: Vocabulary) -> str:
    """The column reference as a Markdown table (the README's)."""
    lines = ["| " + " | ".join(REFERENCE_HEADER) + " |", "|" + "---|" * len(REFERENCE_HEADER)]
    for line in column_reference(vocabulary):
        lines.append("| " + " | ".join(f"`{part}`" if i == 0 else part.replace("|", "\\|")
                                         for i, part in enumerate(line)) + " |")
    return "\n".join(lines) + "\n"


def sheet_rows_of_cases(cases: list[Case], vocabulary: Vocabulary, numbers: bool
                        ) -> tuple[list[tuple[Column, str]], list[list[Any]]]:
    headers = case_headers(cases, vocabulary)
    return headers, [case_cells(case, headers, numbers) for case in cases]


# ---------------------------------------------------------------------------------
# The template and `convert`


def bundled_example() -> Path:
    """QingCloud's filing (the template's example row): `engine/bundled_cases` in a wheel, `cases/` in a checkout."""
    found = bundled_dir("cases", "qingcloud-filing.yaml")
    if found is None:
        raise InputError([Problem("the bundled example case is missing", file=expected_place("cases"))])
    return found / "qingcloud-filing.yaml"


def write_template(path: Path, example: Case, vocabulary: Vocabulary) -> None:
    """An issuers sheet with the header row and `example` as its one row; a workbook also gets the
    data validations and the column reference sheet."""
    cases_to_sheet([example], path, vocabulary)


def cases_to_sheet(cases: list[Case], path: Path, vocabulary: Vocabulary) -> None:
    """Validated cases → one sheet (.xlsx with the column reference, or .csv), one row each."""
    workbook = path.suffix.lower() == ".xlsx"
    try:
        headers, rows = sheet_rows_of_cases(cases, vocabulary, numbers=workbook)
    except ValueError as error:
        raise InputError([Problem(str(error), file=str(path))]) from None
    write_sheet(path, headers, rows, vocabulary, reference=workbook)


def sheet_to_cases(path: Path, folder: Path, vocabulary: Vocabulary) -> list[Path]:
    """Every row of a sheet → a case file `<case_id>.yaml` in `folder`, holding what the row states
    (amounts with their units). Nothing is written unless every row is a valid case."""
    import yaml

    problems: list[Problem] = []
    documents: dict[str, tuple[SheetRow, dict[str, Any]]] = {}
    for row in read_sheet(path):
        try:
            data, _ = row.build(vocabulary.attestations)
            loaded = row.load(vocabulary.attestations)
        except InputError as error:
            problems += error.problems
            continue
        name = re.sub(r"[^\w.-]+", "_", loaded.case_id).strip("._") or f"row{row.row}"
        if name in documents:
            problems.append(_cell_problem(row, 1, "case_id", f"case '{loaded.case_id}' is also in row "
                                                             f"{documents[name][0].row}: case ids must differ"))
        documents[name] = (row, data)
    if problems:
        raise CaseError(problems)
    written = []
    for name, (row, data) in documents.items():
        text = yaml.safe_dump(_yaml_ready(case_document(data)), allow_unicode=True, sort_keys=False, width=120)
        target = folder / f"{name}.yaml"
        write_bytes_atomically(target, (f"# from {Path(row.file).name}, {row.sheet} row {row.row} "
                                        f"(check-listing convert)\n" + text).encode("utf-8"))
        written.append(target)
    return written


def _yaml_ready(value: Any) -> Any:
    """Plain YAML values: a bare decimal (a ratio or count) as its text, which reads back the same."""
    if isinstance(value, dict):
        return {k: _yaml_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_ready(v) for v in value]
    if isinstance(value, Decimal):
        return f"{value:f}"
    return value


def case_document(data: dict[str, Any]) -> dict[str, Any]:
    """A built row's dict in the case-file order of `Case` (for writing YAML)."""
    order = list(Case.model_fields)
    return {key: data[key] for key in sorted(data, key=lambda k: order.index(k) if k in order else len(order))}
