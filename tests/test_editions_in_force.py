"""A filing judged today: the editions in force on its date, each rule's text provenance, and no
silent gap (not_in_force, parts not encoded, the latest fiscal year a filing must show)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from engine.frontends.cli import main
from engine.decide.facts import add_months, months_elapsed, required_latest_year
from engine.rules.ruleloader import bundled_rules_dir

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
QINGCLOUD = REPO / "cases" / "qingcloud-filing.yaml"
FILING_2026 = REPO / "cases" / "filing-2026.yaml"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def report(*args: str) -> tuple[int, dict]:
    result = run(*args, "--format", "json")
    return result.exit_code, json.loads(result.stdout)


def rule(data: dict, rule_id: str) -> dict:
    return next(r for r in data["rules"] if r["id"] == rule_id)


def redated(tmp_path: Path, source: Path, date: str) -> Path:
    """A copy of a bundled case with another `evaluation.date`."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["evaluation"]["date"] = dt.date.fromisoformat(date)
    path = tmp_path / f"{source.stem}-{date}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------
# Editions: the day before and the day of each new edition


@pytest.mark.parametrize("before,on,old_document,new_document", [
    ("2020-12-30", "2020-12-31", "上证发〔2019〕22号", "上证发〔2020〕101号"),
    ("2024-04-29", "2024-04-30", "上证发〔2020〕101号", "上证发〔2024〕52号"),
    ("2026-04-23", "2026-04-24", "上证发〔2024〕52号", "上证发〔2026〕43号"),
])
def test_listing_rules_edition_boundaries(before, on, old_document, new_document):
    _, old = report(QINGCLOUD, "--as-of", before)
    _, new = report(QINGCLOUD, "--as-of", on)
    for rule_id in ("listing.2.1.1.2", "listing.2.1.1.3.float-25", "listing.2.1.2.4", "listing.2.1.4.1"):
        assert rule(old, rule_id)["citation"]["document"].startswith(old_document), rule_id
        assert rule(new, rule_id)["citation"]["document"] == new_document, rule_id
        assert rule(new, rule_id)["version"].startswith(f"{new_document}, in force {on}")
    # the thresholds did not change: the same verdict on both days
    assert old["verdict"] == new["verdict"] == "eligible"


def test_the_2026_edition_rests_on_summaries_and_says_so():
    _, data = report(FILING_2026)
    capital = rule(data, "listing.2.1.1.2")["citation"]
    assert capital["document"] == "上证发〔2026〕43号" and capital["provenance"] == "summary"
    assert "T4" in capital["source"] and "2019 text" in capital["source"]
    assert rule(data, "listing.2.1.1.1")["citation"]["provenance"] == "unverified"


@pytest.mark.parametrize("before,on", [("2023-02-16", "2023-02-17")])
def test_issuance_conditions_change_instrument_on_2023_02_17(before, on):
    _, old = report(QINGCLOUD, "--as-of", before, "--require", "issuance")
    _, new = report(QINGCLOUD, "--as-of", on, "--require", "issuance")
    old_cite = rule(old, "issuance.10.operating-3-years")["citation"]
    new_cite = rule(new, "issuance.10.operating-3-years")["citation"]
    assert old_cite["document"] == "证监会令第174号" and old_cite["instrument"].startswith("科创板")
    assert new_cite["document"] == "证监会令第205号" and new_cite["instrument"] == "首次公开发行股票注册管理办法"
    assert new_cite["provenance"] == "summary" and old_cite["provenance"] == "unverified"
    issuance = [r for r in new["rules"] if r["part"] == "issuance"]
    assert issuance and all(r["status"] == "pass" for r in issuance)


# ---------------------------------------------------------------------------------
# No silent gap


def test_not_in_force_is_its_own_status_never_not_applicable(tmp_path):
    priced = redated(tmp_path, REPO / "cases" / "qingcloud-pricing.yaml", "2026-11-20")
    _, data = report(priced, "--as-of", "2026-11-20")
    strategic = rule(data, "offering.strategic-shares-20")
    assert strategic["status"] == "not_in_force" and strategic["version"] is None
    assert "ended 2023-02-16 — Not encoded from 2023-02-17" in strategic["reason"]
    # in force, but not for this issuer: the 30% rule applies from 1亿股, QingCloud offers 1200万股
    _, old = report(REPO / "cases" / "qingcloud-pricing.yaml")
    assert rule(old, "offering.strategic-shares-30")["status"] == "not_applicable"
    # in force, but not at this stage: the abort conditions at filing
    _, filing = report(QINGCLOUD)
    assert rule(filing, "abort.market-cap")["status"] == "not_applicable"


def test_a_part_with_no_rule_in_force_is_not_encoded_and_undetermined_when_required():
    # the sponsor-independence rule (机构类第1号) starts 2020-07-31
    code, data = report(QINGCLOUD, "--as-of", "2020-07-30")
    sponsor = next(p for p in data["parts"] if p["id"] == "sponsor")
    assert code == 0 and not sponsor["encoded"] and "not encoded for 2020-07-30" in sponsor["summary"]
    code, data = report(QINGCLOUD, "--as-of", "2020-07-30", "--require", "sponsor")
    assert code == 3 and data["verdict"] == "undetermined"
    assert "sponsor (Sponsor independence) is not encoded for 2020-07-30" in data["summary"]
    assert "NOT ENCODED" in run(QINGCLOUD, "--as-of", "2020-07-30").output


def test_a_required_part_with_no_rule_judged_never_passes():
    code, data = report(QINGCLOUD, "--require", "offering")  # offering rules apply at pricing, not at filing
    assert code == 3 and data["verdict"] == "undetermined"
    offering = next(p for p in data["parts"] if p["id"] == "offering")
    assert offering["verdict"] == "undetermined" and "required, but no rule of this part is judged" in offering["summary"]


def test_every_rule_whose_last_version_ends_says_why(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "underwriting-2019" / "strategic-shares.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("    ended: >")
    end = text.index("    versions:", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    result = run("rules", "lint", rules)
    assert result.exit_code == 2
    assert "the last version ends on 2023-02-16: say why in `ended`" in result.output
    assert "offering.strategic-shares-20" in result.output


def test_a_date_after_the_rule_sets_known_date_is_judged_with_a_warning():
    code, data = report(QINGCLOUD, "--as-of", "2099-01-01")
    assert code == 0 and any("known-as-of date 2026-12-01" in w for w in data["warnings"])
    _, today = report(QINGCLOUD, "--as-of", "2026-12-01")
    assert not any("known-as-of" in w for w in today["warnings"])
    assert "WARNING: judged on 9999-12-31" in run(QINGCLOUD, "--as-of", "9999-12-31").output


def test_a_date_before_the_star_market_is_refused():
    result = run(QINGCLOUD, "--as-of", "2019-02-28")
    assert result.exit_code == 2 and "no STAR Market rule is in force on 2019-02-28" in result.output


# ---------------------------------------------------------------------------------
# Which years: 最近一年 follows from the case's date


def test_qingcloud_redated_to_2026_is_undetermined_and_names_the_missing_year(tmp_path):
    path = redated(tmp_path, QINGCLOUD, "2026-11-20")
    code, data = report(path, "--require", "issuance")
    assert code == 3 and data["verdict"] == "undetermined"
    assert "revenue[2025]" in rule(data, "listing.2.1.1.4")["missing"]
    assert rule(data, "listing.2.1.1.4")["citation"] is not None
    assert rule(data, "listing.2.1.2.4")["citation"]["document"] == "上证发〔2026〕43号"
    assert rule(data, "issuance.10.operating-3-years")["citation"]["document"] == "证监会令第205号"
    usable = rule(data, "financials.statements-usable")
    assert usable["status"] == "undetermined" and usable["missing"] == ["fiscal year 2025"]
    assert any("must show fiscal year 2025 or later" in w for w in data["warnings"])
    assert data["standards_holding"] == []  # FY2019 is not the latest year in 2026


@pytest.mark.parametrize("date,latest_year", [("2021-06-30", 2019), ("2021-07-01", 2020)])
def test_the_latest_year_rule_on_each_side_of_its_boundary(tmp_path, date, latest_year):
    """QingCloud states FY2017–2019 and 2020H1. With 9 months of validity, 2020-09-30 statements are
    usable through 2021-06-30; from 2021-07-01 a filing must show FY2020."""
    _, data = report(redated(tmp_path, QINGCLOUD, date))
    missing = rule(data, "listing.2.1.1.4")["missing"]
    assert (f"revenue[{latest_year}]" in missing) == (latest_year == 2020)
    comparisons = rule(data, "listing.2.1.2.4")["comparisons"]
    assert any(f"revenue[{latest_year}]" in c["left"] for c in comparisons)


def test_a_filing_made_in_2026_is_judged_on_fy2025_under_the_2026_rules():
    code, data = report(FILING_2026, "--require", "issuance", "--require", "scitech")
    assert code == 0 and data["verdict"] == "eligible" and not data["warnings"]
    revenue = next(c for c in rule(data, "listing.2.1.2.4")["comparisons"] if c["left"].startswith("revenue"))
    assert revenue["left"] == "revenue[2025]" and Fraction(revenue["left_value"]["exact"]) == 32_000 * 10_000
    current = rule(data, "financials.statements-current")
    assert current["status"] == "pass"
    age = current["comparisons"][0]["left_value"]["exact"]
    assert Fraction(age) == 4 + Fraction(20, 30)  # 2026-06-30 → 2026-10-31 is 4 months, then 20 of November's 30 days
    assert set(data["versions_used"]) >= {"上证发〔2026〕43号, in force 2026-04-24–…",
                                          "证监会令第205号, in force 2023-02-17–…"}


def test_golden_report_of_the_2026_filing(monkeypatch):
    monkeypatch.chdir(REPO)
    result = run("cases/filing-2026.yaml")
    golden = GOLDEN / "filing-2026.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.output, encoding="utf-8")
    assert result.output == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("on,months,year", [
    ("2026-11-20", 9, 2025), ("2026-06-30", 9, 2024), ("2026-07-01", 9, 2025),
    ("2026-03-31", 6, 2024), ("2026-04-01", 6, 2025), ("2020-07-31", 7, 2019), ("2020-08-01", 7, 2019),
])
def test_required_latest_year(on, months, year):
    assert required_latest_year(dt.date.fromisoformat(on), months) == year


def test_months_elapsed_is_exact_and_counts_month_ends():
    d = dt.date
    assert months_elapsed(d(2025, 6, 30), d(2025, 12, 31)) == 6
    assert months_elapsed(d(2025, 6, 30), d(2026, 1, 1)) == 6 + Fraction(1, 31)
    assert months_elapsed(d(2025, 6, 30), d(2025, 12, 30)) == 5 + Fraction(30, 31)
    assert months_elapsed(d(2025, 8, 31), d(2026, 2, 28)) == 6  # month end to month end
    assert months_elapsed(d(2024, 3, 15), d(2024, 9, 15)) == 6
    assert add_months(d(2023, 12, 31), 2) == d(2024, 2, 29)
    assert add_months(d(2024, 1, 31), -3) == d(2023, 10, 31)


# ---------------------------------------------------------------------------------
# Provenance


def test_every_rule_result_carries_its_provenance():
    _, data = report(FILING_2026)
    cited = [r for r in data["rules"] if r["citation"] is not None]
    assert cited and all(r["citation"]["provenance"] in ("fulltext", "quoted", "summary", "unverified")
                         for r in cited)
    assert data["deciding_provenance"] == {"summary": 4, "unverified": 2}
    output = run(FILING_2026).output
    assert "Law texts: 6 of the 6 rules that decided the verdict rest on text not read in full" in output


def test_a_quote_read_in_traditional_characters_is_shown_in_simplified():
    _, data = report(REPO / "cases" / "qingcloud-pricing.yaml", "--as-of", "2024-01-02")
    citation = rule(data, "offering.offline-initial-70")["citation"]
    assert citation["script_as_read"] == "traditional"
    assert "網下初始發行比例" in citation["quote_as_read"] and "网下初始发行比例" in citation["quote"]
    assert "traditional characters; shown converted to simplified by OpenCC" in citation["provenance_note"]


def test_lint_refuses_a_fulltext_quote_not_in_the_reference_texts(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    path = rules / "csrc-institution-guidance-1" / "joint-sponsor.yaml"
    text = path.read_text(encoding="utf-8")
    assert "text: fulltext" in text
    quoted = "持有发行人股份合计超过7%"
    assert quoted in text
    path.write_text(text.replace(quoted, "持有发行人股份合计超过8%", 1), encoding="utf-8")
    result = run("rules", "lint", rules)
    assert result.exit_code == 2 and "quote not found verbatim" in result.output
    assert "sponsor.joint-sponsor-7pct" in result.output


def test_rules_editions_lists_the_current_editions_with_their_dates():
    result = run("rules", "editions")
    assert result.exit_code == 0
    for text in ("上证发〔2024〕52号, 2024-04-30", "上证发〔2026〕43号, 2026-04-24", "证监会令第205号, 2023-02-17",
                 "证监会令第208号, 2023-02-17", "上证发〔2023〕33号, 2023-02-17"):
        assert text in result.output, text
    data = json.loads(run("rules", "editions", "--as-of", "2026-11-20", "--format", "json").output)
    versions = [v for i in data["instruments"] for v in i["versions"]]
    assert versions and all(v["provenance"] in ("fulltext", "quoted", "summary", "unverified") for v in versions)
    assert sum(data["provenance_counts"].values()) == len(versions)
    assert not any(v["rule"] == "offering.strategic-shares-20" for v in versions)  # not in force in 2026
