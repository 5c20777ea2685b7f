"""Point 7 of issue 11: numbers a new user writes that must not be read silently.

A bare ratio (3 could be 3% or 300%), superscripts copied from a PDF (6.0² is not 6.02), fractional
share counts, absurdly long numbers; and implausible but legal figures warned about with their place.
"""

from __future__ import annotations

import pytest

from conftest import case_yaml
from engine import load_case_text
from engine.common.errors import CaseError


def _problem(**overrides):
    with pytest.raises(CaseError) as err:
        load_case_text(case_yaml(**overrides), "case.yaml")
    [problem] = err.value.problems
    return problem


@pytest.mark.parametrize("value", [3, "0.25", 0.25])
def test_a_bare_ratio_is_refused(value):
    problem = _problem(sponsor={"affiliates_holding": value})
    assert problem.field == "sponsor.affiliates_holding" and problem.line is not None
    assert "bare ratio" in problem.message and "units.ratio" in problem.message


def test_a_ratio_with_its_unit_or_a_declared_unit_reads():
    assert load_case_text(case_yaml(sponsor={"affiliates_holding": "3%"})).case.sponsor.affiliates_holding.value * 100 == 3
    declared = load_case_text(case_yaml(units={"ratio": "%"}, sponsor={"affiliates_holding": 3})).case
    assert declared.sponsor.affiliates_holding.value * 100 == 3
    # counts (patents, staff) stay plain numbers, even with units.ratio declared
    counted = load_case_text(case_yaml(units={"ratio": "%"}, scitech={"invention_patents": 7})).case
    assert counted.scitech.invention_patents.value == 7


def test_an_unknown_ratio_unit_is_refused():
    problem = _problem(units={"ratio": "成"})
    assert problem.field == "units.ratio" and "%" in problem.message


@pytest.mark.parametrize("text", ["6.0²亿元", "6.0¹亿元", "3₂亿元", "①3亿元", "½亿元"])
def test_superscripts_and_digit_lookalikes_are_refused(text):
    problem = _problem(offering={"expected_market_cap": text})
    assert problem.field == "offering.expected_market_cap" and "not a digit of the amount" in problem.message


def test_full_width_digits_are_still_digits():
    case = load_case_text(case_yaml(offering={"expected_market_cap": "５０亿元"})).case
    assert case.offering.expected_market_cap.value == 50 * 10**8


@pytest.mark.parametrize("field, value", [("new_shares", "0.5股"), ("shares_before_issue", "7500.00005万股")])
def test_fractional_share_counts_are_refused(field, value):
    problem = _problem(offering={field: value})
    assert problem.field == f"offering.{field}" and "must be whole" in problem.message


def test_a_five_thousand_digit_price_is_refused():
    problem = _problem(offering={"issue_price": "1" * 5000 + "元/股"})
    assert problem.field == "offering.issue_price" and "more than 24 digits" in problem.message
    assert len(problem.message) < 300  # the message quotes a shortened number


def test_24_digits_still_read():
    case = load_case_text(case_yaml(offering={"issue_price": "1" * 22 + ".01元/股"})).case
    assert case.offering.issue_price is not None


def test_implausible_figures_are_warned_with_their_place():
    loaded = load_case_text(case_yaml(offering={"shares_before_issue": "0股", "issue_price": "0.009元/股"}), "c.yaml")
    fields = {w.field: w for w in loaded.warnings}
    assert set(fields) == {"offering.shares_before_issue", "offering.issue_price"}
    assert all(w.file == "c.yaml" and w.line for w in loaded.warnings)
    assert not load_case_text(case_yaml(offering={"issue_price": "0.01元/股"})).warnings  # on the line: fine


def test_the_cli_prints_warnings_to_stderr(tmp_path):
    from click.testing import CliRunner

    from engine.frontends.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(case_yaml(offering={"shares_before_issue": "0股"}), encoding="utf-8")
    result = CliRunner().invoke(main, [str(path)])
    assert "warning:" in result.stderr and "shares_before_issue" in result.stderr
    assert "warning:" not in result.stdout
