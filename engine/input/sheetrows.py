"""Issuers as rows of a spreadsheet (.xlsx or .csv): reading a sheet's rows, and one row into a case.

A row becomes the same plain dict a case file's YAML would give, validated by the same model, with
a source map that places every problem at its cell (`issuers!D7`), so every rule of the case format
holds by construction. A column the model does not know is refused, with a "did you mean", in every
row that puts a value in it. How a cell's value is read is `sheetcells`'.

Only the first sheet of a workbook holds issuers (the template's second sheet describes the columns).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..common.errors import CaseError, InputError, Problem
from .case import LoadedCase, _validate
from .sheetcells import Cell, CellError, cell_value
from .sheetcolumns import SCALAR_COLUMNS, _bind, column_letter
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
