"""Cases → an issuers sheet (.xlsx or .csv): the template, `convert` both ways, workbook bytes.

A case's row holds what its file states, written so that it reads back the same (amounts in each
header's unit, exact; text that a cell would change is refused). A written workbook's bytes are the
same on every run for the same content (fixed timestamps and zip entry dates), and every file is
written atomically.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import zipfile
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable

from ..common.bundled import bundled_dir, expected_place
from ..common.errors import CaseError, InputError, Problem
from .case import _CURRENCIES, Case, Evidence, ForeignParValue, Stage
from .sheetcells import MAX_DIGITS, _number_text, exact_number
from .sheetcolumns import (ATTESTATION_COLUMNS, COLUMNS, PERIOD_COLUMNS, REFERENCE_HEADER, Column, Vocabulary,
                           column_letter, column_reference)
from .sheetrows import SheetRow, _cell_problem, read_sheet
from .units import Dim, Quantity, decimal_text

FIXED_TIME = dt.datetime(2000, 1, 1)  # workbook timestamps: the same bytes on every run

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
