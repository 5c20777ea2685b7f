"""QingCloud at filing, end to end through the CLI, against reviewed golden reports.

The golden files are the reports as a reviewer approved them. When a rule or the report
layout changes on purpose, regenerate them with `UPDATE_GOLDEN=1 python -m pytest
tests/test_qingcloud_golden.py` and review the diff like any other change.
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.frontends.cli import main

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
CASE = "cases/qingcloud-filing.yaml"


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(autouse=True)
def at_repository_root(monkeypatch):
    monkeypatch.chdir(REPO)  # the report names the case file as given on the command line


@pytest.mark.parametrize("fmt,suffix", [("text", "txt"), ("json", "json"), ("markdown", "md")])
def test_report_matches_golden(fmt, suffix):
    result = run(CASE, "--format", fmt)
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"qingcloud-filing.{suffix}"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


def test_json_names_status_figures_threshold_and_citation_for_every_rule():
    data = json.loads(run(CASE, "--format", "json").output)
    assert data["verdict"] == "eligible" and data["exit_code"] == 0
    for rule in data["rules"]:
        assert rule["status"] in ("pass", "fail", "not_applicable", "not_in_force", "undetermined")
        if rule["part"] != "eligibility" or rule["citation"] is None or not rule["id"].startswith("listing."):
            continue
        citation = rule["citation"]
        assert citation["instrument"] == "上海证券交易所科创板股票上市规则"
        assert citation["article"] in ("2.1.1", "2.1.2", "2.1.3", "2.1.4")
        assert citation["document"] and citation["edition_date"] == "2019-03-01" and citation["quote"]
        assert rule["version"].endswith("in force 2019-03-01–2020-12-30")
    by_id = {rule["id"]: rule for rule in data["rules"]}
    capital = by_id["listing.2.1.1.2"]["comparisons"][0]
    assert capital["left_value"] == {"exact": "47462175", "base_unit": "元", "text": "4,746.2175万元"}
    assert capital["threshold"]["text"] == "3,000万元"
    assert capital["margin_text"] == "+1,746.2175万元 (≈+58.21%)"
    capital_figure = next(f for f in by_id["listing.2.1.1.2"]["figures"] if f["name"] == "post_issue_share_capital")
    assert capital_figure["formula"] == "post_issue_total_shares * par_value"
    float_rule = by_id["listing.2.1.1.3.float-25"]["comparisons"][0]
    assert Fraction(float_rule["left_value"]["exact"]) == Fraction(12_000_000, 47_462_175)
    assert float_rule["holds"] is True
    assert by_id["listing.2.1.1.4"]["status"] == "pass"
    assert data["standards_holding"] == ["2.1.2(2)", "2.1.2(4)"]
    parts = {part["id"]: part for part in data["parts"]}
    assert parts["eligibility"]["verdict"] == "eligible" and parts["eligibility"]["counts_for_verdict"]
    # the seed does not say whether QingCloud counts as a software enterprise: the patent indicator waits
    assert parts["scitech"]["verdict"] == "undetermined" and not parts["scitech"]["counts_for_verdict"]
    assert by_id["scitech.1.growth"]["status"] == "pass" and by_id["scitech.1.rd"]["status"] == "pass"


def test_text_report_shows_the_sponsors_figures():
    output = run(CASE).output
    assert "4,746.2175万元 ≥ 3,000万元, margin +1,746.2175万元" in output
    assert "≈25.2833% ≥ 25%" in output
    assert "revenue[2019] ≥ 3亿元: 3.76822亿元 ≥ 3亿元" in output
    assert "standards that hold: 2.1.2(2), 2.1.2(4)" in output
