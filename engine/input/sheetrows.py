"""Issuers as rows of a spreadsheet (.xlsx or .csv): reading a sheet's rows, and one row into a case.

A row becomes the same plain dict a case file's YAML would give, validated by the same model, with
a source map that places every problem at its cell (`issuers!D7`), so every rule of the case format
holds by construction. A column the model does not know is refused, with a "did you mean", in every
row that puts a value in it. How a cell's value is read is `sheetcells`'; how a workbook's
cells are read, `sheetxlsx`'.

A workbook's issuers are on its sheet named `issuers` (the template's), else on its first sheet.
Another sheet whose header row names issuer columns is an error row of its own, not silently
left out; other sheets (the template's column reference) are not read.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..common.errors import CaseError, InputError, Problem
from .caseload import LoadedCase, _validate
from .sheetcells import Cell, CellError, cell_value
from .sheetcolumns import SCALAR_COLUMNS, Bound, bind_header, column_letter
from .sheetxlsx import ISSUERS_SHEET, Rows, read_xlsx
from .yamlsource import Document, Path_, SourceMap, dotted

SHEET_SUFFIXES = (".xlsx", ".csv")
MAX_SHEET_BYTES = 64 * 1024 * 1024

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



@dataclass(frozen=True)
class SheetRow:
    """One issuer's row, as read (the header and its cells); `load()` builds and validates its case.

    Picklable, so rows can be evaluated in worker processes like case files."""

    file: str
    sheet: str
    row: int
    header: tuple[str, ...]
    values: tuple[Any, ...]  # from column A, None for a blank: plain values, cheap to send to a worker
    # column → the cell, for the few with more to tell: a percent format, a formula with no cached value
    marked: Mapping[int, Cell] = field(default_factory=dict, hash=False)
    problem: str | None = None  # the whole sheet could not be read

    @property
    def cells(self) -> tuple[Cell, ...]:
        return tuple(self.marked.get(index) or Cell(value) for index, value in enumerate(self.values, start=1))

    @property
    def label(self) -> str:
        return f"{self.file}:{self.sheet}!A{self.row}"

    def __str__(self) -> str:
        return self.label

    @functools.cached_property  # asked for by the row's case and by its stored row
    def sha256(self) -> str:
        data = json.dumps([self.header, self.values, sorted((i, c.percent, c.formula_without_value)
                                                            for i, c in self.marked.items()), self.problem],
                          default=str, ensure_ascii=False)
        return hashlib.sha256(data.encode("utf-8")).hexdigest()

    def build(self, attestations: Iterable[str]) -> tuple[dict[str, Any], SheetSource]:
        """The case dict a YAML file would hold, and where each value came from."""
        if self.problem:
            raise InputError([Problem(self.problem, file=self.file)])
        layout = _layout(self.header, tuple(attestations))
        data: dict[str, Any] = {}
        problems: list[Problem] = []
        period_values: dict[str, dict[str, Any]] = {}  # only the periods this row states a value for
        for index, (bound, value) in enumerate(zip(layout.bounds, self.values), start=1):
            cell = self.marked.get(index)
            if cell is None:
                if value is None or value == "":
                    continue  # not stated (the layout places it, should a required field be missing)
                cell = Cell(value)
            elif cell.value in (None, "") and not cell.formula_without_value:
                continue
            if bound is None or isinstance(bound, str):
                problems.append(_cell_problem(self, index, self.header[index - 1],
                                              bound or "a value under a column with no header"))
                continue
            try:
                value = cell_value(bound, cell)
            except CellError as error:
                problems.append(_cell_problem(self, index, self.header[index - 1], str(error)))
                continue
            if value is None:
                continue
            if bound.path[0] == "financials":
                period_values.setdefault(bound.key, {})[bound.path[2]] = value
                continue
            target = data
            for part in bound.path[:-1]:
                target = target.setdefault(part, {})
            target[bound.path[-1]] = value
        if problems:
            raise CaseError(problems)
        places = dict(layout.places)
        for slot, (period, values) in enumerate(period_values.items()):
            data.setdefault("financials", []).append({"period": period, **values})
            cells = layout.period_places[period]
            places[("financials", slot)] = places[("financials", slot, "period")] = next(iter(cells.values()))
            for name, place in cells.items():
                places[("financials", slot, name)] = place
        return data, SheetSource(self.file, self.sheet, self.row, places)

    def load(self, attestations: Iterable[str]) -> LoadedCase:
        """The validated case of this row (`CaseError` with every problem at its cell)."""
        data, source = self.build(attestations)
        default_id = f"{Path(self.file).stem}-row{self.row}"
        return _validate(Document(data, source), default_id=default_id, digest=self.sha256)


@dataclass(frozen=True)
class _Layout:
    """What a header row tells of every row under it: each column's binding (a Bound, the reason
    its header names no column, or None for no header), and the cell where each case field is."""

    bounds: tuple[Bound | str | None, ...]
    places: dict[Path_, tuple[int, str]]  # every field but a period's (whose place depends on the row)
    period_places: dict[str, dict[str, tuple[int, str]]]  # period → field → (column, header)


@functools.lru_cache(maxsize=64)  # every row of a sheet has the same header: bound once, not once a row
def _layout(header: tuple[str, ...], attestations: tuple[str, ...]) -> _Layout:
    bounds: list[Bound | str | None] = []
    places: dict[Path_, tuple[int, str]] = {}
    period_places: dict[str, dict[str, tuple[int, str]]] = {}
    for index, text in enumerate(header, start=1):
        if text is None or str(text).strip() == "":
            bounds.append(None)
            continue
        place = (index, str(text))
        bound = bind_header(str(text), attestations)
        bounds.append(bound)
        if isinstance(bound, str):
            continue
        if bound.path[0] == "financials":
            period_places.setdefault(bound.key, {})[bound.path[2]] = place
            continue
        for depth in range(1, len(bound.path)):  # a problem with a judgment as a whole: its first column
            places.setdefault(bound.path[:depth], place)
        places[bound.path] = place
    for column in SCALAR_COLUMNS.values():  # a required column absent from the sheet: place it on the row
        places.setdefault(column.path, (1, column.header()))
    return _Layout(tuple(bounds), places, period_places)


def _cell_problem(row: SheetRow, index: int, header: str, message: str) -> Problem:
    return Problem(message=message, file=row.file, line=row.row, column=index, field=header or None,
                   cell=f"{row.sheet}!{column_letter(index)}{row.row}")


# ---------------------------------------------------------------------------------
# Reading a sheet


def read_sheet(path: str | Path) -> list[SheetRow]:
    """The issuer rows of a workbook's issuers sheet (named `issuers`, else its first) or of a CSV
    file (a row of blanks is skipped). A file that cannot be read at all is one row carrying the
    problem; so is each other sheet of the workbook whose header row names issuer columns, since
    its rows are not read (never silently left out)."""
    path = Path(path)
    others: dict[str, list[Any]] = {}
    try:
        if path.stat().st_size > MAX_SHEET_BYTES:
            raise CellError(f"file is larger than {MAX_SHEET_BYTES // (1024 * 1024)} MiB")
        if path.suffix.lower() == ".csv":
            sheet, rows = _read_csv(path)
        else:
            sheet, rows, others = read_xlsx(path)
    except (CellError, OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        if isinstance(error, UnicodeDecodeError):
            reason = "not UTF-8 text (save the CSV as UTF-8)"
        elif isinstance(error, (zipfile.BadZipFile, KeyError)):
            reason = f"not an .xlsx workbook ({reason})"
        return [SheetRow(str(path), path.stem, 1, (), (), problem=f"cannot read the sheet: {reason}")]
    out = [SheetRow(str(path), name, 1, (), (), problem=f"sheet '{name}' has issuer columns too, but only sheet "
                    f"'{sheet}' is read (the sheet named '{ISSUERS_SHEET}', else the first): move its rows there "
                    "or to a workbook of their own")
           for name, first in others.items() if _names_columns(first)]
    if not rows:
        return out
    header = tuple("" if value is None else str(value) for value in rows[0][1])
    for number, values, marked in rows[1:]:
        if not any(value is not None and value != "" for value in values) and \
                not any(c.formula_without_value for c in marked.values()):
            continue
        width = max(len(header), len(values))
        out.append(SheetRow(str(path), sheet, number, header + ("",) * (width - len(header)),
                            tuple(values) + (None,) * (width - len(values)), marked))
    return out


def _names_columns(header: list[Any]) -> bool:
    """Whether a header row names a column of the issuers sheet (judgments aside: their names
    come from the rulebook)."""
    return any(isinstance(bind_header(str(value), ()), Bound) for value in header if value not in (None, ""))


def _read_csv(path: Path) -> tuple[str, Rows]:
    text = path.read_bytes().decode("utf-8-sig")
    rows: Rows = [(n, [v or None for v in values], {})
                  for n, values in enumerate(csv.reader(io.StringIO(text, newline="")), 1)]
    return path.stem, rows  # a spreadsheet program names a CSV's sheet after the file


def is_sheet(path: Path) -> bool:
    return path.suffix.lower() in SHEET_SUFFIXES
