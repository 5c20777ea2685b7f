"""Impact of a revision: the 2024 revision of the 科创属性评价指引 judged on a bundled case."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from engine.frontends.cli import main

REPO = Path(__file__).resolve().parent.parent
CASE = str(REPO / "cases" / "scitech-2024-revision.yaml")


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_case_is_judged_under_the_rules_in_force_on_each_date():
    before = run(CASE, "--require", "scitech")
    after = run(CASE, "--require", "scitech", "--as-of", "2024-04-30")
    assert before.exit_code == 0, before.output
    assert after.exit_code == 1, after.output
    assert "invention_patents ≥ 7项: 6项 ≥ 7项, margin -1项 (≈-14.29%) ✗" in after.output
    assert "证监会公告〔2024〕6号" in after.output and "证监会公告〔2024〕6号" not in before.output


def test_sci_tech_part_is_reported_but_does_not_decide_unless_required():
    result = run(CASE, "--as-of", "2024-04-30")
    assert result.exit_code == 0
    assert "科创属性 Sci-tech attributes: NOT ELIGIBLE" in result.output
    assert "reported only (count it with --require scitech)" in result.output


def test_rules_diff_lists_changed_rules_and_the_flipped_verdict():
    result = run("rules", "diff", "--old", "2024-04-29", "--new", "2024-04-30", "--require", "scitech", CASE)
    assert result.exit_code == 1, result.output
    assert "scitech.1.rd: 证监会公告（2020年3月20日发布；文号未核实）" in result.output
    assert "sum_latest(3, rd_investment) >= 6000万元 → rd_ratio_3y >= 5% or sum_latest(3, rd_investment) >= 8000万元" \
        in result.output
    assert "VERDICT scitech-2024-revision" in result.output and "eligible → not_eligible" in result.output
    assert "scitech.1.patents: pass → fail" in result.output
    # the 上市规则's 2024 edition starts the same day: its rules change source, not condition, and flip nothing
    assert "listing.2.1.1.2: 上证发〔2020〕101号, in force 2020-12-31–2024-04-29 → 上证发〔2024〕52号" in result.output
    assert "listing.2.1.1.2: pass" not in result.output


def test_rules_diff_without_a_flip_exits_zero():
    result = run("rules", "diff", "--old", "2020-12-30", "--new", "2020-12-31",
                 str(REPO / "cases" / "qingcloud-filing.yaml"))
    assert result.exit_code == 0, result.output
    assert "source: 上证发〔2019〕22号（2019年4月修订：上证发〔2019〕53号） → 上证发〔2020〕101号" in result.output
    assert "0 change verdict" in result.output


def test_rules_diff_needs_dates_or_directories():
    result = run("rules", "diff", CASE)
    assert result.exit_code == 2 and "give --old/--new dates" in result.output
