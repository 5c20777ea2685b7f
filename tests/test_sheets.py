"""Issuers from a spreadsheet and results to one: the same verdicts as the case files, problems at
their cells, lossless conversion both ways, a byte-identical results workbook, the column reference."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from conftest import CASES, REPO
from engine.input.caseload import load_case
from engine.frontends.cli import main
from engine.common.errors import EXIT_BATCH_ERRORS, CaseError
from engine.rules.sheetrules import vocabulary
from engine.input.sheetcells import CellError, exact_number
from engine.input.sheetcolumns import COLUMNS, column_reference, reference_markdown
from engine.input.sheetrows import read_sheet
from engine.output.store import read_rows

YAML_CASES = sorted(CASES.glob("*.yaml"))


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def book(rulebook):
    return vocabulary(rulebook)


def comparable(case) -> dict:
    """A case as data, periods in order; `units` (a parsing aid: values are in base units) left out."""
    data = case.model_dump(exclude={"units"})
    data["financials"].sort(key=lambda p: p["period"])
    return data


@pytest.fixture(scope="module")
def yaml_verdicts(tmp_path_factory) -> dict[str, tuple[str, tuple[str, ...]]]:
    out = tmp_path_factory.mktemp("yaml") / "r2.csv"
    assert invoke("batch", *YAML_CASES, "--out", out, "-j", "1").exit_code == 0
    return {r["case_id"]: (r["verdict"], tuple(r["failing_rules"])) for r in read_rows(out)}


@pytest.mark.parametrize("sheet", ["issuers.xlsx", "issuers.csv"])
def test_bundled_sheet_gives_the_yaml_verdict_for_every_case(sheet, yaml_verdicts, tmp_path: Path):
    out = tmp_path / "r.csv"
    assert invoke("batch", CASES / sheet, "--out", out, "-j", "1").exit_code == 0
    rows = {r["case_id"]: (r["verdict"], tuple(r["failing_rules"])) for r in read_rows(out)}
    assert rows == yaml_verdicts and len(rows) == len(YAML_CASES)


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_convert_round_trips_both_ways(suffix, book, tmp_path: Path):
    originals = {load_case(p).case_id: comparable(load_case(p).case) for p in YAML_CASES}
    sheet = tmp_path / f"issuers.{suffix}"
    assert invoke("convert", CASES, "--to", sheet).exit_code == 0
    from_rows = {r.load(book.attestations).case_id: comparable(r.load(book.attestations).case)
                 for r in read_sheet(sheet)}
    assert from_rows == originals
    assert invoke("convert", sheet, "--to", tmp_path / "back").exit_code == 0
    back = {load_case(p).case_id: comparable(load_case(p).case) for p in sorted((tmp_path / "back").glob("*.yaml"))}
    assert back == originals


@pytest.mark.parametrize("suffix", ["xlsx", "csv"])
def test_bundled_sheets_are_up_to_date(suffix, tmp_path: Path):
    """Regenerate with `check-listing convert cases --to cases/issuers.xlsx` (and .csv) when this fails."""
    fresh = tmp_path / f"issuers.{suffix}"
    invoke("convert", *YAML_CASES, "--to", fresh)
    def cells(path):
        return [(r.header, r.cells) for r in read_sheet(path)]
    assert cells(fresh) == cells(CASES / f"issuers.{suffix}")


def _bad_workbook(path: Path) -> dict[str, str]:
    """The bundled workbook with a unitless money cell, a value in an unknown column and text in a
    number column, each in another row; returns case_id → the cell that is wrong."""
    book = openpyxl.load_workbook(CASES / "issuers.xlsx")
    sheet = book["issuers"]
    header = [c.value for c in sheet[1]]
    cap = header.index("expected_market_cap [万元]") + 1
    new = header.index("new_shares [万股]") + 1
    sheet.cell(1, cap).value = "expected_market_cap"  # no unit in the header: each cell must carry one
    for row in range(2, sheet.max_row + 1):
        value = sheet.cell(row, cap).value
        if value is not None:
            sheet.cell(row, cap).value = f"{value}万元"
    ids = {row: sheet.cell(row, 1).value for row in range(2, sheet.max_row + 1)}
    filing = [row for row in ids if sheet.cell(row, cap).value is not None]
    sheet.cell(filing[0], cap).value = 300000  # unitless money
    extra = sheet.max_column + 1
    sheet.cell(1, extra).value = "revnue_2019 [万元]"
    sheet.cell(filing[1], extra).value = 5
    sheet.cell(filing[2], new).value = "n/a"
    book.save(path)
    letter = openpyxl.utils.get_column_letter
    return {ids[filing[0]]: f"issuers!{letter(cap)}{filing[0]}", ids[filing[1]]: f"issuers!{letter(extra)}{filing[1]}",
            ids[filing[2]]: f"issuers!{letter(new)}{filing[2]}"}


def test_bad_cells_are_error_rows_at_their_cells_and_the_others_evaluate(tmp_path: Path, yaml_verdicts):
    bad = _bad_workbook(tmp_path / "bad.xlsx")
    out = tmp_path / "r.jsonl"
    assert invoke("batch", tmp_path / "bad.xlsx", "--out", out, "-j", "1").exit_code == EXIT_BATCH_ERRORS
    rows = list(read_rows(out))
    errors = [r for r in rows if r["verdict"] == "error"]
    assert len(errors) == 3 and len(rows) == len(YAML_CASES)
    messages = {cell: next(r["error"] for r in errors if cell in r["error"]) for cell in bad.values()}
    unitless, unknown, text = (messages[bad[k]] for k in bad)
    assert "has no unit" in unitless and "expected_market_cap [万元]" in unitless
    assert "unknown column 'revnue_2019'; did you mean 'revenue_2019'?" in unknown
    assert "'n/a' is not an amount" in text and "new_shares [万股]" in text
    good = {r["case_id"]: (r["verdict"], tuple(r["failing_rules"])) for r in rows if r["verdict"] != "error"}
    assert good == {k: v for k, v in yaml_verdicts.items() if k not in bad}


def test_results_workbook_has_three_sheets_and_is_byte_identical_on_rerun(tmp_path: Path):
    first, second = tmp_path / "a" / "r.xlsx", tmp_path / "b" / "r.xlsx"
    for out in (first, second):
        assert invoke("batch", CASES / "issuers.csv", "--out", out, "-j", "1").exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    book = openpyxl.load_workbook(first)
    assert book.sheetnames == ["cases", "rule_results", "summary"]
    cases = book["cases"]
    assert cases.freeze_panes == "A2" and cases.auto_filter.ref == f"A1:N{len(YAML_CASES) + 1}"
    header = [c.value for c in cases[1]]
    verdict = header.index("verdict")
    colours = {row[verdict].value: row[verdict].fill.fgColor.rgb for row in cases.iter_rows(min_row=2)}
    assert colours["eligible"].endswith("C6EFCE") and colours["not_eligible"].endswith("FFC7CE")
    rules = list(book["rule_results"].iter_rows(values_only=True))
    assert rules[0] == ("file", "case_id", "rule_id", "part", "status", "counts_for_verdict", "citation", "margin")
    capital = next(r for r in rules if r[1] == "qingcloud-filing" and r[2] == "listing.2.1.1.2")
    assert capital[4] == "pass" and "2.1.1（二）" in capital[6] and "+1,746.2175万元" in capital[7]
    summary = list(book["summary"].iter_rows(values_only=True))
    stored = list(read_rows(first))
    assert stored == list(read_rows(_csv_of(tmp_path)))
    eligible = sum(r["verdict"] == "eligible" for r in stored)
    assert ("eligible", eligible, f"{eligible / len(stored):.1%}") in summary
    failing = sum("listing.2.1.1.4" in r["failing_rules"] for r in stored)
    assert failing and ("listing.2.1.1.4", failing, f"{failing / len(stored):.1%}") in summary


def test_results_workbook_from_yaml_files_shows_margins_too(tmp_path: Path):
    """The rule rows' margins need explanations, which batch rows otherwise skip: from YAML case
    files as from a sheet, an .xlsx store asks for them."""
    out = tmp_path / "r.xlsx"
    assert invoke("batch", CASES / "qingcloud-filing.yaml", "--out", out, "-j", "1").exit_code == 0
    rules = list(openpyxl.load_workbook(out)["rule_results"].iter_rows(values_only=True))
    capital = next(r for r in rules if r[2] == "listing.2.1.1.2")
    assert "2.1.1（二）" in capital[6] and "+1,746.2175万元" in capital[7]


def _csv_of(tmp_path: Path) -> Path:
    out = tmp_path / "r.csv"
    invoke("batch", CASES / "issuers.csv", "--out", out, "-j", "1")
    return out


def test_template_has_the_example_validations_and_the_column_reference(tmp_path: Path, book):
    assert invoke("template", tmp_path / "t.xlsx").exit_code == 0
    workbook = openpyxl.load_workbook(tmp_path / "t.xlsx")
    sheet = workbook["issuers"]
    assert workbook.sheetnames == ["issuers", "columns"] and sheet.max_row == 2
    assert sheet["A2"].value == "qingcloud-filing"
    lists = {v.formula1 for v in sheet.data_validations.dataValidation}
    assert '"filing,pricing,subscription"' in lists and '"yes,no"' in lists
    assert any("2.1.2(4)" in f for f in lists)
    reference = [tuple("" if v is None else v for v in row) for row in workbook["columns"].iter_rows(min_row=2,
                                                                                                  values_only=True)]
    assert [r[0] for r in reference] == [r[0] for r in column_reference(book)]
    rows = read_sheet(tmp_path / "t.xlsx")
    assert rows[0].load(book.attestations).case == load_case(CASES / "qingcloud-filing.yaml").case.model_copy(
        update={"units": rows[0].load(book.attestations).case.units})
    assert invoke("template", tmp_path / "t.csv").exit_code == 0
    assert len(read_sheet(tmp_path / "t.csv")) == 1


def test_readme_column_reference_is_generated_from_the_model(book):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- columns: begin -->\n(.*?)<!-- columns: end -->", readme, re.S)
    assert block, "README has no generated column reference"
    assert block.group(1) == reference_markdown(book), "regenerate: python scripts/sheet_columns.py"


def test_every_case_field_has_one_column_with_a_unique_name():
    names = [c.name for c in COLUMNS]
    assert len(names) == len(set(names))
    assert {"new_shares", "evaluation_date", "stage", "chosen_standard", "price_range_low", "revenue_{period}",
            "{attestation}_evidence", "sponsor_affiliates_holding"} <= set(names)


@pytest.mark.parametrize("value, expected", [
    (37682.2, "37682.2"), (1200, "1200"), (3.0, "3"), (1e-05, "0.00001"), (123456789012345.0, "123456789012345"),
])
def test_numeric_cells_are_read_as_the_decimal_that_was_typed(value, expected):
    assert f"{Decimal(exact_number(value)):f}" == expected


def test_binary_float_artefacts_are_refused():
    with pytest.raises(CellError, match="more than 15 significant digits"):
        exact_number(0.1 + 0.2)


def _sheet_with(tmp_path: Path, edit) -> Path:
    book = openpyxl.load_workbook(CASES / "issuers.xlsx")
    edit(book["issuers"], [c.value for c in book["issuers"][1]])
    path = tmp_path / "edited.xlsx"
    book.save(path)
    return path


def test_percent_cells_formulas_and_dates(tmp_path: Path, book):
    def edit(sheet, header):
        holding = header.index("sponsor_affiliates_holding [%]") + 1
        sheet.cell(2, holding).value = 0.05
        sheet.cell(2, holding).number_format = "0%"   # shown as 5%: the cell holds the ratio
        sheet.cell(3, holding).value = 5               # a plain 5 in a [%] column is 5%
        cap = header.index("expected_market_cap [万元]") + 1
        sheet.cell(4, cap).value = "=1+1"              # never calculated: no cached value
        date = header.index("evaluation_date") + 1
        sheet.cell(5, date).value = 44000              # a serial number, not formatted as a date
        sheet.cell(5, date).number_format = "General"
    rows = {r.row: r for r in read_sheet(_sheet_with(tmp_path, edit))}
    for row in (2, 3):
        holding = rows[row].load(book.attestations).case.sponsor.affiliates_holding.value
        assert holding == Fraction(5, 100)
    with pytest.raises(CaseError, match=r"issuers!\w+4: expected_market_cap \[万元\]: a formula with no cached value"):
        rows[4].load(book.attestations)
    with pytest.raises(CaseError, match=r"issuers!L5: evaluation_date: a date is expected"):
        rows[5].load(book.attestations)


def test_blank_is_not_stated_and_a_required_blank_is_placed_at_its_cell(tmp_path: Path, book):
    stated = []

    def edit(sheet, header):
        sheet.cell(2, header.index("new_shares [万股]") + 1).value = None
        revenue = header.index("revenue_2019 [万元]") + 1
        stated.append(next(r for r in range(3, sheet.max_row + 1) if sheet.cell(r, revenue).value is not None))
        sheet.cell(stated[0], revenue).value = None
    rows = {r.row: r for r in read_sheet(_sheet_with(tmp_path, edit))}
    with pytest.raises(CaseError, match=r"issuers!\w+2: new_shares \[万股\]: required field is missing"):
        rows[2].load(book.attestations)
    period = next(p for p in rows[stated[0]].load(book.attestations).case.financials if p.period == "2019")
    assert period.revenue is None


def test_unreadable_sheet_is_one_error_row(tmp_path: Path):
    (tmp_path / "x.xlsx").write_bytes(b"not a zip")
    (tmp_path / "g.csv").write_bytes("case_id\n示例".encode("gbk"))
    out = tmp_path / "r.jsonl"
    assert invoke("batch", tmp_path / "x.xlsx", tmp_path / "g.csv", "--out", out).exit_code == EXIT_BATCH_ERRORS
    errors = sorted(r["error"] for r in read_rows(out))
    assert "not UTF-8" in errors[0] and "not an .xlsx workbook" in errors[1]


def test_text_is_never_a_formula_in_written_workbooks(tmp_path: Path):
    from engine.output.store import CaseRow, ResultStore

    with ResultStore(tmp_path / "r.xlsx") as store:
        store.add(CaseRow(file="=HYPERLINK(1)", sha256="x", error="=1+1"))
    row = openpyxl.load_workbook(tmp_path / "r.xlsx")["cases"][2]
    assert (row[0].value, row[0].data_type) == ("=HYPERLINK(1)", "s")
    assert row[11].value == "=1+1" and row[11].data_type == "s"


def test_a_share_count_a_cdr_filing_states_in_fen_may_say_so_in_its_header(tmp_path: Path, book):
    """Placement and subscription figures may be in 份 (as the case file may state them): the header may
    say [万份]; a column that is never in 份 refuses it."""
    from engine.input.sheetcolumns import bind_header

    assert bind_header("sponsor_coinvestment_shares [万份]", ()).unit == "万份"
    assert bind_header("new_shares [万份]", ()) == ("the header of 'new_shares' gives the unit [万份], "
                                                   "which is not a unit of shares")
    assert "which is not a unit of shares or receipts" in bind_header("offline_initial_shares [万元]", ())
    yaml_case = CASES / "ninebot-cdr-pricing.yaml"
    assert invoke("convert", yaml_case, "--to", tmp_path / "one.csv").exit_code == 0
    with (tmp_path / "one.csv").open(encoding="utf-8", newline="") as stream:
        titles, cells = list(csv.reader(stream))
    column = titles.index("sponsor_coinvestment_shares [万股]")
    titles[column], cells[column] = "sponsor_coinvestment_shares [万份]", "281.6366"
    with (tmp_path / "fen.csv").open("w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([titles, cells])
    (sheet_row,) = read_sheet(tmp_path / "fen.csv")
    stated = sheet_row.load(book.attestations).case.placement.sponsor_coinvestment_shares
    assert stated == load_case(yaml_case).case.placement.sponsor_coinvestment_shares
    assert any(line[0] == "sponsor_coinvestment_shares [万股]" and line[2] == "[万股] or [万份]"
               for line in column_reference(book))
